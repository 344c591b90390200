"""Demo data: a small apparel catalog, loaded through the same servicer the API uses."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from rcommerce.api.call import Call
from rcommerce.api.servicers.catalog import CatalogServicer
from rcommerce.api.servicers.promotions import PromotionServicer
from rcommerce.api.servicers.regions import RegionServicer
from rcommerce.api.servicers.shipping import ShippingServicer
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import ScopeSet
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import catalog_pb2, common_pb2, promotions_pb2, regions_pb2, shipping_pb2

if TYPE_CHECKING:
    from rcommerce.app import App

_ADJECTIVES = ["Classic", "Organic", "Heavyweight", "Vintage", "Everyday", "Merino", "Linen", "Recycled"]
_NOUNS = ["Tee", "Hoodie", "Cap", "Sweater", "Shorts", "Jacket", "Socks", "Scarf"]
_SIZES = ["S", "M", "L", "XL"]
_COLORS = ["Black", "White", "Navy", "Olive", "Sand"]


def demo_products(count: int, variants: int) -> list[catalog_pb2.Product]:
    """``count`` active products with up to ``variants`` size/colour variants each,
    priced in USD and EUR. Deterministic, so seeding twice finds the same slugs."""
    products = []
    names = itertools.product(range(1, 1000), _ADJECTIVES, _NOUNS)
    for i in range(count):
        n, adjective, noun = next(names)
        title = f"{adjective} {noun}" + (f" {n}" if n > 1 else "")
        combos = list(itertools.product(_SIZES, _COLORS))[:variants]
        sizes = sorted({s for s, _ in combos}, key=_SIZES.index)
        colors = sorted({c for _, c in combos}, key=_COLORS.index)
        base = 1500 + (i % 20) * 250
        product = catalog_pb2.Product(
            title=title,
            description=f"<p>{adjective} {noun.lower()} from the rcommerce demo store.</p>",
            status=catalog_pb2.PRODUCT_STATUS_ACTIVE,
            options=[
                catalog_pb2.ProductOption(name="Size", values=sizes),
                catalog_pb2.ProductOption(name="Color", values=colors),
            ],
            tags=[noun.lower(), adjective.lower()],
            vendor="rcommerce demo",
            images=[catalog_pb2.ProductImage(url=f"https://images.example.com/demo/{i}.jpg", alt_text=title)],
        )
        for j, (size, color) in enumerate(combos):
            product.variants.append(
                catalog_pb2.Variant(
                    sku=f"DEMO-{i:04d}-{j:02d}",
                    option_values={"Size": size, "Color": color},
                    prices=[
                        common_pb2.Money(currency_code="USD", amount=base + j * 100),
                        common_pb2.Money(currency_code="EUR", amount=base + j * 90),
                    ],
                    manage_inventory=True,
                    inventory_quantity=25,
                    weight_grams=250,
                    requires_shipping=True,
                )
            )
        products.append(product)
    return products


async def seed_demo(app: App, products: int = 24, variants: int = 3) -> str:
    """Create the demo catalog; products whose slug or SKUs exist already are skipped."""
    servicer = CatalogServicer(app.services.catalog)
    call = Call("seed", "req_seed", Principal(PrincipalKind.SECRET_KEY, "seed", ScopeSet.of("admin")), "grpc")
    created = skipped = 0
    for product in demo_products(products, variants):
        try:
            await servicer.CreateProduct(catalog_pb2.CreateProductRequest(product=product), call)
            created += 1
        except DomainError as exc:
            if exc.reason.name not in ("PRODUCT_SLUG_TAKEN", "VARIANT_SKU_TAKEN"):
                raise
            skipped += 1
    regions = await seed_regions(app, call)
    shipping = await seed_shipping(app, call)
    promotions = await seed_promotions(app, call)
    tax = await seed_tax(app)
    notifications = await seed_notifications(app)
    return (
        f"demo catalog: {created} products created, {skipped} already present; {regions}; {shipping}; {promotions}; "
        f"{tax}; {notifications}"
    )


#: The demo regions: the United States (tax added at checkout) and a euro region whose
#: prices include VAT.
DEMO_REGIONS = (
    regions_pb2.Region(
        display_name="United States", currency_code="USD", countries=["US"], prices_include_tax=False,
        payment_providers=["test", "manual"], shipping_providers=["builtin"],
    ),
    regions_pb2.Region(
        display_name="Europe", currency_code="EUR",
        countries=["AT", "BE", "DE", "ES", "FI", "FR", "IE", "IT", "LU", "NL", "PT"], prices_include_tax=True,
        payment_providers=["test", "manual"], shipping_providers=["builtin"],
    ),
)  # fmt: skip


async def seed_regions(app: App, call: Call) -> str:
    """Create the demo regions; a region whose countries are already taken is skipped."""
    servicer = RegionServicer(app.regions)
    created = skipped = 0
    for region in DEMO_REGIONS:
        try:
            await servicer.CreateRegion(regions_pb2.CreateRegionRequest(region=region), call)
            created += 1
        except DomainError as exc:
            if exc.reason.name != "COUNTRY_IN_OTHER_REGION":
                raise
            skipped += 1
    return f"demo regions: {created} created, {skipped} already present"


#: The demo shipping zones and their rates: US flat 4.99, free from 50.00; the euro
#: countries flat 9.90, free from 100.00, or express 14.90 + 2.00 per kg.
_FLAT = shipping_pb2.SHIPPING_RATE_KIND_FLAT
DEMO_SHIPPING = (
    (
        shipping_pb2.ShippingZone(display_name="Domestic", countries=["US"], position=0),
        [shipping_pb2.ShippingRate(display_name="Standard", service_code="standard", currency_code="USD", kind=_FLAT, amount=499, free_over=5000, min_days=3, max_days=5)],
    ),
    (
        shipping_pb2.ShippingZone(display_name="EU", countries=list(DEMO_REGIONS[1].countries), position=10),
        [
            shipping_pb2.ShippingRate(display_name="Standard", service_code="standard", currency_code="EUR", kind=_FLAT, amount=990, free_over=10000, min_days=3, max_days=7),
            shipping_pb2.ShippingRate(
                display_name="Express", service_code="express", currency_code="EUR", kind=shipping_pb2.SHIPPING_RATE_KIND_PER_WEIGHT,
                amount=1490, per_unit_amount=200, weight_unit="kg", max_weight="30", min_days=1, max_days=2,
            ),
        ],
    ),
)  # fmt: skip


async def seed_shipping(app: App, call: Call) -> str:
    """Create the demo shipping zones with their rates; a zone whose name exists is skipped."""
    servicer = ShippingServicer(app.shipping)
    listed = await servicer.ListShippingZones(shipping_pb2.ListShippingZonesRequest(page_size=100), call)
    existing = {z.display_name for z in listed.shipping_zones}
    created = skipped = 0
    for zone, rates in DEMO_SHIPPING:
        if zone.display_name in existing:
            skipped += 1
            continue
        made = await servicer.CreateShippingZone(shipping_pb2.CreateShippingZoneRequest(shipping_zone=zone), call)
        for rate in rates:
            request = shipping_pb2.CreateShippingRateRequest(parent=made.name, shipping_rate=rate)
            await servicer.CreateShippingRate(request, call)
        created += 1
    return f"demo shipping zones: {created} created, {skipped} already present"


#: The demo promotions: a WELCOME10 coupon (10 % off, stacks with other promotions) and an
#: automatic free shipping from a 100.00 subtotal in USD and EUR.
DEMO_PROMOTIONS = (
    promotions_pb2.Promotion(
        code="WELCOME10", title="Welcome: 10 % off", type=promotions_pb2.PROMOTION_TYPE_PERCENTAGE, percent="10",
        combinable=True,
    ),
    promotions_pb2.Promotion(
        title="Free shipping over 100", type=promotions_pb2.PROMOTION_TYPE_FREE_SHIPPING, combinable=True,
        currencies=[
            promotions_pb2.PromotionCurrency(currency_code="USD", minimum_subtotal=10000),
            promotions_pb2.PromotionCurrency(currency_code="EUR", minimum_subtotal=10000),
        ],
    ),
)  # fmt: skip


async def seed_promotions(app: App, call: Call) -> str:
    """Create the demo promotions; a code, or an automatic promotion's title, that exists is skipped."""
    servicer = PromotionServicer(app.promotions)
    listed = await servicer.ListPromotions(promotions_pb2.ListPromotionsRequest(page_size=100, automatic=True), call)
    automatic_titles = {p.title for p in listed.promotions}
    created = skipped = 0
    for promotion in DEMO_PROMOTIONS:
        if not promotion.code and promotion.title in automatic_titles:
            skipped += 1
            continue
        try:
            await servicer.CreatePromotion(promotions_pb2.CreatePromotionRequest(promotion=promotion), call)
            created += 1
        except DomainError as exc:
            if exc.reason.name != "COUPON_CODE_EXISTS":
                raise
            skipped += 1
    return f"demo promotions: {created} created, {skipped} already present"


