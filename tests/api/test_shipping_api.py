"""Shipping through the public API, each test on gRPC and on REST.

Zones and rules are global and the server is shared, so each test's zone matches only
its own postal code and its rules only its own SKU.
"""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import func, select

from rcommerce.domain.shipping.models import ShippingQuoteRow
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer


def _tag() -> str:
    return uuid.uuid4().hex[:8].upper()


async def _count(server: LiveServer, model: type, **where: str) -> int:
    async with server.app.db.read() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int((await session.execute(query)).scalar_one())


def _expect(client: ApiClient, error: ApiError, reason: str, http: int) -> None:
    assert error.reason == reason, error
    if client.transport == "rest":
        assert error.http_status == http, error


async def _zone(client: ApiClient, tag: str, **fields: object) -> S.ShippingZone:
    zone = S.ShippingZone(display_name=f"Domestic {tag}", countries=["us"], postal_codes=[tag], position=-1, **fields)  # type: ignore[arg-type]
    return await client.call("CreateShippingZone", S.CreateShippingZoneRequest(shipping_zone=zone))


def _quote_request(
    tag: str, *, country: str = "US", weight: str = "0.5", unit: str = "kg", quantity: int = 1, price: int = 1000
) -> S.QuoteShippingRequest:
    return S.QuoteShippingRequest(
        cart_id=f"cart_{tag}", currency_code="USD", destination=Address(country_code=country, postal_code=tag, province="NY"),
        items=[S.ShipmentLine(sku=tag, variant_id=f"var_{tag}", quantity=quantity, unit_price=price, weight=weight, weight_unit=unit)],
    )  # fmt: skip


async def test_zone_rate_and_quote_round_trip(client: ApiClient, server: LiveServer) -> None:
    tag = _tag()
    zone = await _zone(client, tag)
    assert zone.name == f"shippingZones/{zone.id}" and zone.countries == ["US"] and zone.active
    flat = await client.call(
        "CreateShippingRate",
        S.CreateShippingRateRequest(
            parent=zone.name,
            shipping_rate=S.ShippingRate(
                display_name="Standard", service_code="standard", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT,
                amount=499, free_over=5000, min_days=3, max_days=5,
            ),
        ),
    )  # fmt: skip
    per_lb = await client.call(
        "CreateShippingRate",
        S.CreateShippingRateRequest(
            parent=zone.name,
            shipping_rate=S.ShippingRate(
                display_name="Express", service_code="express", currency_code="USD", kind=S.SHIPPING_RATE_KIND_PER_WEIGHT,
                amount=1500, per_unit_amount=200, weight_unit="lb", max_weight="50",
            ),
        ),
    )  # fmt: skip
    assert per_lb.max_weight == "50" and per_lb.weight_unit == "lb" and flat.free_over == 5000
    assert await client.call("GetShippingRate", S.GetShippingRateRequest(name=flat.name)) == flat
    listed = await client.call("ListShippingRates", S.ListShippingRatesRequest(parent=zone.name))
    assert [r.id for r in listed.shipping_rates] == [flat.id, per_lb.id]

    # 2 x 1 lb: express = 15.00 + 2 lb x 2.00 = 19.00.
    response = await client.call("QuoteShipping", _quote_request(tag, weight="1", unit="lb", quantity=2, price=1000))
    assert response.zone == zone.name
    assert [(q.service_code, q.amount.amount, q.provider) for q in response.quotes] == [
        ("standard", 499, "builtin"),
        ("express", 1900, "builtin"),
    ]
    first = response.quotes[0]
    assert first.name == f"shippingQuotes/{first.id}" and first.min_days == 3 and first.breakdown.rate_name == flat.name
    assert await client.call("GetShippingQuote", S.GetShippingQuoteRequest(name=first.name)) == first
    # Free over 50.00 (inclusive).
    free = await client.call("QuoteShipping", _quote_request(tag, price=5000))
    assert next((q.service_code, q.amount.amount) for q in free.quotes) == ("standard", 0)
    assert await _count(server, OutboxEvent, subject=zone.name, type="shipping_zone.created") == 1
    assert await _count(server, OutboxEvent, subject=flat.name, type="shipping_rate.created") == 1


