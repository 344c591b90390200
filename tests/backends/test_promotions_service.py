"""PromotionService and PromotionEvaluator against every database in the matrix.

The session's database is shared: codes are unique per test, and automatic promotions
target a product id of their own so they never apply to another test's lines.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import func, select, update

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import ScopeSet
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.customers.models import CustomerRow
from rcommerce.domain.promotions.engine import PromoContext, PromoLine
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.promotions.models import PromotionRow
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.errors import DomainError
from rcommerce.events import OutboxEvent
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.ids import new_id
from rcommerce.pagination import PageTokens

NOW = datetime(2026, 5, 1, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> PromotionService:
    return PromotionService(db, clock, PageTokens(b"q" * 32), CustomerDirectory(clock))


def code(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}".upper()


def stamp(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


def line(product_id: str, unit_price: int, quantity: int = 1, line_id: str = "") -> PromoLine:
    return PromoLine(line_id or product_id, product_id, "var_x", quantity, unit_price, unit_price * quantity)


async def failure(awaitable: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        await awaitable
    return err.value


def staff() -> Principal:
    return Principal(kind=PrincipalKind.SECRET_KEY, subject="apiKeys/key_test", scopes=ScopeSet.of("admin"))


async def test_crud_codes_upper_case_and_events(service: PromotionService, db: Database) -> None:
    c = code()
    created = await service.create_promotion(
        P.Promotion(
            code=c.lower(), title="Ten off", type=P.PROMOTION_TYPE_PERCENTAGE, percent="10.000",
            currencies=[P.PromotionCurrency(currency_code="USD", max_discount=5000, minimum_subtotal=2000)],
            include=P.PromotionTargets(products=["products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"]),
            usage_limit=100, combinable=True,
        )
    )  # fmt: skip
    assert created.code == c and created.status == P.PROMOTION_STATUS_ACTIVE and created.percent == "10"
    assert created.usage_limit == 100 and not created.HasField("usage_limit_per_customer") and not created.automatic
    assert created.currencies[0].max_discount == 5000 and not created.currencies[0].HasField("amount")
    assert await service.get_promotion(created.name) == created
    assert await service.lookup_promotion(f"  {c.lower()} ") == created

    taken = await failure(
        service.create_promotion(P.Promotion(code=c.lower(), title="x", type=P.PROMOTION_TYPE_FREE_SHIPPING))
    )
    assert taken.reason.name == "COUPON_CODE_EXISTS"

    updated = await service.update_promotion(
        P.Promotion(name=created.name, percent="15", etag="1"), FieldMask(paths=["percent", "usage_limit"])
    )
    assert updated.percent == "15" and not updated.HasField("usage_limit") and updated.etag == "2"
    assert updated.include == created.include
    stale = await failure(service.update_promotion(P.Promotion(name=created.name, title="x", etag="1"), FieldMask()))
    assert stale.reason.name == "ETAG_MISMATCH"

    archived = await service.archive_promotion(created.name)
    assert archived.status == P.PROMOTION_STATUS_ARCHIVED
    await service.delete_promotion(created.name)
    gone = await failure(service.get_promotion(created.name))
    assert gone.reason.name == "PROMOTION_NOT_FOUND"
    async with db.read() as s:
        types = list((await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == created.name))).all())
    # One frozen instant: ids do not order these events, so compare the set.
    assert sorted(types) == ["promotion.archived", "promotion.created", "promotion.deleted", "promotion.updated"]


async def test_bad_input_is_refused_and_changes_nothing(service: PromotionService, db: Database) -> None:
    async with db.read() as s:
        before = await s.scalar(select(func.count()).select_from(PromotionRow))
    cases = [
        (P.Promotion(title="x", type=P.PROMOTION_TYPE_FIXED_AMOUNT), "promotion.currencies"),
        (P.Promotion(title="x", type=P.PROMOTION_TYPE_PERCENTAGE), "promotion.percent"),
        (P.Promotion(title="x", type=P.PROMOTION_TYPE_PERCENTAGE, percent="120"), "promotion.percent"),
        (P.Promotion(title="x", type=P.PROMOTION_TYPE_BUY_X_GET_Y), "promotion.buy_quantity"),
        (P.Promotion(title="", type=P.PROMOTION_TYPE_FREE_SHIPPING), "promotion.title"),
        (P.Promotion(title="x"), "promotion.type"),
        (P.Promotion(title="x", code="NO SPACES", type=P.PROMOTION_TYPE_FREE_SHIPPING), "promotion.code"),
        (P.Promotion(title="x", type=P.PROMOTION_TYPE_FREE_SHIPPING, usage_limit=0), "promotion.usage_limit"),
        (
            P.Promotion(
                title="x", type=P.PROMOTION_TYPE_FREE_SHIPPING, currencies=[P.PromotionCurrency(currency_code="usd")]
            ),
            "promotion.currencies[0].currency_code",
        ),
        (
            P.Promotion(
                title="x", type=P.PROMOTION_TYPE_FREE_SHIPPING, include=P.PromotionTargets(products=["prod_1"])
            ),
            "promotion.include.products[0]",
        ),
        (
            P.Promotion(
                title="x",
                type=P.PROMOTION_TYPE_FREE_SHIPPING,
                start_time=stamp(NOW),
                end_time=stamp(NOW - timedelta(days=1)),
            ),
            "promotion.end_time",
        ),
    ]
    for promotion, field in cases:
        error = await failure(service.create_promotion(promotion))
        assert error.reason.name == "VALIDATION_FAILED", field
        assert field in [v.field for v in error.violations]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PromotionRow)) == before


async def test_validate_code_against_the_database(service: PromotionService, db: Database, clock: FrozenClock) -> None:
    evaluator = PromotionEvaluator(clock)
    c = code()
    await service.create_promotion(
        P.Promotion(
            code=c, title="Summer", type=P.PROMOTION_TYPE_FIXED_AMOUNT, end_time=stamp(NOW + timedelta(days=1)),
            currencies=[P.PromotionCurrency(currency_code="USD", amount=2500, minimum_subtotal=5000)],
        )
    )  # fmt: skip
    ctx = PromoContext("USD", (line("prod_a", 3500),), ())
    async with db.read() as s:
        missing = await failure(evaluator.validate_code(s, "NOPE" + c, ctx))
        below = await failure(evaluator.validate_code(s, c.lower(), ctx))
        await evaluator.validate_code(s, c, PromoContext("USD", (line("prod_a", 5000),), ()))
        twice = await failure(evaluator.validate_code(s, c, PromoContext("USD", (line("prod_a", 5000),), (c,))))
        empty = await failure(evaluator.validate_code(s, "  ", ctx))
    assert missing.reason.name == "COUPON_NOT_FOUND" and missing.reason.http_status == 404
    assert below.reason.name == "COUPON_MINIMUM_NOT_MET" and below.metadata["minimumRequired"] == "5000"
    assert below.metadata["currentAmount"] == "3500"
    assert twice.reason.name == "COUPON_ALREADY_APPLIED" and twice.reason.http_status == 409
    assert empty.reason.name == "VALIDATION_FAILED"
    clock.advance(days=2)
    async with db.read() as s:
        expired = await failure(evaluator.validate_code(s, c, PromoContext("USD", (line("prod_a", 5000),), ())))
    assert expired.reason.name == "COUPON_EXPIRED" and expired.reason.http_status == 422


async def test_evaluate_codes_and_automatic_promotions(
    service: PromotionService, db: Database, clock: FrozenClock
) -> None:
    evaluator = PromotionEvaluator(clock)
    product = new_id("prod", NOW)
    ten, solo, gone = code(), code(), code()
    await service.create_promotion(
        P.Promotion(code=ten, title="Ten", type=P.PROMOTION_TYPE_PERCENTAGE, percent="10", combinable=True)
    )
    await service.create_promotion(P.Promotion(code=solo, title="Solo", type=P.PROMOTION_TYPE_PERCENTAGE, percent="5"))
    free = await service.create_promotion(
        P.Promotion(
            title="Free shipping over 100", type=P.PROMOTION_TYPE_FREE_SHIPPING, combinable=True,
            currencies=[P.PromotionCurrency(currency_code="USD", minimum_subtotal=10000)],
            include=P.PromotionTargets(products=[f"products/{product}"]),
        )
    )  # fmt: skip
    assert free.automatic and free.code == ""
    lines = (line(product, 6000, 1, "l1"), line(product, 3000, 2, "l2"))
    async with db.read() as s:
        result = await evaluator.evaluate(s, PromoContext("USD", lines, (ten, solo, gone)))
    assert dict(result.line_discounts) == {"l1": 600, "l2": 600}
    assert [(a.code, a.amount, a.free_shipping) for a in result.applied] == [(ten, 1200, False), ("", 0, True)]
    assert result.free_shipping
    assert set(result.rejected) == {(gone, "COUPON_NOT_FOUND"), (solo, "COUPON_CANNOT_COMBINE")}
    async with db.read() as s:
        small = await evaluator.evaluate(s, PromoContext("USD", (line(product, 9999),), ()))
        other = await evaluator.evaluate(s, PromoContext("USD", (line("prod_other", 20000),), ()))
    assert not small.free_shipping and small.applied == ()  # below the minimum
    assert not other.free_shipping  # not this promotion's product


async def test_record_usage_counts_once_per_order_and_enforces_limits(
    service: PromotionService, db: Database, clock: FrozenClock
) -> None:
    evaluator = PromotionEvaluator(clock)
    c = code()
    promo = await service.create_promotion(
        P.Promotion(
            code=c,
            title="Twice",
            type=P.PROMOTION_TYPE_PERCENTAGE,
            percent="10",
            usage_limit=3,
            usage_limit_per_customer=2,
        )
    )
    for order in ("ord_1", "ord_1", "ord_2"):
        async with db.transaction() as s:
            await evaluator.record_usage(
                s,
                promotion_ids=[promo.id],
                customer_id="cus_a",
                order_id=order,
                amounts={promo.id: 500},
                currency="USD",
            )
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await evaluator.record_usage(
                s, promotion_ids=[promo.id], customer_id="cus_a", order_id="ord_3", amounts={}, currency="USD"
            )
    assert err.value.reason.name == "COUPON_CUSTOMER_LIMIT"
    ctx = PromoContext("USD", (line("prod_a", 1000),), (), customer_id="cus_a")
    async with db.read() as s:
        assert (await failure(evaluator.validate_code(s, c, ctx))).reason.name == "COUPON_CUSTOMER_LIMIT"
        await evaluator.validate_code(s, c, PromoContext("USD", (line("prod_a", 1000),), (), customer_id="cus_b"))
    clock.advance(days=1)
    async with db.transaction() as s:
        await evaluator.record_usage(
            s, promotion_ids=[promo.id], customer_id="cus_b", order_id="ord_4", amounts={promo.id: 700}, currency="USD"
        )
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await evaluator.record_usage(
                s, promotion_ids=[promo.id], customer_id="cus_c", order_id="ord_5", amounts={}, currency="USD"
            )
    assert err.value.reason.name == "COUPON_USAGE_LIMIT"

    usage = await service.get_usage(promo.name)
    assert (usage.usage_count, usage.usage_limit, usage.remaining_uses, usage.customers_count) == (3, 3, 0, 2)
    assert [(m.currency_code, m.amount) for m in usage.total_discount] == [("USD", 1700)]
    assert [(d.date, d.usage_count) for d in usage.days] == [("2026-05-01", 2), ("2026-05-02", 1)]
    async with db.read() as s:
        used_events = await s.scalar(
            select(func.count()).where(OutboxEvent.subject == promo.name, OutboxEvent.type == "promotion.used")
        )
    assert used_events == 3  # refused and repeated uses record nothing
    used = await failure(service.delete_promotion(promo.name))
    assert used.reason.name == "COUPON_HAS_USAGE" and used.metadata["usageCount"] == "3"


async def test_validate_coupon_preview_uses_the_customer_profile(
    service: PromotionService, db: Database, clock: FrozenClock
) -> None:
    c = code()
    await service.create_promotion(
        P.Promotion(code=c, title="Welcome", type=P.PROMOTION_TYPE_PERCENTAGE, percent="20", new_customers_only=True)
    )
    async with db.transaction() as s:
        profile = await CustomerDirectory(clock).find_or_create_guest(s, f"{uuid.uuid4().hex}@example.com")
    request = P.ValidateCouponRequest(
        code=c.lower(), currency_code="USD", customer=f"customers/{profile.id}",
        lines=[P.CouponLine(product="products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", quantity=3, unit_price=5000)],
    )  # fmt: skip
    ok = await service.validate_coupon(request, staff())
    assert ok.valid and ok.code == c and ok.title == "Welcome"
    assert (ok.original_amount.amount, ok.discount_amount.amount, ok.final_amount.amount) == (15000, 3000, 12000)
    assert [(d.line_id, d.amount) for d in ok.line_discounts] == [("0", 3000)]
    async with db.transaction() as s:
        await s.execute(update(CustomerRow).where(CustomerRow.id == profile.id).values(orders_count=1))
    refused = await service.validate_coupon(request, staff())
    assert (refused.valid, refused.reason) == (False, "COUPON_NEW_CUSTOMERS_ONLY")
    bad = await failure(service.validate_coupon(P.ValidateCouponRequest(code=c, currency_code="usd"), staff()))
    assert bad.reason.name == "VALIDATION_FAILED" and [v.field for v in bad.violations] == ["currency_code"]


async def test_list_filters_and_pages(service: PromotionService, clock: FrozenClock) -> None:
    tag = code("L")
    for i in range(3):
        clock.advance(seconds=1)
        await service.create_promotion(
            P.Promotion(
                code=f"{tag}{i}", title=f"L{i}", type=P.PROMOTION_TYPE_FREE_SHIPPING, status=P.PROMOTION_STATUS_DRAFT
            )
        )
    first = await service.list_promotions(P.ListPromotionsRequest(code_contains=tag.lower(), page_size=2))
    assert [p.code for p in first.promotions] == [f"{tag}2", f"{tag}1"] and first.total_size == 3
    second = await service.list_promotions(
        P.ListPromotionsRequest(code_contains=tag.lower(), page_size=2, page_token=first.next_page_token)
    )
    assert [p.code for p in second.promotions] == [f"{tag}0"] and second.next_page_token == ""
    active = await service.list_promotions(P.ListPromotionsRequest(code_contains=tag, status=P.PROMOTION_STATUS_ACTIVE))
    assert active.total_size == 0
    coupons = await service.list_promotions(P.ListPromotionsRequest(code_contains=tag, automatic=False))
    assert coupons.total_size == 3
