"""ShippingService (admin CRUD and previews) against every database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.shipping.quoting import ShippingQuoter
from rcommerce.domain.shipping.service import ShippingService
from rcommerce.errors import DomainError
from rcommerce.events import OutboxEvent
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.pagination import PageTokens

pytestmark = pytest.mark.backends


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> ShippingService:
    return ShippingService(db, clock, PageTokens(b"s" * 32), ShippingQuoter(clock))


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def events(db: Database, subject: str) -> list[str]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(OutboxEvent.type)
                .where(OutboxEvent.subject == subject)
                .order_by(OutboxEvent.created_at, OutboxEvent.id)
            )
        )


async def test_rate_round_trip_in_units_and_masked_update(
    service: ShippingService, db: Database, clock: FrozenClock, tag: str
) -> None:
    zone = await service.create_zone(S.ShippingZone(display_name=tag, countries=["*"], postal_codes=[tag], position=-1))
    rate = await service.create_rate(
        zone.name,
        S.ShippingRate(
            display_name="Tiered", service_code="tiered", currency_code="USD", kind=S.SHIPPING_RATE_KIND_TIERED, amount=500,
            weight_unit="lb", tiers=[S.RateTier(up_to_weight="10", per_unit_amount=100), S.RateTier(up_to_weight="5", per_unit_amount=200)],
            fuel_surcharge_percent="7.5", min_weight="0.5", volumetric="usps",
        ),
    )  # fmt: skip
    # Tiers are kept sorted; weights come back in the rate's unit.
    assert [(t.up_to_weight, t.per_unit_amount) for t in rate.tiers] == [("5", 200), ("10", 100)]
    assert (rate.min_weight, rate.max_weight, rate.fuel_surcharge_percent, rate.active) == ("0.5", "", "7.5", True)
    clock.advance(1)
    changed = await service.update_rate(
        S.UpdateShippingRateRequest(
            shipping_rate=S.ShippingRate(name=rate.name, amount=0, position=3),
            update_mask=FieldMask(paths=["amount", "position"]),
        )
    )
    assert (changed.amount, changed.position, changed.display_name, len(changed.tiers)) == (0, 3, "Tiered", 2)
    with pytest.raises(DomainError) as err:
        await service.update_rate(
            S.UpdateShippingRateRequest(
                shipping_rate=S.ShippingRate(name=rate.name), update_mask=FieldMask(paths=["zone"])
            )
        )
    assert err.value.reason.name == "INVALID_FIELD_MASK"
    with pytest.raises(DomainError) as err:
        await service.update_rate(
            S.UpdateShippingRateRequest(
                shipping_rate=S.ShippingRate(name=rate.name, currency_code="usd"),
                update_mask=FieldMask(paths=["currency_code"]),
            )
        )
    assert err.value.reason.name == "VALIDATION_FAILED"
    assert (await service.get_rate(rate.name)).currency_code == "USD"
    assert await events(db, rate.name) == ["shipping_rate.created", "shipping_rate.updated"]


async def test_rate_with_unknown_profile_is_refused(service: ShippingService, tag: str) -> None:
    zone = await service.create_zone(S.ShippingZone(display_name=tag, countries=["US"], postal_codes=[tag]))
    with pytest.raises(DomainError) as err:
        await service.create_rate(
            zone.name,
            S.ShippingRate(
                display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT,
                shipping_profile="shippingProfiles/shpr_01JAAAAAAAAAAAAAAAAAAAAAAA",
            ),
        )  # fmt: skip
    assert err.value.reason.name == "SHIPPING_PROFILE_NOT_FOUND"
    assert list((await service.list_rates(S.ListShippingRatesRequest(parent=zone.name))).shipping_rates) == []


async def test_list_zones_pages_in_matching_order(service: ShippingService, tag: str) -> None:
    made = [
        await service.create_zone(
            S.ShippingZone(display_name=f"{tag}-{i}", countries=["US"], postal_codes=[tag], position=-10_000 + p)
        )
        for i, p in enumerate([3, 1, 2])
    ]
    first = await service.list_zones(S.ListShippingZonesRequest(page_size=2))
    assert [z.name for z in first.shipping_zones] == [made[1].name, made[2].name] and first.next_page_token
    second = await service.list_zones(S.ListShippingZonesRequest(page_size=2, page_token=first.next_page_token))
    assert second.shipping_zones[0].name == made[0].name


async def test_rule_round_trip(service: ShippingService, db: Database, clock: FrozenClock, tag: str) -> None:
    condition = S.ShippingRuleCondition(
        any=S.ConditionList(
            conditions=[
                S.ShippingRuleCondition(order_total=S.AmountRange(min=10000)),
                S.ShippingRuleCondition(
                    product_category=S.StringList(values=["categories/cat_01JAAAAAAAAAAAAAAAAAAAAAAA"])
                ),
                S.ShippingRuleCondition(min_quantity=5),
            ]
        )
    )
    rule = await service.create_rule(
        S.ShippingRule(
            display_name=f"free {tag}",
            currency_code="USD",
            priority=100,
            enabled=False,
            condition=condition,
            action=S.ShippingRuleAction(discount_percent="25"),
        )
    )
    assert rule.condition == condition and rule.action.discount_percent == "25" and not rule.enabled
    assert (await service.get_rule(rule.name)) == rule
    clock.advance(1)
    await service.delete_rule(rule.name)
    assert await events(db, rule.name) == ["shipping_rule.created", "shipping_rule.deleted"]


async def test_preview_converts_units_and_defaults_subtotal(service: ShippingService, tag: str) -> None:
    zone = await service.create_zone(
        S.ShippingZone(display_name=tag, countries=["DE"], postal_codes=[tag], position=-1)
    )
    await service.create_rate(
        zone.name,
        S.ShippingRate(
            display_name="Bulky", service_code="bulky", currency_code="EUR", kind=S.SHIPPING_RATE_KIND_PER_WEIGHT,
            per_unit_amount=100, volumetric="standard_international", free_over=20000,
        ),
    )  # fmt: skip
    line = S.ShipmentLine(
        quantity=2,
        unit_price=5000,
        weight="1",
        weight_unit="kg",
        length="48.5",
        width="38.5",
        height="14.2",
        dimension_unit="cm",
    )
    request = S.QuoteShippingRequest(
        currency_code="EUR", destination=Address(country_code="de", postal_code=tag), items=[line]
    )
    response = await service.quote(request)
    # Packed: 50 x 40 x 29.9 cm (with padding) -> 11.96, so 12 kg volumetric beats 2 kg actual; subtotal 100.00 < 200.00.
    assert [(q.amount.amount, q.amount.currency_code) for q in response.quotes] == [(1200, "EUR")]
    assert response.zone == zone.name and response.quotes[0].cart_id == ""
    with pytest.raises(DomainError) as err:
        await service.quote(
            S.QuoteShippingRequest(
                currency_code="EUR",
                destination=Address(country_code="DE"),
                items=[S.ShipmentLine(quantity=0, weight="x")],
            )
        )
    assert err.value.reason.name == "VALIDATION_FAILED"
    assert {v.field for v in err.value.violations} == {"items[0].quantity", "items[0].weight"}


async def test_delete_zone_removes_its_rates(service: ShippingService, db: Database, tag: str) -> None:
    zone = await service.create_zone(S.ShippingZone(display_name=tag, countries=["US"], postal_codes=[tag]))
    rate = await service.create_rate(
        zone.name,
        S.ShippingRate(display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT),
    )
    await service.delete_zone(zone.name)
    with pytest.raises(DomainError) as err:
        await service.get_rate(rate.name)
    assert err.value.reason.name == "SHIPPING_RATE_NOT_FOUND"
    async with db.read() as s:
        from rcommerce.domain.shipping.models import ShippingRateRow

        assert await s.scalar(select(func.count()).where(ShippingRateRow.zone_id == zone.id)) == 0


async def test_create_with_request_id_is_idempotent(service: ShippingService, db: Database, tag: str) -> None:
    zone = S.ShippingZone(display_name=tag, countries=["US"], postal_codes=[tag])
    first = await service.create_zone(zone, request_id=f"req-{tag}")
    again = await service.create_zone(zone, request_id=f"req-{tag}")
    assert again == first
    assert await events(db, first.name) == ["shipping_zone.created"]
    other = await service.create_zone(zone, request_id=f"req-{tag}-2")
    assert other.id != first.id
    rate = S.ShippingRate(display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT)
    made = await service.create_rate(first.name, rate, request_id=f"rate-{tag}")
    assert (await service.create_rate(first.name, rate, request_id=f"rate-{tag}")) == made
    with pytest.raises(DomainError) as err:
        await service.create_zone(zone, request_id="x" * 101)
    assert err.value.reason.name == "VALIDATION_FAILED"


async def test_purge_keeps_quotes_for_a_day_after_expiry(db: Database, tag: str) -> None:
    # In the year 2000, so the global purge cannot touch other tests' quotes.
    clock = FrozenClock(datetime(2000, 1, 1, tzinfo=UTC))
    service = ShippingService(db, clock, PageTokens(b"s" * 32), ShippingQuoter(clock))
    zone = await service.create_zone(
        S.ShippingZone(display_name=tag, countries=["US"], postal_codes=[tag], position=-1)
    )
    rate = S.ShippingRate(
        display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT, amount=100
    )
    await service.create_rate(zone.name, rate)
    line = S.ShipmentLine(quantity=1, weight="1")
    quoted = await service.quote(
        S.QuoteShippingRequest(
            cart_id=f"cart_{tag}",
            currency_code="USD",
            destination=Address(country_code="US", postal_code=tag),
            items=[line],
        )
    )
    name = quoted.quotes[0].name
    clock.advance(minutes=30)  # expired now (30-minute default)
    await service.purge_expired_quotes()
    assert (await service.get_quote(name)).name == name
    clock.advance(days=1)
    assert await service.purge_expired_quotes() >= 1
    with pytest.raises(DomainError) as err:
        await service.get_quote(name)
    assert err.value.reason.name == "SHIPPING_QUOTE_NOT_FOUND"
