"""OrderService against every database: reads (id, number, customer scoping), listing
with filters, ordering, pages and total_size, updates, the status machine, cancellation
(stock released, authorizations voided, captures refunded), notes, fraud (Ex6 through
placement, provider hook), and draft orders through the pricing pipeline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import parse_scopes
from rcommerce.db import Database
from rcommerce.domain.inventory.models import ReservationRow
from rcommerce.domain.orders.drafts import DraftOrderService
from rcommerce.domain.orders.fraud import FraudSettings
from rcommerce.domain.orders.models import OrderNoteRow, OrderStatusChangeRow
from rcommerce.domain.orders.placement import OrderPlacement
from rcommerce.domain.orders.service import OrderService
from rcommerce.domain.orders.states import OrderStatus
from rcommerce.domain.orders.wiring import build_orders
from rcommerce.domain.payments.service import PaymentService
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1 import promotions_pb2 as PR
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.pagination import PageTokens
from rcommerce.plugins.providers import FraudAssessment, FraudCheckRequest, FraudDecision, GatewayError
from tests.backends._carts_store import customer, product, tag
from tests.backends._orders_world import NY, STAFF, OrdersWorld, make_world

NYC_10001 = Address(address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US")
NYC_10002 = Address(address1="2 Main St", city="New York", province="NY", postal_code="10002", country_code="US")
TORONTO = Address(address1="1 King St", city="Toronto", province="ON", postal_code="M5V 2T6", country_code="CA")


def as_customer(customer_id: str) -> Principal:
    return Principal(PrincipalKind.CUSTOMER, f"customers/{customer_id}", parse_scopes(["orders:read"]))


@dataclass
class World:
    base: OrdersWorld
    orders: OrderService
    drafts: DraftOrderService
    payments: PaymentService

    async def pay(self, amount: int, *, capture: str = "automatic", card: str = "4242424242424242") -> str:
        payment = await self.payments.create_payment(
            P.CreatePaymentRequest(
                target="carts/cart_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", gateway="test", method_type="card", amount=amount,
                currency_code="USD", capture_method=capture, method_data={"number": card},
                idempotency_key=uuid.uuid4().hex,
            )
        )  # fmt: skip
        return payment.name.removeprefix("payments/")

    async def payment(self, payment_id: str) -> P.Payment:
        return await self.payments.get_payment(f"payments/{payment_id}")


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    base = await make_world(db)
    tokens = PageTokens(b"orders-test")
    payments = PaymentService(db, base.clock, base.providers.payment_gateways, tokens)
    services = build_orders(db, base.clock, base.settings, base.providers, tokens, payments)
    yield World(base, services.service, services.drafts, payments)


async def _error(awaitable: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value


# -- reads -------------------------------------------------------------------------------------
async def test_get_by_id_and_by_number_and_customer_scoping(world: World) -> None:
    owner = await customer(world.base.db, world.base.clock.now())
    other = await customer(world.base.db, world.base.clock.now())
    placed = await world.base.place_simple(customer_id=owner, total=2500)
    by_id = await world.orders.get_order(STAFF, placed.name)
    by_number = await world.orders.get_order(STAFF, f"orders/{placed.number}")
    assert by_id == by_number and by_id.number == placed.number and by_id.totals.total == 2500
    assert by_id.status == O.ORDER_STATUS_PENDING and by_id.payment_status == O.ORDER_PAYMENT_STATUS_PENDING
    assert by_id.fulfillment_status == O.ORDER_FULFILLMENT_STATUS_UNFULFILLED and by_id.source == "admin"
    mine = await world.orders.get_order(as_customer(owner), placed.name)
    assert mine.id == placed.id and mine.risk_recommendation == ""
    for name in (placed.name, f"orders/{placed.number}"):
        error = await _error(world.orders.get_order(as_customer(other), name))
        assert error.reason.name == "ORDER_NOT_FOUND"
    assert (await _error(world.orders.get_order(STAFF, "orders/999999999"))).reason.name == "ORDER_NOT_FOUND"
    assert (await _error(world.orders.get_order(STAFF, "orders/abc"))).reason.name == "VALIDATION_FAILED"


async def test_list_filters_ordering_pages_and_total_size(world: World) -> None:
    buyer = await customer(world.base.db, world.base.clock.now())
    totals = [1200, 500, 3300, 800, 2000]
    placed = [await world.base.place_simple(customer_id=buyer, total=t) for t in totals]
    req = O.ListOrdersRequest(customer=f"customers/{buyer}", order_by="total desc", page_size=2)
    first = await world.orders.list_orders(STAFF, req)
    assert [o.totals.total for o in first.orders] == [3300, 2000] and first.total_size == 5 and first.next_page_token
    req.page_token = first.next_page_token
    second = await world.orders.list_orders(STAFF, req)
    assert [o.totals.total for o in second.orders] == [1200, 800]
    req.page_token = second.next_page_token
    third = await world.orders.list_orders(STAFF, req)
    assert [o.totals.total for o in third.orders] == [500] and not third.next_page_token
    ranged = await world.orders.list_orders(
        STAFF, O.ListOrdersRequest(customer=f"customers/{buyer}", min_total=800, max_total=2000, order_by="number")
    )
    assert [o.totals.total for o in ranged.orders] == [1200, 800, 2000] and ranged.total_size == 3
    # Text search also matches e-mails, SKUs and titles containing the digits: scope it to this buyer.
    by_number = await world.orders.list_orders(
        STAFF, O.ListOrdersRequest(customer=f"customers/{buyer}", query=placed[2].number)
    )
    assert [o.id for o in by_number.orders] == [placed[2].id]
    await world.orders.hold(STAFF, placed[0].name, "")
    held = await world.orders.list_orders(
        STAFF, O.ListOrdersRequest(customer=f"customers/{buyer}", status=[O.ORDER_STATUS_ON_HOLD])
    )
    assert [o.id for o in held.orders] == [placed[0].id]
    own = await world.orders.list_orders(as_customer(buyer), O.ListOrdersRequest(customer="customers/cus_x"))
    assert own.total_size == 5  # a customer's filter is always their own id
    after = Timestamp()
    after.FromDatetime(world.base.clock.now())
    assert (
        await world.orders.list_orders(
            STAFF, O.ListOrdersRequest(customer=f"customers/{buyer}", create_time_before=after)
        )
    ).total_size == 0
    for bad in (O.ListOrdersRequest(order_by="price desc"), O.ListOrdersRequest(min_total=5, max_total=1)):
        assert (await _error(world.orders.list_orders(STAFF, bad))).reason.name == "VALIDATION_FAILED"
    wrong_token = O.ListOrdersRequest(customer=f"customers/{buyer}", page_token=first.next_page_token)
    assert (await _error(world.orders.list_orders(STAFF, wrong_token))).reason.name == "INVALID_PAGE_TOKEN"


# -- updates -------------------------------------------------------------------------------------
async def test_update_tags_metadata_and_editable_only_fields(world: World) -> None:
    placed = await world.base.place_simple(total=1000)
    updated = await world.orders.update_order(
        STAFF, O.Order(name=placed.name, tags=["vip", "gift", "vip"], metadata={"source": "phone"}), FieldMask()
    )
    assert list(updated.tags) == ["vip", "gift"] and dict(updated.metadata) == {"source": "phone"}
    tagged = await world.orders.list_orders(STAFF, O.ListOrdersRequest(tag="gift", query=placed.number))
    assert [o.id for o in tagged.orders] == [placed.id]
    updated = await world.orders.update_order(
        STAFF, O.Order(name=placed.name, email="new@example.com", shipping_address=NY), FieldMask()
    )
    assert updated.email == "new@example.com" and updated.shipping_address.postal_code == "10001"
    # Ship it: email and addresses are frozen, tags still change.
    for target in (OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.SHIPPED):
        async with world.base.db.transaction() as s:
            row = await world.orders.repository.load(s, placed.id, lock=True)
            await world.orders.repository.transition(s, row, target, actor="test", reason="test")
    before = await world.orders.get_order(STAFF, placed.name)
    error = await _error(
        world.orders.update_order(STAFF, O.Order(name=placed.name, email="late@example.com", tags=["x"]), FieldMask())
    )
    assert error.reason.name == "ORDER_NOT_EDITABLE" and error.reason.http_status == 422
    assert (
        error.metadata["currentStatus"] == "shipped"
        and error.metadata["editableStatuses"] == "confirmed,on_hold,pending"
    )
    assert await world.orders.get_order(STAFF, placed.name) == before
    updated = await world.orders.update_order(
        STAFF, O.Order(name=placed.name, tags=["late"]), FieldMask(paths=["tags"])
    )
    assert list(updated.tags) == ["late"]
    for bad, mask in (
        (O.Order(name=placed.name, email="nope"), FieldMask(paths=["email"])),
        (O.Order(name=placed.name), FieldMask(paths=["total"])),
        (O.Order(name=placed.name, tags=["t" * 101]), FieldMask()),
    ):
        assert (await _error(world.orders.update_order(STAFF, bad, mask))).reason.name in (
            "VALIDATION_FAILED", "INVALID_FIELD_MASK",
        )  # fmt: skip


# -- status machine ------------------------------------------------------------------------------
async def test_transitions_and_invalid_transition_metadata(world: World) -> None:
    placed = await world.base.place_simple(total=1000)
    error = await _error(world.orders.complete(STAFF, placed.name))
    assert error.reason.name == "INVALID_STATUS_TRANSITION" and error.reason.http_status == 422
    assert (
        error.metadata["currentStatus"] == "pending"
        and error.metadata["allowedStatuses"] == "cancelled,confirmed,on_hold"
    )
    order = await world.orders.hold(STAFF, placed.name, "address check")
    assert order.status == O.ORDER_STATUS_ON_HOLD and order.hold_reason == "address check"
    order = await world.orders.approve(STAFF, placed.name)  # nothing paid yet: back to pending
    assert order.status == O.ORDER_STATUS_PENDING and order.hold_reason == ""
    order = await world.orders.confirm(STAFF, placed.name)
    assert order.status == O.ORDER_STATUS_CONFIRMED and order.HasField("confirm_time")
    order = await world.orders.process(STAFF, placed.name)
    assert order.status == O.ORDER_STATUS_PROCESSING
    error = await _error(world.orders.approve(STAFF, placed.name))
    assert error.reason.name == "INVALID_STATUS_TRANSITION"
    events = await world.base.events(placed.id)
    assert events == ["order.created", "order.on_hold", "order.released", "order.confirmed", "order.processing_started"]
    async with world.base.db.read() as s:
        history = (
            await s.execute(
                select(OrderStatusChangeRow.from_status, OrderStatusChangeRow.to_status, OrderStatusChangeRow.actor)
                .where(OrderStatusChangeRow.order_id == placed.id)
                .order_by(OrderStatusChangeRow.id)
            )
        ).all()
    assert sorted(tuple(h) for h in history) == sorted([
        ("pending", "on_hold", STAFF.subject), ("on_hold", "pending", STAFF.subject),
        ("pending", "confirmed", STAFF.subject), ("confirmed", "processing", STAFF.subject),
    ])  # fmt: skip


# -- cancellation ----------------------------------------------------------------------------------
async def test_cancel_releases_stock_and_voids_authorization(world: World) -> None:
    variant = await world.base.variant(product(usd=2000, managed=True, stock=5))
    variant_id = variant.split("/")[-1]
    payment = await world.pay(4000, capture="manual")
    placed = await world.base.place_simple(total=4000, variant_id=variant_id, quantity=2, payment_ids=[payment])
    order = await world.orders.get_order(STAFF, placed.name)
    assert order.status == O.ORDER_STATUS_CONFIRMED and order.payment_status == O.ORDER_PAYMENT_STATUS_AUTHORIZED
    assert list(order.payments) == [f"payments/{payment}"]
    cancelled = await world.orders.cancel(
        STAFF, O.CancelOrderRequest(name=placed.name, reason="inventory", note="out of blue", notify_customer=True)
    )
    assert cancelled.status == O.ORDER_STATUS_CANCELLED and cancelled.cancel_reason == "inventory"
    assert cancelled.cancelled_by == STAFF.subject and cancelled.cancel_note == "out of blue"
    assert cancelled.payment_status == O.ORDER_PAYMENT_STATUS_VOIDED
    assert (await world.payment(payment)).status == P.PAYMENT_STATUS_CANCELLED
    async with world.base.db.read() as s:
        reservations = (await s.scalars(select(ReservationRow).where(ReservationRow.reference == placed.name))).all()
        assert [(r.status, r.reason) for r in reservations] == [("released", "order_cancelled")]
        notes = (await s.scalars(select(OrderNoteRow).where(OrderNoteRow.order_id == placed.id))).all()
        assert sorted(n.customer_visible for n in notes) == [False, True] and all(n.system for n in notes)
    assert "order.cancelled" in await world.base.events(placed.id)
    again = await _error(world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name)))
    assert again.reason.name == "ORDER_ALREADY_CANCELLED" and again.reason.http_status == 409
    bad = await _error(world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name, reason="bored")))
    assert bad.reason.name == "VALIDATION_FAILED"


async def test_placement_with_an_unknown_payment_places_nothing(world: World) -> None:
    payment = await world.pay(3000)
    missing = "pay_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
    error = await _error(world.base.place_simple(total=3000, payment_ids=[payment, missing]))
    assert error.reason.name == "PAYMENT_NOT_FOUND" and error.metadata["payment"] == f"payments/{missing}"
    assert (await world.payment(payment)).target == "carts/cart_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"  # rolled back
    placed = await world.base.place_simple(total=3000, payment_ids=[payment, payment])
    assert (await world.payment(payment)).target == placed.name
    order = await world.orders.get_order(STAFF, placed.name)
    assert list(order.payments) == [f"payments/{payment}"] and order.payment_status == O.ORDER_PAYMENT_STATUS_PAID


async def test_cancel_refunds_a_captured_payment_and_shipped_orders_refuse(world: World) -> None:
    payment = await world.pay(3000)
    placed = await world.base.place_simple(total=3000, payment_ids=[payment])
    order = await world.orders.get_order(STAFF, placed.name)
    assert order.status == O.ORDER_STATUS_CONFIRMED and order.payment_status == O.ORDER_PAYMENT_STATUS_PAID
    assert "order.paid" in await world.base.events(placed.id)
    cancelled = await world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name, reason="fraudulent"))
    assert cancelled.payment_status == O.ORDER_PAYMENT_STATUS_REFUNDED and cancelled.status == O.ORDER_STATUS_CANCELLED
    paid = await world.payment(payment)
    assert paid.status == P.PAYMENT_STATUS_REFUNDED and paid.amount_refunded == 3000
    shipped = await world.base.place_simple(total=1000)
    for target in (OrderStatus.CONFIRMED, OrderStatus.SHIPPED):
        async with world.base.db.transaction() as s:
            row = await world.orders.repository.load(s, shipped.id, lock=True)
            await world.orders.repository.transition(s, row, target, actor="test", reason="test")
    error = await _error(world.orders.cancel(STAFF, O.CancelOrderRequest(name=shipped.name)))
    assert (
        error.reason.name == "INVALID_STATUS_TRANSITION" and error.metadata["allowedStatuses"] == "completed,refunded"
    )
    assert (await world.orders.get_order(STAFF, shipped.name)).status == O.ORDER_STATUS_SHIPPED


# -- notes -----------------------------------------------------------------------------------------
async def test_notes_internal_and_customer_visible(world: World) -> None:
    owner = await customer(world.base.db, world.base.clock.now())
    placed = await world.base.place_simple(customer_id=owner)
    internal = await world.orders.add_note(STAFF, placed.name, O.OrderNote(body="Called the bank"))
    visible = await world.orders.add_note(
        STAFF, placed.name, O.OrderNote(body="Your parcel leaves tomorrow", customer_visible=True, author_name="Ann")
    )
    assert internal.author == STAFF.subject and internal.author_name == STAFF.subject and not internal.customer_visible
    assert visible.author_name == "Ann"
    staff_view = await world.orders.list_notes(STAFF, O.ListOrderNotesRequest(parent=placed.name))
    assert {n.name for n in staff_view.notes} == {internal.name, visible.name}
    mine = await world.orders.list_notes(as_customer(owner), O.ListOrderNotesRequest(parent=placed.name))
    assert [n.name for n in mine.notes] == [visible.name]
    await world.orders.delete_note(STAFF, internal.name)
    again = await _error(world.orders.delete_note(STAFF, internal.name))
    assert again.reason.name == "ORDER_NOTE_NOT_FOUND"
    assert (
        await _error(world.orders.add_note(STAFF, placed.name, O.OrderNote(body=" ")))
    ).reason.name == "VALIDATION_FAILED"
    await world.orders.hold(STAFF, placed.name, "")
    await world.orders.approve(STAFF, placed.name)
    (system,) = [
        n for n in (await world.orders.list_notes(STAFF, O.ListOrderNotesRequest(parent=placed.name))).notes if n.system
    ]
    assert (await _error(world.orders.delete_note(STAFF, system.name))).reason.name == "SYSTEM_NOTE_READ_ONLY"
    assert "order.note_created" in await world.base.events(placed.id)


# -- fraud (Ex6) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("total", "billing", "shipping", "score", "recommendation", "status", "hold"),
    [
        (99999, NYC_10001, NYC_10001, 0, "approve", O.ORDER_STATUS_PENDING, ""),
        (100000, NYC_10001, NYC_10001, 30, "monitor", O.ORDER_STATUS_PENDING, ""),
        (100000, NYC_10001, NYC_10002, 50, "review", O.ORDER_STATUS_ON_HOLD, "fraud_review"),
        (120000, NYC_10001, TORONTO, 90, "block", O.ORDER_STATUS_ON_HOLD, "payment_blocked_by_fraud"),
    ],
)
async def test_ex6_fraud_rules_at_placement(
    world: World, total: int, billing: Address, shipping: Address, score: int, recommendation: str, status: int,
    hold: str,
) -> None:  # fmt: skip
    placed = await world.base.place_simple(total=total, billing=billing, shipping=shipping)
    order = await world.orders.get_order(STAFF, placed.name)
    risk = await world.orders.get_risk(STAFF, f"{placed.name}/risk")
    assert (risk.score, risk.recommendation, order.status, order.hold_reason) == (score, recommendation, status, hold)
    assert not risk.HasField("provider_score")
    events = await world.base.events(placed.id)
    if status == O.ORDER_STATUS_ON_HOLD:
        assert events == ["order.created", "order.on_hold", "order.fraud_detected"]
        approved = await world.orders.approve(STAFF, placed.name)
        assert approved.status == O.ORDER_STATUS_PENDING
    else:
        assert events == ["order.created"]


class _Provider:
    code, display_name = "acme", "Acme risk"

    def __init__(self, score: int, decision: FraudDecision = FraudDecision.ALLOW, fail: bool = False) -> None:
        self.score, self.decision, self.fail = score, decision, fail
        self.seen: list[FraudCheckRequest] = []

    async def assess(self, order: FraudCheckRequest) -> FraudAssessment:
        self.seen.append(order)
        if self.fail:
            raise RuntimeError("provider down")
        return FraudAssessment(self.decision, self.score, ("velocity",))


async def _with_provider(world: World, provider: _Provider) -> OrdersWorld:
    base = world.base
    p = base.placement
    base.placement = OrderPlacement(
        p.repository, p.customers, p.stock, p.promotions, fraud=FraudSettings(), fraud_providers={"acme": provider}
    )
    return base


async def test_ex6_rules_30_and_provider_80_average_to_review(world: World) -> None:
    provider = _Provider(80)
    base = await _with_provider(world, provider)
    placed = await base.place_simple(total=100000, billing=NYC_10001, shipping=NYC_10001)
    risk = await world.orders.get_risk(STAFF, f"{placed.name}/risk")
    assert (risk.score, risk.provider_score, risk.recommendation) == (55, 80, "review")
    assert "acme:velocity" in risk.reasons and "high_value_order" in risk.reasons
    assert provider.seen[0].order == placed.name and provider.seen[0].amount == 100000
    assert (await world.orders.get_order(STAFF, placed.name)).status == O.ORDER_STATUS_ON_HOLD


async def test_provider_deny_blocks_and_a_failing_provider_sends_to_review(world: World) -> None:
    base = await _with_provider(world, _Provider(10, FraudDecision.DENY))
    placed = await base.place_simple(total=1000)
    order = await world.orders.get_order(STAFF, placed.name)
    assert (order.risk_recommendation, order.hold_reason) == ("block", "payment_blocked_by_fraud")
    base = await _with_provider(world, _Provider(0, fail=True))
    placed = await base.place_simple(total=1000)
    order = await world.orders.get_order(STAFF, placed.name)
    assert (order.risk_recommendation, order.hold_reason) == ("review", "fraud_review")


# -- drafts ----------------------------------------------------------------------------------------
async def test_draft_order_priced_by_the_pipeline_and_completed(world: World) -> None:
    variant = await world.base.variant(product(usd=4999, managed=True, stock=10))
    code = await world.base.promotion(
        type=PR.PROMOTION_TYPE_FIXED_AMOUNT, currencies=[PR.PromotionCurrency(currency_code="USD", amount=1000)]
    )
    email = f"draft-{tag()}@example.com"
    draft = await world.drafts.create(
        O.DraftOrder(
            region=f"regions/{world.base.store.us}", email=email, shipping_address=NY,
            lines=[O.DraftOrderLine(variant=variant, quantity=2)], coupon_codes=[code.lower()],
            shipping_title="UPS 2-day", shipping_amount=2499, tags=["phone"],
        )
    )  # fmt: skip
    t = draft.totals
    assert (t.subtotal, t.discount_total, t.item_tax, t.shipping_tax, t.tax_total, t.total) == (
        9998, 1000, 787, 219, 1006, 12503,
    )  # fmt: skip
    assert draft.status == "open" and list(draft.coupon_codes) == [code]
    draft = await world.drafts.update(
        O.DraftOrder(name=draft.name, lines=[O.DraftOrderLine(variant=variant, quantity=2, unit_price=4000)]),
        FieldMask(paths=["lines"]),
    )
    assert draft.line_items[0].unit_price == 4000 and draft.totals.subtotal == 8000
    order = await world.drafts.complete(STAFF, draft.name)
    assert order.source == "draft" and order.totals.subtotal == 8000 and order.email == email
    assert order.status == O.ORDER_STATUS_PENDING and list(order.tags) == ["phone"]
    assert order.shipping.display_name == "UPS 2-day" and order.totals.shipping_total == 2499
    done = await world.drafts.get(draft.name)
    assert done.status == "completed" and done.order == order.name
    error = await _error(world.drafts.complete(STAFF, draft.name))
    assert error.reason.name == "DRAFT_ORDER_COMPLETED"
    empty = await world.drafts.create(O.DraftOrder(region=f"regions/{world.base.store.us}", email=email))
    assert (await _error(world.drafts.complete(STAFF, empty.name))).reason.name == "DRAFT_ORDER_EMPTY"
    bad = O.DraftOrder(region=f"regions/{world.base.store.us}", lines=[O.DraftOrderLine(variant=variant, quantity=0)])
    assert (await _error(world.drafts.create(bad))).reason.name == "VALIDATION_FAILED"


class _VoidDown:
    """The test gateway whose void times out (the outcome is unknown)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def void(self, request: object) -> object:
        raise GatewayError("timeout")