async def test_address_outside_every_zone_is_refused(client: ApiClient, server: LiveServer) -> None:
    tag = _tag()
    before = await _count(server, ShippingQuoteRow, cart_id=f"cart_{tag}")
    with pytest.raises(ApiError) as err:
        await client.call("QuoteShipping", _quote_request(tag, country="AQ"))
    _expect(client, err.value, "NO_SHIPPING_ZONE", 422)
    assert err.value.metadata["country"] == "AQ"
    assert await _count(server, ShippingQuoteRow, cart_id=f"cart_{tag}") == before


async def test_bad_input_is_refused_with_reasons(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call(
            "CreateShippingZone",
            S.CreateShippingZoneRequest(shipping_zone=S.ShippingZone(display_name="x", countries=["USA"])),
        )
    _expect(client, err.value, "VALIDATION_FAILED", 400)
    zone = await _zone(client, _tag())
    bad_rates = [
        S.ShippingRate(display_name="x", service_code="x", currency_code="usd", kind=S.SHIPPING_RATE_KIND_FLAT),
        S.ShippingRate(display_name="x", service_code="x", currency_code="USD"),
        S.ShippingRate(
            display_name="x",
            service_code="x",
            currency_code="USD",
            kind=S.SHIPPING_RATE_KIND_FLAT,
            fuel_surcharge_percent="120",
        ),
        S.ShippingRate(display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_WEIGHT_TABLE),
        S.ShippingRate(
            display_name="x", service_code="x", currency_code="USD", kind=S.SHIPPING_RATE_KIND_FLAT, max_weight="heavy"
        ),
    ]
    for rate in bad_rates:
        with pytest.raises(ApiError) as err:
            await client.call("CreateShippingRate", S.CreateShippingRateRequest(parent=zone.name, shipping_rate=rate))
        assert err.value.reason == "VALIDATION_FAILED", rate
    listed = await client.call("ListShippingRates", S.ListShippingRatesRequest(parent=zone.name))
    assert list(listed.shipping_rates) == []
    with pytest.raises(ApiError) as err:
        await client.call(
            "GetShippingZone", S.GetShippingZoneRequest(name="shippingZones/shz_01JAAAAAAAAAAAAAAAAAAAAAAA")
        )
    _expect(client, err.value, "SHIPPING_ZONE_NOT_FOUND", 404)
    with pytest.raises(ApiError) as err:
        rule = S.ShippingRule(
            display_name="x",
            condition=S.ShippingRuleCondition(order_total=S.AmountRange(min=100)),
            action=S.ShippingRuleAction(free_shipping=True),
        )
        await client.call("CreateShippingRule", S.CreateShippingRuleRequest(shipping_rule=rule))
    _expect(client, err.value, "VALIDATION_FAILED", 400)
    assert "currency_code" in err.value.message
    with pytest.raises(ApiError) as err:
        await client.call(
            "GetShippingQuote", S.GetShippingQuoteRequest(name="shippingQuotes/shq_01JAAAAAAAAAAAAAAAAAAAAAAA")
        )
    assert err.value.reason == "SHIPPING_QUOTE_NOT_FOUND"


async def test_update_and_delete_zone(client: ApiClient, server: LiveServer) -> None:
    tag = _tag()
    # Iceland: no other test's zone serves it, so deactivating this one leaves none.
    iceland = S.ShippingZone(display_name=f"Iceland {tag}", countries=["is"], postal_codes=[tag], position=-1)
    zone = await client.call("CreateShippingZone", S.CreateShippingZoneRequest(shipping_zone=iceland))
    updated = await client.call(
        "UpdateShippingZone",
        S.UpdateShippingZoneRequest(
            shipping_zone=S.ShippingZone(name=zone.name, states=["ny"], active=False),
            update_mask=field_mask_pb2.FieldMask(paths=["states", "active"]),
        ),
    )
    assert updated.states == ["NY"] and not updated.active and updated.countries == ["IS"]
    with pytest.raises(ApiError) as err:
        await client.call("QuoteShipping", _quote_request(tag, country="IS"))
    assert err.value.reason == "NO_SHIPPING_ZONE"
    await client.call("DeleteShippingZone", S.DeleteShippingZoneRequest(name=zone.name))
    with pytest.raises(ApiError) as err:
        await client.call("GetShippingZone", S.GetShippingZoneRequest(name=zone.name))
    assert err.value.reason == "SHIPPING_ZONE_NOT_FOUND"
    assert await _count(server, OutboxEvent, subject=zone.name, type="shipping_zone.deleted") == 1


async def test_rules_and_profiles(client: ApiClient) -> None:
    tag = _tag()
    zone = await _zone(client, tag)
    rate = S.ShippingRate(
        display_name="Standard",
        service_code="standard",
        currency_code="USD",
        kind=S.SHIPPING_RATE_KIND_FLAT,
        amount=1000,
    )
    await client.call("CreateShippingRate", S.CreateShippingRateRequest(parent=zone.name, shipping_rate=rate))
    mine = S.ShippingRuleCondition(cart_contains=S.StringList(values=[tag]))
    heavy = S.ShippingRuleCondition(order_weight=S.WeightRange(min="10", unit="kg"))
    rule = await client.call(
        "CreateShippingRule",
        S.CreateShippingRuleRequest(
            shipping_rule=S.ShippingRule(
                display_name="Heavy surcharge", currency_code="USD", priority=5,
                condition=S.ShippingRuleCondition(all=S.ConditionList(conditions=[mine, heavy])),
                action=S.ShippingRuleAction(surcharge=750),
            )
        ),
    )  # fmt: skip
    try:
        assert rule.condition.all.conditions[1].order_weight.min == "10" and rule.enabled
        light = await client.call("QuoteShipping", _quote_request(tag, weight="9.999"))
        assert [q.amount.amount for q in light.quotes] == [1000]
        heavy_quote = await client.call("QuoteShipping", _quote_request(tag, weight="10"))
        assert [q.amount.amount for q in heavy_quote.quotes] == [1750]
        assert list(heavy_quote.quotes[0].breakdown.applied_rules) == [rule.name]
        listed = await client.call("ListShippingRules", S.ListShippingRulesRequest(page_size=100))
        assert rule.name in [r.name for r in listed.shipping_rules]
    finally:
        await client.call("DeleteShippingRule", S.DeleteShippingRuleRequest(name=rule.name))

    profile = await client.call(
        "CreateShippingProfile",
        S.CreateShippingProfileRequest(
            shipping_profile=S.ShippingProfile(
                display_name="Bulky", products=[f"products/prod_01JA{tag}AAAAAAAAAAAAAA"]
            )
        ),
    )
    bulky = S.ShippingRate(
        display_name="Bulky",
        service_code="bulky",
        currency_code="USD",
        kind=S.SHIPPING_RATE_KIND_FLAT,
        amount=5000,
        shipping_profile=profile.name,
    )
    created = await client.call(
        "CreateShippingRate", S.CreateShippingRateRequest(parent=zone.name, shipping_rate=bulky)
    )
    with pytest.raises(ApiError) as err:
        await client.call("DeleteShippingProfile", S.DeleteShippingProfileRequest(name=profile.name))
    _expect(client, err.value, "SHIPPING_PROFILE_IN_USE", 422)
    await client.call("DeleteShippingRate", S.DeleteShippingRateRequest(name=created.name))
    await client.call("DeleteShippingProfile", S.DeleteShippingProfileRequest(name=profile.name))


async def test_storefront_keys_cannot_manage_shipping(server: LiveServer) -> None:
    key = await server.create_key(["shipping:read"], kind="publishable")
    api = server.rest_client(key)
    try:
        with pytest.raises(ApiError) as err:
            await api.call(
                "CreateShippingZone",
                S.CreateShippingZoneRequest(shipping_zone=S.ShippingZone(display_name="x", countries=["*"])),
            )
        assert err.value.http_status == 403
    finally:
        await api.close()
