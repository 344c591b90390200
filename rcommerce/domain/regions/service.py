"""The region service: create, read, list, update and delete regions.

Every command is one transaction that also appends its event (``region.created``,
``region.updated``, ``region.deleted``) to the outbox. A country belongs to at most one
region: checked up front for a clear error, and guaranteed by the primary key of
``region_countries`` against concurrent writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from google.protobuf import json_format, struct_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.regions import rules
from rcommerce.domain.regions.countries import is_country
from rcommerce.domain.regions.directory import REFERENCE_NAMESPACE, ProviderKind, RegionInfo, load_regions
from rcommerce.domain.regions.errors import (
    COUNTRY_IN_OTHER_REGION,
    INVALID_COUNTRY,
    REGION_IN_USE,
    REGION_NOT_FOUND,
    RegionError,
)
from rcommerce.domain.regions.models import RegionCountryRow, RegionProviderRow, RegionRow
from rcommerce.errors import ETAG_MISMATCH, RequestError, invalid
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import regions_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.timestamps import to_timestamp

__all__ = ["REGION_PATHS", "RegionService", "RegionUsage", "region_name"]

#: Tells whether something still belongs to a region: called as ``usage(session,
#: region_id)`` inside the DeleteRegion transaction, it returns a short description of
#: what still uses the region ("2 carts") or None. Carts and orders register one, so the
#: regions context does not depend on their tables.
RegionUsage = Callable[[AsyncSession, str], Awaitable[str | None]]

REGION_PATHS = (
    "display_name", "currency_code", "countries", "prices_include_tax", "payment_providers",
    "shipping_providers", "automatic_capture", "tax_provider", "metadata",
)  # fmt: skip


def region_name(region_id: str) -> str:
    return f"regions/{region_id}"


def _not_found(region_id: str) -> RegionError:
    return RegionError(REGION_NOT_FOUND, f"Region regions/{region_id} does not exist.", regionId=region_id)


def _to_proto(row: RegionRow, info: RegionInfo) -> regions_pb2.Region:
    metadata = struct_pb2.Struct()
    metadata.update(row.extra)
    return regions_pb2.Region(
        name=region_name(row.id),
        id=row.id,
        display_name=row.name,
        currency_code=row.currency_code,
        countries=sorted(info.countries),
        prices_include_tax=row.prices_include_tax,
        payment_providers=info.payment_providers,
        shipping_providers=info.shipping_providers,
        automatic_capture=row.automatic_capture,
        tax_provider=row.tax_provider,
        metadata=metadata,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
        etag=str(row.revision),
    )


class RegionService:
    """Regions over gRPC and REST; other contexts read them through ``RegionDirectory``."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        page_tokens: PageTokens,
        known: rules.KnownProviders | None = None,
        usages: Sequence[RegionUsage] = (),
        reference: ReferenceCache | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._tokens = page_tokens
        self._known = known or rules.KnownProviders()
        self._usages = list(usages)
        #: The memo ``RegionDirectory`` readers share; every committed write invalidates it.
        self._reference = reference

    def add_usage(self, usage: RegionUsage) -> None:
        """Register a check that refuses to delete a region still in use (REGION_IN_USE)."""
        self._usages.append(usage)

    # -- commands ----------------------------------------------------------------------
    async def create_region(self, region: regions_pb2.Region) -> regions_pb2.Region:
        self._validate(region, REGION_PATHS, "region")
        now = self._clock.now()
        async with self._write() as s:
            await self._check_countries_free(s, region.countries, None)
            row = RegionRow(
                id=new_id("reg", now), name="", currency_code="", prices_include_tax=False, automatic_capture=False,
                tax_provider=rules.DEFAULT_TAX_PROVIDER, extra={}, revision=1, created_at=now, updated_at=now,
            )  # fmt: skip
            self._apply(row, region, REGION_PATHS)
            s.add(row)
            await s.flush()
            await self._replace_children(s, row.id, region, REGION_PATHS)
            created = await self._proto(s, row)
            record_event(s, "region.created", created.name, created, now)
        return created

    async def update_region(self, region: regions_pb2.Region, update_mask: FieldMask) -> regions_pb2.Region:
        region_id = parse_name(region.name, "regions", "reg", "region.name")
        paths = resolve_mask(update_mask, region, REGION_PATHS)
        self._validate(region, paths, "region")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, region_id, region.etag)
            if "countries" in paths:
                await self._check_countries_free(s, region.countries, region_id)
            self._apply(row, region, paths)
            row.revision += 1
            row.updated_at = now
            await s.flush()
            await self._replace_children(s, region_id, region, paths)
            updated = await self._proto(s, row)
            record_event(s, "region.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_region(self, name: str) -> None:
        region_id = parse_name(name, "regions", "reg")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, region_id)
            for usage in self._usages:
                used_by = await usage(s, region_id)
                if used_by:
                    raise RegionError(
                        REGION_IN_USE,
                        f"Region regions/{region_id} is still used by {used_by}; it cannot be deleted.",
                        regionId=region_id,
                        usedBy=used_by,
                    )
            deleted = await self._proto(s, row)
            await s.execute(delete(RegionRow).where(RegionRow.id == region_id))
            record_event(s, "region.deleted", deleted.name, deleted, now)

    # -- reads -------------------------------------------------------------------------
    async def get_region(self, name: str) -> regions_pb2.Region:
        region_id = parse_name(name, "regions", "reg")
        async with self._db.read() as s:
            return await self._proto(s, await self._row(s, region_id))

    async def list_regions(self, request: regions_pb2.ListRegionsRequest) -> regions_pb2.ListRegionsResponse:
        size = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, fingerprint(request))
        query = select(RegionRow)
        if request.country_code:
            country = request.country_code.upper()
            if not is_country(country):
                raise invalid(
                    "country_code", f"{request.country_code!r} is not an ISO 3166-1 alpha-2 code", INVALID_COUNTRY
                )
            query = query.where(
                RegionRow.id.in_(select(RegionCountryRow.region_id).where(RegionCountryRow.country_code == country))
            )
        if request.currency_code:
            query = query.where(RegionRow.currency_code == request.currency_code.upper())
        async with self._db.read() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            rows = list((await s.scalars(query.order_by(RegionRow.id).offset(offset).limit(size + 1))).all())
            infos = await load_regions(s, rows[:size])
        token = self._tokens.encode(offset + size, fingerprint(request)) if len(rows) > size else ""
        return regions_pb2.ListRegionsResponse(
            regions=[_to_proto(row, info) for row, info in zip(rows, infos, strict=False)],
            next_page_token=token,
            total_size=total or 0,
        )

    # -- helpers -----------------------------------------------------------------------
    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; a concurrent writer taking the same country, or a
        region still referenced elsewhere, becomes its reason (after rollback). After
        commit the cached regions are invalidated."""
        try:
            async with self._db.transaction() as session:
                yield session
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise RegionError(
                    COUNTRY_IN_OTHER_REGION, "A country of this region was added to another region concurrently."
                ) from exc
            raise RegionError(
                REGION_IN_USE, "The region is still used by carts or orders; it cannot be deleted."
            ) from exc
        if self._reference is not None:
            await self._reference.bump(REFERENCE_NAMESPACE)

    def _validate(self, region: regions_pb2.Region, paths: Sequence[str], field: str) -> None:
        problems: list[rules.Problem] = []
        if "display_name" in paths:
            problems += rules.check_display_name(region.display_name, f"{field}.display_name")
        if "currency_code" in paths:
            problems += rules.check_currency(region.currency_code, f"{field}.currency_code")
        if "countries" in paths:
            problems += rules.check_countries(region.countries, f"{field}.countries")
        if "payment_providers" in paths:
            problems += rules.check_providers(
                ProviderKind.PAYMENT, region.payment_providers, self._known, f"{field}.payment_providers"
            )
        if "shipping_providers" in paths:
            problems += rules.check_providers(
                ProviderKind.SHIPPING, region.shipping_providers, self._known, f"{field}.shipping_providers"
            )
        if "tax_provider" in paths and region.tax_provider:
            problems += rules.check_providers(
                "tax", [region.tax_provider], self._known, f"{field}.tax_provider", single=True
            )
        rules.raise_all(problems)

    async def _check_countries_free(self, s: AsyncSession, countries: Sequence[str], region_id: str | None) -> None:
        if not countries:
            return
        query = select(RegionCountryRow.country_code, RegionCountryRow.region_id).where(
            RegionCountryRow.country_code.in_(list(countries))
        )
        if region_id is not None:
            query = query.where(RegionCountryRow.region_id != region_id)
        taken = sorted((await s.execute(query)).all())
        if taken:
            code, other = taken[0]
            raise RegionError(
                COUNTRY_IN_OTHER_REGION,
                f"{', '.join(c for c, _ in taken)} already belong to another region (regions/{other}); remove "
                "them there first.",
                countryCode=code,
                countryCodes=",".join(c for c, _ in taken),
                regionName=region_name(other),
            )

    @staticmethod
    def _apply(row: RegionRow, region: regions_pb2.Region, paths: Sequence[str]) -> None:
        for path in paths:
            if path == "display_name":
                row.name = region.display_name.strip()
            elif path == "tax_provider":
                row.tax_provider = region.tax_provider or rules.DEFAULT_TAX_PROVIDER
            elif path == "metadata":
                row.extra = json_format.MessageToDict(region.metadata)
            elif path in ("currency_code", "prices_include_tax", "automatic_capture"):
                setattr(row, path, getattr(region, path))

    @staticmethod
    async def _replace_children(
        s: AsyncSession, region_id: str, region: regions_pb2.Region, paths: Sequence[str]
    ) -> None:
        if "countries" in paths:
            await s.execute(delete(RegionCountryRow).where(RegionCountryRow.region_id == region_id))
            s.add_all(RegionCountryRow(country_code=code, region_id=region_id) for code in region.countries)
        for kind, path in ((ProviderKind.PAYMENT, "payment_providers"), (ProviderKind.SHIPPING, "shipping_providers")):
            if path in paths:
                await s.execute(
                    delete(RegionProviderRow).where(
                        RegionProviderRow.region_id == region_id, RegionProviderRow.kind == kind
                    )
                )
                s.add_all(
                    RegionProviderRow(region_id=region_id, kind=kind, provider_code=code, position=position)
                    for position, code in enumerate(getattr(region, path))
                )
        await s.flush()

    @staticmethod
    async def _row(s: AsyncSession, region_id: str, etag: str = "") -> RegionRow:
        row = await s.get(RegionRow, region_id)
        if row is None:
            raise _not_found(region_id)
        if etag and etag != str(row.revision):
            raise RequestError(
                ETAG_MISMATCH,
                f"Region regions/{region_id} changed since etag {etag} (now {row.revision}); read it again and retry.",
                etag=etag,
                currentEtag=row.revision,
            )
        return row

    @staticmethod
    async def _proto(s: AsyncSession, row: RegionRow) -> regions_pb2.Region:
        return _to_proto(row, (await load_regions(s, [row]))[0])
