"""What every catalog command shares: units of work, conflict mapping, the cache generation
and field masks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.catalog.errors import (
    CATEGORY_SLUG_TAKEN,
    COLLECTION_SLUG_TAKEN,
    PRODUCT_SLUG_TAKEN,
    VARIANT_SKU_TAKEN,
    CatalogError,
)
from rcommerce.errors import Reason
from rcommerce.pagination import PageTokens

M = TypeVar("M", bound=Message)

#: Bumped after every committed catalog write; part of every cache key, so one INCR
#: (shared through Redis) invalidates every process's cached reads at once.
GENERATION_KEY = "catalog:gen"

# Constraint names (PostgreSQL, MySQL) and "table.column" (SQLite) of the unique indexes
# that are the final guard against concurrent writers taking the same slug or SKU.
_UNIQUE: tuple[tuple[tuple[str, str], Reason, str], ...] = (
    (
        ("uq_products_slug", "products.slug"),
        PRODUCT_SLUG_TAKEN,
        "A product with this slug was created concurrently; choose another slug.",
    ),
    (
        ("uq_variants_sku", "variants.sku"),
        VARIANT_SKU_TAKEN,
        "A variant with one of these SKUs was created concurrently; choose another SKU.",
    ),
    (
        ("uq_categories_slug", "categories.slug"),
        CATEGORY_SLUG_TAKEN,
        "A category with this slug was created concurrently; choose another slug.",
    ),
    (
        ("uq_collections_slug", "collections.slug"),
        COLLECTION_SLUG_TAKEN,
        "A collection with this slug was created concurrently; choose another slug.",
    ),
)


def conflict_error(exc: IntegrityError) -> CatalogError | None:
    """The catalog reason for a unique violation, or None when it is not one of ours."""
    text = str(exc.orig)
    for needles, reason_, message in _UNIQUE:
        if any(n in text for n in needles):
            return CatalogError(reason_, message)
    return None


class ServiceBase:
    """Dependencies and helpers of :class:`CatalogService`; see there for the contract."""

    def __init__(
        self, db: Database, cache: Cache, clock: Clock, page_tokens: PageTokens, cache_ttl_s: float = 300
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._tokens = page_tokens
        self._ttl_s = cache_ttl_s

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction. A unique violation becomes the matching *_TAKEN reason
        (the transaction has rolled back, so nothing is half-written); after commit the
        cache generation moves on."""
        try:
            async with self._db.transaction() as session:
                yield session
        except IntegrityError as exc:
            mapped = conflict_error(exc) if is_unique_violation(exc) else None
            if mapped is None:
                raise
            raise mapped from exc
        await self._cache.incr(GENERATION_KEY)

    async def _generation(self) -> int:
        value = await self._cache.get(GENERATION_KEY)
        return int(value) if value is not None else 0

    async def _cached(self, key: str, parse: Callable[[bytes], M], build: Callable[[], Awaitable[M]]) -> M:
        """``build()`` once per generation and key; later calls parse the cached bytes."""
        full_key = f"catalog:{await self._generation()}:{key}"
        hit = await self._cache.get(full_key)
        if hit is not None:
            return parse(hit)
        result = await build()
        await self._cache.set(full_key, result.SerializeToString(), self._ttl_s)
        return result
