"""Demo data: a small apparel catalog, loaded through the same servicer the API uses."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from rcommerce.api.call import Call
from rcommerce.api.servicers.catalog import CatalogServicer
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import ScopeSet
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import catalog_pb2, common_pb2

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
            options=[catalog_pb2.ProductOption(name="Size", values=sizes), catalog_pb2.ProductOption(name="Color", values=colors)],
            tags=[noun.lower(), adjective.lower()],
            vendor="rcommerce demo",
            images=[catalog_pb2.ProductImage(url=f"https://images.example.com/demo/{i}.jpg", alt_text=title)],
        )
        for j, (size, color) in enumerate(combos):
            product.variants.append(
                catalog_pb2.Variant(
                    sku=f"DEMO-{i:04d}-{j:02d}",
                    option_values={"Size": size, "Color": color},
                    prices=[common_pb2.Money(currency_code="USD", amount=base + j * 100), common_pb2.Money(currency_code="EUR", amount=base + j * 90)],
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
    return f"demo catalog: {created} products created, {skipped} already present"