async def seed_tax(app: App) -> str:
    """Create the demo tax zones (docs/tax.md): New York State 4 % + New York City 4.75 %
    (the 8.75 % of worked example 1) and Germany 19 % with 7 % for the "reduced"
    category. Zones whose code exists are left alone."""
    from rcommerce.domain.tax.rates import REFERENCE_NAMESPACE as TAX_REFERENCE
    from rcommerce.domain.tax.seed import DEMO_ZONES, seed_zones

    async with app.db.transaction() as session:
        created, skipped = await seed_zones(session, DEMO_ZONES, app.clock.now())
    if created:
        await app.reference.bump(TAX_REFERENCE)
    return f"demo tax zones: {created} created, {skipped} already present"


#: The demo notification rules: order e-mails through the built-in ``file`` channel, so a
#: demo order leaves its confirmation (and later shipped/cancelled mail) as .eml files in
#: ``[plugins.builtin] mail_dir`` (docs/notifications.md).
DEMO_NOTIFICATION_RULES = (
    ("order.created", "order_confirmation"),
    ("order.shipped", "order_shipped"),
    ("order.cancelled", "order_cancelled"),
)


async def seed_notifications(app: App, channel: str = "file") -> str:
    """Create the demo notification rules to ``{{ email }}``; a rule with the same event,
    template and channel is left alone. Nothing when the channel is not installed."""
    if channel not in app.notifications.channels:
        return f"demo notification rules: none (no {channel} channel)"
    existing = {(r.event_type, r.template, r.channel) for r in await app.notifications.list_rules()}
    created = skipped = 0
    for event_type, template in DEMO_NOTIFICATION_RULES:
        if (event_type, template, channel) in existing:
            skipped += 1
            continue
        await app.notifications.create_rule(
            event_type=event_type, template=template, channel=channel, recipient="{{ email }}"
        )
        created += 1
    return f"demo notification rules: {created} created, {skipped} already present"
