"""ShippingQuoter against every database: zones, table rates, rules, carriers, stored quotes.

The database is shared by the session and zones and rules are global, so every test
scopes its data: zones match only the test's own postal code, rules only the test's
own SKU.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from rcommerce import hookimpl
from rcommerce.clock import FrozenClock
from rcommerce.config import PluginsSettings, ShippingSettings
from rcommerce.db import Database
from rcommerce.domain.shipping.errors import (
    CARRIER_ERROR,
    NO_SHIPPING_ZONE,
    SHIPPING_QUOTE_EXPIRED,
    SHIPPING_QUOTE_NOT_FOUND,
)
from rcommerce.domain.shipping.models import (
    ShippingProfileRow,
    ShippingQuoteRow,
    ShippingRateRow,
    ShippingRuleRow,
    ShippingZoneRow,
)
from rcommerce.domain.shipping.quoting import ShipmentItem, ShipmentRequest, ShippingQuoter
from rcommerce.errors import DomainError
from rcommerce.ids import new_id
from rcommerce.plugins.manager import PluginHost
from rcommerce.plugins.providers import Address, RateQuote, RateRequest

pytestmark = pytest.mark.backends


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10].upper()


async def add_zone(
    db: Database, clock: FrozenClock, postal: str, *, countries: Sequence[str] = ("US",), position: int = -1
) -> str:
    now = clock.now()
    zone_id = new_id("shz", now)
    async with db.transaction() as s:
        s.add(
            ShippingZoneRow(
                id=zone_id,
                name=f"zone {postal}",
                position=position,
                active=True,
                countries=list(countries),
                exclude_countries=[],
                states=[],
                postal_codes=[postal],
                postal_ranges=[],
                created_at=now,
                updated_at=now,
            )
        )
    return zone_id


async def add_rate(db: Database, clock: FrozenClock, zone_id: str, **fields: Any) -> str:
    now = clock.now()
    values: dict[str, Any] = {
        "id": new_id("shr", now), "zone_id": zone_id, "profile_id": None, "name": "Standard", "service_code": "standard",
        "currency_code": "USD", "kind": "flat", "amount": 499, "per_unit_amount": 0, "weight_unit": "kg", "brackets": [],
        "tiers": [], "handling_fee": 0, "fuel_surcharge_percent": Decimal(0), "free_over": None, "min_weight_grams": 0,
        "max_weight_grams": None, "volumetric": "", "min_days": None, "max_days": None, "active": True, "position": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip
    values.update(fields)
    async with db.transaction() as s:
        s.add(ShippingRateRow(**values))
    return str(values["id"])


async def add_rule(
    db: Database, clock: FrozenClock, condition: dict[str, Any], action: dict[str, Any], priority: int = 0
) -> str:
    now = clock.now()
    rule_id = new_id("shru", now)
    async with db.transaction() as s:
        s.add(
            ShippingRuleRow(
                id=rule_id,
                name="r",
                currency_code="",
                priority=priority,
                enabled=True,
                condition=condition,
                action=action,
                created_at=now,
                updated_at=now,
            )
        )
    return rule_id


async def drop_rules(db: Database, ids: Sequence[str]) -> None:
    async with db.transaction() as s:
        await s.execute(delete(ShippingRuleRow).where(ShippingRuleRow.id.in_(ids)))


def item(
    uid: str,
    *,
    quantity: int = 1,
    weight: int = 500,
    price: int = 1000,
    dims: tuple[int, int, int] = (0, 0, 0),
    **kw: Any,
) -> ShipmentItem:
    return ShipmentItem(
        line_id=f"line_{uid}", variant_id=f"var_{uid}", product_id=kw.pop("product_id", f"prod_{uid}"), quantity=quantity,
        unit_price=price, weight_grams=weight, length_mm=dims[0], width_mm=dims[1], height_mm=dims[2],
        requires_shipping=kw.pop("requires_shipping", True), sku=kw.pop("sku", uid), **kw,
    )  # fmt: skip


def request(
    uid: str, items: Sequence[ShipmentItem], subtotal: int = 1000, *, cart: str = "", **kw: Any
) -> ShipmentRequest:
    return ShipmentRequest(
        cart_id=cart or f"cart_{uid}", currency=kw.pop("currency", "USD"),
        destination=kw.pop("destination", Address(country="US", postal_code=uid, region="NY")), items=tuple(items),
        subtotal=subtotal, **kw,
    )  # fmt: skip


async def test_flat_rate_quote_is_stored_with_expiry(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone, amount=499, free_over=5000, min_days=2, max_days=5)
    quoter = ShippingQuoter(clock, settings=ShippingSettings(quote_ttl_minutes=30))
    async with db.transaction() as s:
        quotes = await quoter.quote(s, request(uid, [item(uid)], 4999))
    assert [(q.provider, q.service_code, q.amount, q.currency, q.min_days, q.max_days) for q in quotes] == [
        ("builtin", "standard", 499, "USD", 2, 5)
    ]
    assert quotes[0].id.startswith("shq_") and quotes[0].expires_at == clock.now() + timedelta(minutes=30)
    async with db.read() as s:
        assert (await quoter.get_quote(s, quotes[0].id, cart_id=f"cart_{uid}")) == quotes[0]
    # Free over 50.00, inclusive.
    async with db.transaction() as s:
        free = await quoter.quote(s, request(uid, [item(uid)], 5000))
    assert [q.amount for q in free] == [0]


async def test_get_quote_checks_cart_and_expiry(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone)
    quoter = ShippingQuoter(clock, settings=ShippingSettings(quote_ttl_minutes=10))
    async with db.transaction() as s:
        (quote,) = await quoter.quote(s, request(uid, [item(uid)]))
    async with db.read() as s:
        with pytest.raises(DomainError) as other_cart:
            await quoter.get_quote(s, quote.id, cart_id="cart_other")
        with pytest.raises(DomainError) as missing:
            await quoter.get_quote(s, "shq_01JAAAAAAAAAAAAAAAAAAAAAAA", cart_id=quote.cart_id)
    assert other_cart.value.reason is SHIPPING_QUOTE_NOT_FOUND and missing.value.reason is SHIPPING_QUOTE_NOT_FOUND
    clock.advance(minutes=9, seconds=59)
    async with db.read() as s:
        assert (await quoter.get_quote(s, quote.id, cart_id=quote.cart_id)).amount == 499
    clock.advance(seconds=1)
    async with db.read() as s:
        with pytest.raises(DomainError) as expired:
            await quoter.get_quote(s, quote.id, cart_id=quote.cart_id)
    assert expired.value.reason is SHIPPING_QUOTE_EXPIRED and expired.value.reason.http_status == 410
    # Quoting again clears the cart's expired quotes.
    async with db.transaction() as s:
        await quoter.quote(s, request(uid, [item(uid)]))
    async with db.read() as s:
        assert await s.scalar(select(func.count()).where(ShippingQuoteRow.id == quote.id)) == 0


async def test_address_outside_every_zone_changes_nothing(db: Database, clock: FrozenClock, uid: str) -> None:
    quoter = ShippingQuoter(clock)
    async with db.read() as s:
        before = await s.scalar(select(func.count()).select_from(ShippingQuoteRow))
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await quoter.quote(s, request(uid, [item(uid)], destination=Address(country="AQ", postal_code=uid)))
    assert err.value.reason is NO_SHIPPING_ZONE and err.value.reason.http_status == 422
    assert err.value.metadata["country"] == "AQ"
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(ShippingQuoteRow)) == before


async def test_nothing_to_ship_gives_no_options(db: Database, clock: FrozenClock, uid: str) -> None:
    async with db.transaction() as s:
        quotes = await ShippingQuoter(clock).quote(
            s, request(uid, [item(uid, requires_shipping=False)], destination=Address(country="AQ"))
        )
    assert quotes == []


async def test_rate_kinds_weight_and_volumetric(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    # Standard Ground 8.00 + 1.00/kg, free over 100.00 (spec §1.8 domestic preset).
    await add_rate(
        db,
        clock,
        zone,
        name="Standard Ground",
        service_code="ground",
        kind="per_weight",
        amount=800,
        per_unit_amount=100,
        free_over=10000,
    )
    await add_rate(
        db, clock, zone, name="Express", service_code="express", kind="per_weight", amount=2500, per_unit_amount=200
    )
    # A table by weight, and one with volumetric weight (5000 cm3/kg).
    await add_rate(
        db, clock, zone, name="Table", service_code="table", kind="weight_table", brackets=[[0, 300], [2000, 700]]
    )
    await add_rate(
        db,
        clock,
        zone,
        name="Bulky",
        service_code="bulky",
        kind="per_weight",
        amount=0,
        per_unit_amount=100,
        volumetric="standard_international",
    )
    # Heavy only: does not apply to 2.5 kg.
    await add_rate(db, clock, zone, name="Freight", service_code="freight", min_weight_grams=20000)
    quoter = ShippingQuoter(clock)
    async with db.transaction() as s:
        quotes = await quoter.quote(s, request(uid, [item(uid, quantity=5, weight=500, dims=(485, 385, 57))], 9999))
    got = {q.service_code: q.amount for q in quotes}
    # 2.5 kg actual; packed: 500x400x300 mm -> 60000 cm3 / 5000 = 12 kg volumetric.
    assert got == {"ground": 1050, "express": 3000, "table": 700, "bulky": 1200}
    assert [q.service_code for q in quotes] == ["table", "ground", "bulky", "express"]
    async with db.transaction() as s:
        quotes = await quoter.quote(s, request(uid, [item(uid, quantity=5, weight=500)], 10000))
    assert {q.service_code: q.amount for q in quotes}["ground"] == 0


async def test_currency_and_profiles_select_rates(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid, countries=("*",))
    now = clock.now()
    profile = new_id("shpr", now)
    async with db.transaction() as s:
        s.add(
            ShippingProfileRow(
                id=profile, name="Heavy", description="", product_ids=[f"prod_{uid}"], created_at=now, updated_at=now
            )
        )
    await add_rate(db, clock, zone, name="EUR flat", service_code="eu", currency_code="EUR", amount=900)
    await add_rate(db, clock, zone, name="Heavy goods", service_code="heavy", amount=4900, profile_id=profile)
    await add_rate(db, clock, zone, name="Any", service_code="any", amount=599)
    quoter = ShippingQuoter(clock)
    async with db.transaction() as s:
        in_profile = await quoter.quote(
            s, request(uid, [item(uid)], destination=Address(country="DE", postal_code=uid))
        )
        mixed = await quoter.quote(
            s,
            request(
                uid,
                [item(uid), item(uid + "X", product_id="prod_other")],
                destination=Address(country="DE", postal_code=uid),
            ),
        )
        euros = await quoter.quote(
            s, request(uid, [item(uid)], currency="EUR", destination=Address(country="DE", postal_code=uid))
        )
    assert [q.service_code for q in in_profile] == ["any", "heavy"]
    assert [q.service_code for q in mixed] == ["any"]
    assert [(q.service_code, q.amount) for q in euros] == [("eu", 900)]


async def test_rules_apply_by_priority(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone, name="Standard", service_code="standard", amount=1000)
    await add_rate(db, clock, zone, name="Express", service_code="express", amount=3000)
    mine = {"type": "cart_contains", "skus": [uid]}
    rules = [
        await add_rule(
            db,
            clock,
            {"type": "all", "conditions": [mine, {"type": "order_weight", "min": 20000}]},
            {"type": "hide_methods", "methods": ["express"]},
        ),
        await add_rule(db, clock, mine, {"type": "discount_shipping", "percent": "10"}, priority=10),
        await add_rule(db, clock, mine, {"type": "surcharge", "amount": 250}, priority=5),
        await add_rule(
            db,
            clock,
            {"type": "all", "conditions": [mine, {"type": "shipping_method", "methods": ["express"]}]},
            {"type": "set_handling_fee", "amount": 100},
        ),
    ]
    try:
        quoter = ShippingQuoter(clock)
        async with db.transaction() as s:
            light = await quoter.quote(s, request(uid, [item(uid)]))
            heavy = await quoter.quote(s, request(uid, [item(uid, weight=25000)]))
    finally:
        await drop_rules(db, rules)
    # 10.00 - 10% = 9.00, then + 2.50 surcharge; express 30.00 - 3.00 + 2.50 + 1.00 handling.
    assert [(q.service_code, q.amount) for q in light] == [("standard", 1150), ("express", 3050)]
    assert [q.service_code for q in heavy] == ["standard"]


class _Carrier:
    def __init__(self, code: str, quotes: list[RateQuote] | None = None, fail: bool = False) -> None:
        self.code, self.display_name = code, code.upper()
        self._quotes, self._fail = quotes or [], fail
        self.requests: list[RateRequest] = []

    async def quote(self, request: RateRequest) -> list[RateQuote]:
        self.requests.append(request)
        if self._fail:
            raise ConnectionError("carrier down")
        return self._quotes


async def test_carrier_rates_join_table_rates_and_failures_invent_nothing(
    db: Database, clock: FrozenClock, uid: str
) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone, amount=499)
    ok = _Carrier("acme", [RateQuote("acme_ground", "ACME Ground", 750, "USD", 1, 3)])
    quoter = ShippingQuoter(clock, {"acme": ok})
    async with db.transaction() as s:
        quotes = await quoter.quote(s, request(uid, [item(uid, quantity=2, weight=400)], 2000))
        only_acme = await quoter.quote(s, request(uid, [item(uid)], allowed_providers=("acme",)))
    assert [(q.provider, q.amount) for q in quotes] == [("builtin", 499), ("acme", 750)]
    sent = ok.requests[0]
    assert sent.subtotal == 2000 and sent.parcels[0].weight_g == 800 and sent.items[0].quantity == 2
    assert [q.provider for q in only_acme] == ["acme"]

    broken = ShippingQuoter(clock, {"acme": ok, "down": _Carrier("down", fail=True)})
    async with db.read() as s:
        before = await s.scalar(select(func.count()).where(ShippingQuoteRow.cart_id == f"cart_{uid}"))
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await broken.quote(s, request(uid, [item(uid)]))
    assert err.value.reason is CARRIER_ERROR and err.value.reason.http_status == 502
    assert err.value.metadata == {"carrier": "down"}
    async with db.read() as s:
        assert await s.scalar(select(func.count()).where(ShippingQuoteRow.cart_id == f"cart_{uid}")) == before

    wrong_currency = ShippingQuoter(clock, {"eur": _Carrier("eur", [RateQuote("x", "X", 100, "EUR")])})
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await wrong_currency.quote(s, request(uid, [item(uid)]))
    assert err.value.reason is CARRIER_ERROR


class _FailingCarrierPlugin:
    """An in-process plugin whose carrier always fails, registered through the hook."""

    rcommerce_requires = ">=0.1"

    @hookimpl
    def rcommerce_shipping_carriers(self) -> list[_Carrier]:
        return [_Carrier("flaky", fail=True)]


async def test_failing_carrier_from_the_hook_is_carrier_error(db: Database, clock: FrozenClock, uid: str) -> None:
    host = PluginHost(PluginsSettings(autoload=False), environ={})
    host.load()
    host.register(_FailingCarrierPlugin(), "flaky-carrier")
    carriers = host.collect_providers().shipping_carriers
    assert "flaky" in carriers
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone, amount=499)
    quoter = ShippingQuoter(clock, carriers)
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await quoter.quote(s, request(uid, [item(uid)]))
    assert (err.value.reason.name, err.value.reason.http_status, err.value.metadata) == (
        "CARRIER_ERROR",
        502,
        {"carrier": "flaky"},
    )
    async with db.read() as s:
        assert await s.scalar(select(func.count()).where(ShippingQuoteRow.cart_id == f"cart_{uid}")) == 0
    # A region that does not allow the carrier never asks it: the table rate is quoted.
    async with db.transaction() as s:
        quotes = await quoter.quote(s, request(uid, [item(uid)], allowed_providers=("builtin",)))
    assert [(q.provider, q.amount) for q in quotes] == [("builtin", 499)]


class _SlowCarrier(_Carrier):
    async def quote(self, request: RateRequest) -> list[RateQuote]:
        await asyncio.Event().wait()  # never answers; the quoter's timeout fires
        return []


async def test_carrier_timeout_is_carrier_error(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone)
    quoter = ShippingQuoter(clock, {"slow": _SlowCarrier("slow")}, ShippingSettings(carrier_timeout_s=0.01))
    with pytest.raises(DomainError) as err:
        async with db.transaction() as s:
            await quoter.quote(s, request(uid, [item(uid)]))
    assert err.value.reason is CARRIER_ERROR


async def test_carriers_asked_before_the_transaction(db: Database, clock: FrozenClock, uid: str) -> None:
    zone = await add_zone(db, clock, uid)
    await add_rate(db, clock, zone, amount=499)
    acme = _Carrier("acme", [RateQuote("acme_ground", "ACME Ground", 350, "USD")])
    quoter = ShippingQuoter(clock, {"acme": acme})
    shipment = request(uid, [item(uid)])
    prefetched = await quoter.ask_carriers(shipment)
    assert len(acme.requests) == 1
    async with db.transaction() as s:
        quotes = await quoter.quote(s, shipment, carriers=prefetched)
    assert len(acme.requests) == 1  # not asked again inside the transaction
    assert [(q.provider, q.amount) for q in quotes] == [("acme", 350), ("builtin", 499)]