async def test_cancel_with_a_gateway_error_answers_unsettled_and_resumes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    payment = await world.pay(2500, capture="manual")
    placed = await world.base.place_simple(total=2500, payment_ids=[payment])
    monkeypatch.setitem(world.payments.gateways, "test", _VoidDown(world.payments.gateways["test"]))  # type: ignore[arg-type]
    error = await _error(world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name)))
    assert error.reason.name == "ORDER_PAYMENTS_UNSETTLED" and error.metadata["payments"] == f"payments/{payment}"
    order = await world.orders.get_order(STAFF, placed.name)
    assert order.status == O.ORDER_STATUS_CANCELLED and order.payment_status == O.ORDER_PAYMENT_STATUS_AUTHORIZED
    monkeypatch.undo()
    resumed = await world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name))
    assert resumed.status == O.ORDER_STATUS_CANCELLED and resumed.payment_status == O.ORDER_PAYMENT_STATUS_VOIDED
    assert (await world.payment(payment)).status == P.PAYMENT_STATUS_CANCELLED
    assert (await world.base.events(placed.id)).count("order.cancelled") == 1
    again = await _error(world.orders.cancel(STAFF, O.CancelOrderRequest(name=placed.name)))
    assert again.reason.name == "ORDER_ALREADY_CANCELLED"
