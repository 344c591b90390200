"""The tax admin service: zones, categories, rates and exemptions (CRUD with events), VAT
id checks and the calculation preview. Carts and checkout use :class:`TaxCalculator`
directly inside their own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock, as_utc
from rcommerce.db import Database
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.customers.errors import CUSTOMER_NOT_FOUND
from rcommerce.domain.tax import convert
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.errors import (
    INVALID_VAT_ID,
    TAX_CATEGORY_CODE_TAKEN,
    TAX_CATEGORY_IN_USE,
    TAX_CATEGORY_NOT_FOUND,
    TAX_EXEMPTION_NOT_FOUND,
    TAX_RATE_NOT_FOUND,
    TAX_ZONE_CODE_TAKEN,
    TAX_ZONE_NOT_FOUND,
    TaxError,
)
from rcommerce.domain.tax.models import TaxCategoryRow, TaxExemptionRow, TaxRateRow, TaxZoneRow
from rcommerce.domain.tax.rates import REFERENCE_NAMESPACE, matching_zones
from rcommerce.domain.tax.transactions import list_transactions
from rcommerce.domain.tax.validation import (
    CODE,
    COUNTRY,
    EXEMPTION_TYPES,
    REGION,
    ZONE_TYPES,
    parse_rate,
    postal_violations,
    resolve_mask,
)
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.errors import FieldViolation, Reason, raise_violations
from rcommerce.events import record_event
from rcommerce.gen.v1 import common_pb2, tax_pb2
from rcommerce.ids import new_id
from rcommerce.money import MAX_AMOUNT, is_currency
from rcommerce.names import parse_child_name, parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.plugins.providers import Address, TaxLine, TaxRequest, VatCheck

__all__ = ["TaxService", "address_from_proto"]

ZONE_PATHS = ("code", "display_name", "country_code", "region_code", "postal_patterns", "zone_type")
CATEGORY_PATHS = ("display_name", "description")
_VAT_CAUSES = {
    "format": "does not have the national format",
    "checksum": "has a wrong check digit",
    "not_registered": "is not registered",
}
RATE_PATHS = ("tax_category", "display_name", "rate", "applies_to_shipping", "priority", "valid_from", "valid_until")


def address_from_proto(address: common_pb2.Address) -> Address:
    """The provider ``Address`` of an API address."""
    lines = tuple(line for line in (address.address1, address.address2) if line)
    return Address(address.country_code.upper(), address.postal_code, address.province, address.city, lines)


def _time(ts: Timestamp, present: bool) -> datetime | None:
    return as_utc(ts.ToDatetime()) if present else None


class TaxService:
    """Admin operations of tax.proto; one transaction and its events per command."""

    def __init__(
        self, db: Database, clock: Clock, page_tokens: PageTokens, calculator: TaxCalculator, vat: VatIdChecker,
        *, default_provider: str = "builtin", reference: ReferenceCache | None = None,
    ) -> None:  # fmt: skip
        self._db = db
        #: The memo of zone tables pricing reads; every committed write invalidates it.
        self._reference = reference
        self._clock = clock
        self._tokens = page_tokens
        self._calculator = calculator
        self._vat = vat
        self._default_provider = default_provider
        self._customers = CustomerDirectory(clock)

    @property
    def calculator(self) -> TaxCalculator:
        return self._calculator

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; after commit the cached zone tables are invalidated."""
        async with self._db.transaction() as session:
            yield session
        if self._reference is not None:
            await self._reference.bump(REFERENCE_NAMESPACE)

    # -- zones ---------------------------------------------------------------------------
    def _zone_violations(self, zone: tax_pb2.TaxZone, paths: tuple[str, ...] | list[str]) -> list[FieldViolation]:
        out: list[FieldViolation] = []
        if "code" in paths and not CODE.match(zone.code):
            out.append(FieldViolation("tax_zone.code", "required: 1-64 letters, digits, '_', '.', '-'"))
        if "display_name" in paths and len(zone.display_name) > 255:
            out.append(FieldViolation("tax_zone.display_name", "at most 255 characters"))
        if "country_code" in paths and not COUNTRY.match(zone.country_code):
            out.append(FieldViolation("tax_zone.country_code", "required: ISO 3166-1 alpha-2, upper case"))
        if "region_code" in paths and not REGION.match(zone.region_code):
            out.append(
                FieldViolation("tax_zone.region_code", "up to 10 upper-case letters or digits, without the country")
            )
        if "postal_patterns" in paths:
            out.extend(postal_violations(zone.postal_patterns, "tax_zone.postal_patterns"))
        if "zone_type" in paths and zone.zone_type and zone.zone_type not in ZONE_TYPES:
            out.append(FieldViolation("tax_zone.zone_type", f"one of {', '.join(ZONE_TYPES)}"))
        return out

    async def _zone_code_free(self, s: AsyncSession, code: str, own_id: str | None) -> None:
        found = await s.scalar(select(TaxZoneRow.id).where(TaxZoneRow.code == code))
        if found is not None and found != own_id:
            raise TaxError(TAX_ZONE_CODE_TAKEN, f"Another tax zone already uses the code {code!r}.", code=code)

    async def create_zone(self, zone: tax_pb2.TaxZone) -> tax_pb2.TaxZone:
        raise_violations(self._zone_violations(zone, ZONE_PATHS))
        now = self._clock.now()
        async with self._write() as s:
            await self._zone_code_free(s, zone.code, None)
            row = TaxZoneRow(
                id=new_id("txz", now), code=zone.code, name=zone.display_name or zone.code, country_code=zone.country_code,
                region_code=zone.region_code, postal_patterns=",".join(p.replace(" ", "").upper() for p in zone.postal_patterns),
                zone_type=zone.zone_type or _zone_type(zone), created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await self._flush(s, TAX_ZONE_CODE_TAKEN, zone.code)
            created = convert.zone_to_proto(row)
            record_event(s, "tax_zone.created", created.name, created, now)
        return created

    async def get_zone(self, name: str) -> tax_pb2.TaxZone:
        zone_id = parse_name(name, "taxZones", "txz")
        async with self._db.read() as s:
            return convert.zone_to_proto(await self._zone_row(s, zone_id))

    async def list_zones(self, request: tax_pb2.ListTaxZonesRequest) -> tax_pb2.ListTaxZonesResponse:
        size = page_size(request.page_size)
        key = f"taxZones:{fingerprint(request)}"
        offset = self._tokens.decode(request.page_token, key)
        stmt = select(TaxZoneRow)
        if request.country_code:
            stmt = stmt.where(TaxZoneRow.country_code == request.country_code.upper())
        async with self._db.read() as s:
            rows = (
                await s.scalars(stmt.order_by(TaxZoneRow.country_code, TaxZoneRow.code).offset(offset).limit(size + 1))
            ).all()
        token = self._tokens.encode(offset + size, key) if len(rows) > size else ""
        return tax_pb2.ListTaxZonesResponse(
            tax_zones=[convert.zone_to_proto(r) for r in rows[:size]], next_page_token=token
        )

    async def update_zone(self, zone: tax_pb2.TaxZone, mask: FieldMask) -> tax_pb2.TaxZone:
        zone_id = parse_name(zone.name, "taxZones", "txz", "tax_zone.name")
        paths = resolve_mask(mask, zone, ZONE_PATHS)
        raise_violations(self._zone_violations(zone, paths))
        now = self._clock.now()
        async with self._write() as s:
            row = await self._zone_row(s, zone_id)
            if "code" in paths:
                await self._zone_code_free(s, zone.code, zone_id)
                row.code = zone.code
            if "display_name" in paths:
                row.name = zone.display_name or row.code
            for path, column in (
                ("country_code", "country_code"),
                ("region_code", "region_code"),
                ("zone_type", "zone_type"),
            ):
                if path in paths:
                    setattr(row, column, getattr(zone, path))
            if "postal_patterns" in paths:
                row.postal_patterns = ",".join(p.replace(" ", "").upper() for p in zone.postal_patterns)
            row.updated_at = now
            await self._flush(s, TAX_ZONE_CODE_TAKEN, zone.code)
            updated = convert.zone_to_proto(row)
            record_event(s, "tax_zone.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_zone(self, name: str) -> None:
        zone_id = parse_name(name, "taxZones", "txz")
        now = self._clock.now()
        async with self._write() as s:
            deleted = convert.zone_to_proto(await self._zone_row(s, zone_id))
            await s.execute(delete(TaxRateRow).where(TaxRateRow.zone_id == zone_id))
            await s.execute(delete(TaxExemptionRow).where(TaxExemptionRow.zone_id == zone_id))
            await s.execute(delete(TaxZoneRow).where(TaxZoneRow.id == zone_id))
            record_event(s, "tax_zone.deleted", deleted.name, deleted, now)

    async def _zone_row(self, s: AsyncSession, zone_id: str, field: str = "name") -> TaxZoneRow:
        row = await s.get(TaxZoneRow, zone_id)
        if row is None:
            raise TaxError(
                TAX_ZONE_NOT_FOUND,
                f"Tax zone taxZones/{zone_id} does not exist.",
                taxZone=f"taxZones/{zone_id}",
                field=field,
            )
        return row

    # -- categories ----------------------------------------------------------------------
    async def create_category(self, category: tax_pb2.TaxCategory) -> tax_pb2.TaxCategory:
        violations = []
        if not CODE.match(category.code):
            violations.append(FieldViolation("tax_category.code", "required: 1-64 letters, digits, '_', '.', '-'"))
        if len(category.display_name) > 255:
            violations.append(FieldViolation("tax_category.display_name", "at most 255 characters"))
        raise_violations(violations)
        now = self._clock.now()
        async with self._write() as s:
            if await s.scalar(select(TaxCategoryRow.id).where(TaxCategoryRow.code == category.code)) is not None:
                raise TaxError(
                    TAX_CATEGORY_CODE_TAKEN,
                    f"Another tax category already uses the code {category.code!r}.",
                    code=category.code,
                )
            row = TaxCategoryRow(id=new_id("txc", now), code=category.code, name=category.display_name or category.code,
                                 description=category.description, created_at=now, updated_at=now)  # fmt: skip
            s.add(row)
            await self._flush(s, TAX_CATEGORY_CODE_TAKEN, category.code)
            created = convert.category_to_proto(row)
            record_event(s, "tax_category.created", created.name, created, now)
        return created

    async def list_categories(self, request: tax_pb2.ListTaxCategoriesRequest) -> tax_pb2.ListTaxCategoriesResponse:
        size = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, "taxCategories")
        async with self._db.read() as s:
            rows = (
                await s.scalars(select(TaxCategoryRow).order_by(TaxCategoryRow.code).offset(offset).limit(size + 1))
            ).all()
        token = self._tokens.encode(offset + size, "taxCategories") if len(rows) > size else ""
        return tax_pb2.ListTaxCategoriesResponse(
            tax_categories=[convert.category_to_proto(r) for r in rows[:size]], next_page_token=token
        )

    async def update_category(self, category: tax_pb2.TaxCategory, mask: FieldMask) -> tax_pb2.TaxCategory:
        category_id = parse_name(category.name, "taxCategories", "txc", "tax_category.name")
        paths = resolve_mask(mask, category, CATEGORY_PATHS)
        if len(category.display_name) > 255:
            raise_violations([FieldViolation("tax_category.display_name", "at most 255 characters")])
        now = self._clock.now()
        async with self._write() as s:
            row = await self._category_row(s, category_id)
            if "display_name" in paths:
                row.name = category.display_name or row.code
            if "description" in paths:
                row.description = category.description
            row.updated_at = now
            await s.flush()
            updated = convert.category_to_proto(row)
            record_event(s, "tax_category.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_category(self, name: str) -> None:
        category_id = parse_name(name, "taxCategories", "txc")
        now = self._clock.now()
        async with self._write() as s:
            deleted = convert.category_to_proto(await self._category_row(s, category_id))
            used = await s.scalar(
                select(func.count()).select_from(TaxRateRow).where(TaxRateRow.category_id == category_id)
            )
            if used:
                raise TaxError(TAX_CATEGORY_IN_USE, f"{used} tax rate(s) still use the category {deleted.code}; delete them first.",
                               taxCategory=name, rates=used)  # fmt: skip
            await s.execute(delete(TaxCategoryRow).where(TaxCategoryRow.id == category_id))
            record_event(s, "tax_category.deleted", deleted.name, deleted, now)

    async def _category_row(self, s: AsyncSession, category_id: str) -> TaxCategoryRow:
        row = await s.get(TaxCategoryRow, category_id)
        if row is None:
            raise TaxError(TAX_CATEGORY_NOT_FOUND, f"Tax category taxCategories/{category_id} does not exist.",
                           taxCategory=f"taxCategories/{category_id}")  # fmt: skip
        return row

    async def _category_id(self, s: AsyncSession, code: str) -> str | None:
        if not code:
            return None
        found = await s.scalar(select(TaxCategoryRow.id).where(TaxCategoryRow.code == code))
        if found is None:
            raise TaxError(
                TAX_CATEGORY_NOT_FOUND,
                f"No tax category has the code {code!r}; create it first.",
                code=code,
                field="tax_rate.tax_category",
            )
        return found

    # -- rates ---------------------------------------------------------------------------
    def _rate_checks(self, rate: tax_pb2.TaxRate, paths: tuple[str, ...] | list[str]) -> None:
        violations = []
        if "display_name" in paths and not 0 < len(rate.display_name) <= 255:
            violations.append(FieldViolation("tax_rate.display_name", "required, at most 255 characters"))
        if "priority" in paths and not -1000 <= rate.priority <= 1000:
            violations.append(FieldViolation("tax_rate.priority", "from -1000 to 1000"))
        if (
            rate.HasField("valid_from")
            and rate.HasField("valid_until")
            and rate.valid_until.ToDatetime() <= rate.valid_from.ToDatetime()
        ):
            violations.append(FieldViolation("tax_rate.valid_until", "must be after valid_from"))
        raise_violations(violations)
        if "rate" in paths:
            parse_rate(rate.rate, "tax_rate.rate")

    async def _rate_proto(self, s: AsyncSession, row: TaxRateRow) -> tax_pb2.TaxRate:
        code = (
            await s.scalar(select(TaxCategoryRow.code).where(TaxCategoryRow.id == row.category_id))
            if row.category_id
            else ""
        )
        return convert.rate_to_proto(row, code or "")

    async def create_rate(self, rate: tax_pb2.TaxRate) -> tax_pb2.TaxRate:
        zone_id = parse_name(rate.tax_zone, "taxZones", "txz", "tax_rate.tax_zone")
        self._rate_checks(rate, RATE_PATHS)
        now = self._clock.now()
        async with self._write() as s:
            await self._zone_row(s, zone_id, "tax_rate.tax_zone")
            row = TaxRateRow(
                id=new_id("txr", now), zone_id=zone_id, category_id=await self._category_id(s, rate.tax_category),
                name=rate.display_name, rate=parse_rate(rate.rate, "tax_rate.rate"),
                applies_to_shipping=rate.applies_to_shipping, priority=rate.priority,
                valid_from=_time(rate.valid_from, rate.HasField("valid_from")),
                valid_until=_time(rate.valid_until, rate.HasField("valid_until")), created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await s.flush()
            created = await self._rate_proto(s, row)
            record_event(s, "tax_rate.created", created.name, created, now)
        return created

    async def get_rate(self, name: str) -> tax_pb2.TaxRate:
        rate_id = parse_name(name, "taxRates", "txr")
        async with self._db.read() as s:
            return await self._rate_proto(s, await self._rate_row(s, rate_id))

    async def list_rates(self, request: tax_pb2.ListTaxRatesRequest) -> tax_pb2.ListTaxRatesResponse:
        size = page_size(request.page_size)
        key = f"taxRates:{fingerprint(request)}"
        offset = self._tokens.decode(request.page_token, key)
        stmt = select(TaxRateRow, TaxCategoryRow.code).outerjoin(
            TaxCategoryRow, TaxCategoryRow.id == TaxRateRow.category_id
        )
        async with self._db.read() as s:
            if request.tax_zone:
                stmt = stmt.where(TaxRateRow.zone_id == parse_name(request.tax_zone, "taxZones", "txz", "tax_zone"))
            if request.country_code:
                if not COUNTRY.match(request.country_code.upper()):
                    raise_violations([FieldViolation("country_code", "ISO 3166-1 alpha-2")])
                address = Address(request.country_code.upper(), request.postal_code, request.region_code)
                zones = await matching_zones(s, address)
                now = self._clock.now()
                stmt = stmt.where(TaxRateRow.zone_id.in_([z.id for z in zones]))
                stmt = stmt.where((TaxRateRow.valid_from.is_(None)) | (TaxRateRow.valid_from <= now))
                stmt = stmt.where((TaxRateRow.valid_until.is_(None)) | (TaxRateRow.valid_until > now))
            if request.tax_category:
                stmt = stmt.where(TaxCategoryRow.code == request.tax_category)
            rows = (
                await s.execute(
                    stmt.order_by(TaxRateRow.zone_id, TaxRateRow.priority, TaxRateRow.id).offset(offset).limit(size + 1)
                )
            ).all()
        token = self._tokens.encode(offset + size, key) if len(rows) > size else ""
        return tax_pb2.ListTaxRatesResponse(
            tax_rates=[convert.rate_to_proto(row, code or "") for row, code in rows[:size]], next_page_token=token
        )

    async def update_rate(self, rate: tax_pb2.TaxRate, mask: FieldMask) -> tax_pb2.TaxRate:
        rate_id = parse_name(rate.name, "taxRates", "txr", "tax_rate.name")
        paths = resolve_mask(mask, rate, RATE_PATHS)
        self._rate_checks(rate, paths)
        now = self._clock.now()
        async with self._write() as s:
            row = await self._rate_row(s, rate_id)
            if "tax_category" in paths:
                row.category_id = await self._category_id(s, rate.tax_category)
            if "display_name" in paths:
                row.name = rate.display_name
            if "rate" in paths:
                row.rate = parse_rate(rate.rate, "tax_rate.rate")
            if "applies_to_shipping" in paths:
                row.applies_to_shipping = rate.applies_to_shipping
            if "priority" in paths:
                row.priority = rate.priority
            if "valid_from" in paths:
                row.valid_from = _time(rate.valid_from, rate.HasField("valid_from"))
            if "valid_until" in paths:
                row.valid_until = _time(rate.valid_until, rate.HasField("valid_until"))
            if row.valid_from and row.valid_until and row.valid_until <= row.valid_from:
                raise_violations([FieldViolation("tax_rate.valid_until", "must be after valid_from")])
            row.updated_at = now
            await s.flush()
            updated = await self._rate_proto(s, row)
            record_event(s, "tax_rate.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_rate(self, name: str) -> None:
        rate_id = parse_name(name, "taxRates", "txr")
        now = self._clock.now()
        async with self._write() as s:
            deleted = await self._rate_proto(s, await self._rate_row(s, rate_id))
            await s.execute(delete(TaxRateRow).where(TaxRateRow.id == rate_id))
            record_event(s, "tax_rate.deleted", deleted.name, deleted, now)

    async def _rate_row(self, s: AsyncSession, rate_id: str) -> TaxRateRow:
        row = await s.get(TaxRateRow, rate_id)
        if row is None:
            raise TaxError(
                TAX_RATE_NOT_FOUND, f"Tax rate taxRates/{rate_id} does not exist.", taxRate=f"taxRates/{rate_id}"
            )
        return row

    # -- exemptions ----------------------------------------------------------------------
    async def _customer(self, s: AsyncSession, customer_id: str, name: str) -> None:
        if await self._customers.get(s, customer_id) is None:
            raise TaxError(CUSTOMER_NOT_FOUND, f"Customer {name} does not exist.", customer=name)

    async def create_exemption(self, parent: str, exemption: tax_pb2.TaxExemption) -> tax_pb2.TaxExemption:
        customer_id = parse_name(parent, "customers", "cus", "parent")
        zone_id = (
            parse_name(exemption.tax_zone, "taxZones", "txz", "tax_exemption.tax_zone") if exemption.tax_zone else None
        )
        violations = []
        kind = exemption.exemption_type or "other"
        if kind not in EXEMPTION_TYPES:
            violations.append(FieldViolation("tax_exemption.exemption_type", f"one of {', '.join(EXEMPTION_TYPES)}"))
        if len(exemption.certificate_number) > 100:
            violations.append(FieldViolation("tax_exemption.certificate_number", "at most 100 characters"))
        if (
            exemption.HasField("valid_from")
            and exemption.HasField("valid_until")
            and exemption.valid_until.ToDatetime() <= exemption.valid_from.ToDatetime()
        ):
            violations.append(FieldViolation("tax_exemption.valid_until", "must be after valid_from"))
        raise_violations(violations)
        now = self._clock.now()
        async with self._write() as s:
            await self._customer(s, customer_id, parent)
            if zone_id is not None:
                await self._zone_row(s, zone_id, "tax_exemption.tax_zone")
            row = TaxExemptionRow(
                id=new_id("txe", now), customer_id=customer_id, zone_id=zone_id, exemption_type=kind,
                certificate_number=exemption.certificate_number,
                valid_from=_time(exemption.valid_from, exemption.HasField("valid_from")),
                valid_until=_time(exemption.valid_until, exemption.HasField("valid_until")),
                active=True, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await s.flush()
            created = convert.exemption_to_proto(row)
            record_event(s, "tax_exemption.created", created.name, created, now)
        return created

    async def list_exemptions(self, request: tax_pb2.ListTaxExemptionsRequest) -> tax_pb2.ListTaxExemptionsResponse:
        customer_id = parse_name(request.parent, "customers", "cus", "parent")
        size = page_size(request.page_size)
        key = f"taxExemptions:{request.parent}"
        offset = self._tokens.decode(request.page_token, key)
        async with self._db.read() as s:
            await self._customer(s, customer_id, request.parent)
            stmt = (
                select(TaxExemptionRow).where(TaxExemptionRow.customer_id == customer_id).order_by(TaxExemptionRow.id)
            )
            rows = (await s.scalars(stmt.offset(offset).limit(size + 1))).all()
        token = self._tokens.encode(offset + size, key) if len(rows) > size else ""
        return tax_pb2.ListTaxExemptionsResponse(
            tax_exemptions=[convert.exemption_to_proto(r) for r in rows[:size]], next_page_token=token
        )

    async def delete_exemption(self, name: str) -> None:
        customer_id, exemption_id = parse_child_name(name, "customers", "cus", "taxExemptions", "txe")
        now = self._clock.now()
        async with self._write() as s:
            row = await s.get(TaxExemptionRow, exemption_id)
            if row is None or row.customer_id != customer_id:
                raise TaxError(TAX_EXEMPTION_NOT_FOUND, f"Tax exemption {name} does not exist.", taxExemption=name)
            deleted = convert.exemption_to_proto(row)
            await s.execute(delete(TaxExemptionRow).where(TaxExemptionRow.id == exemption_id))
            record_event(s, "tax_exemption.deleted", deleted.name, deleted, now)

    # -- VAT ids and preview -------------------------------------------------------------
    async def validate_vat_id(self, vat_id: str) -> tax_pb2.VatIdValidation:
        """The verdict for a valid id; INVALID_VAT_ID (with ``cause``) for a bad one. The
        registry's answer is cached either way (the error is raised after commit)."""
        _require_vat_id(vat_id, "vat_id")
        async with self._db.transaction() as s:
            verdict = await self._vat.check(s, vat_id)
        _raise_if_invalid(verdict, "vat_id")
        validation = tax_pb2.VatIdValidation(vat_id=verdict.vat_id, country_code=verdict.country, valid=True,
                                             business_name=verdict.business_name, business_address=verdict.business_address)  # fmt: skip
        validation.validate_time.FromDatetime(self._clock.now())
        return validation

    async def calculate(self, request: tax_pb2.CalculateTaxRequest) -> tax_pb2.TaxCalculation:
        """The preview: validates the request, then runs the calculator like checkout does."""
        violations: list[FieldViolation] = []
        if not is_currency(request.currency_code):
            violations.append(FieldViolation("currency_code", "an active ISO 4217 code, upper case"))
        country = request.destination.country_code.upper()
        if country and not COUNTRY.match(country):
            violations.append(FieldViolation("destination.country_code", "ISO 3166-1 alpha-2"))
        seen: set[str] = set()
        for i, line in enumerate(request.lines):
            if not line.line_id or line.line_id in seen:
                violations.append(FieldViolation(f"lines[{i}].line_id", "required and unique"))
            seen.add(line.line_id)
            if not 0 <= line.amount <= MAX_AMOUNT:
                violations.append(FieldViolation(f"lines[{i}].amount", f"from 0 to {MAX_AMOUNT} minor units"))
            if line.quantity < 0:
                violations.append(FieldViolation(f"lines[{i}].quantity", "must not be negative"))
        if not 0 <= request.shipping_amount <= MAX_AMOUNT:
            violations.append(FieldViolation("shipping_amount", f"from 0 to {MAX_AMOUNT} minor units"))
        raise_violations(violations)
        customer_id = parse_name(request.customer, "customers", "cus", "customer") if request.customer else ""
        async with self._db.transaction() as s:
            if request.vat_id:
                _raise_if_invalid(await self._vat.check(s, request.vat_id), "vat_id")
            exempt, vat_id = False, request.vat_id
            if customer_id:
                profile = await self._customers.get(s, customer_id)
                if profile is None:
                    raise TaxError(
                        CUSTOMER_NOT_FOUND, f"Customer {request.customer} does not exist.", customer=request.customer
                    )
                exempt, vat_id = profile.tax_exempt, vat_id or profile.vat_id
            tax_request = TaxRequest(
                currency=request.currency_code,
                destination=address_from_proto(request.destination),
                lines=tuple(
                    TaxLine(line.line_id, line.amount, line.tax_category, line.quantity or 1) for line in request.lines
                ),
                shipping_amount=request.shipping_amount,
                prices_include_tax=request.prices_include_tax,
                customer_id=customer_id,
                customer_tax_exempt=exempt,
                vat_id=vat_id,
                origin_country=self._calculator.origin_country,
            )
            result = await self._calculator.calculate(s, tax_request, request.provider or self._default_provider)
        return convert.result_to_proto(
            result, request.currency_code, request.shipping_amount, inclusive=request.prices_include_tax
        )

    async def list_transactions(
        self, request: tax_pb2.ListTaxTransactionsRequest
    ) -> tax_pb2.ListTaxTransactionsResponse:
        async with self._db.read() as s:
            return await list_transactions(s, self._tokens, request)

    # -- helpers -------------------------------------------------------------------------
    async def _flush(self, s: AsyncSession, taken: Reason, code: str) -> None:
        """Flush; a unique-code race lost to a concurrent create is ``taken``."""
        try:
            async with s.begin_nested():
                await s.flush()
        except IntegrityError as exc:
            raise TaxError(taken, f"Another resource already uses the code {code!r}.", code=code) from exc


def _require_vat_id(vat_id: str, field: str) -> None:
    if not vat_id.strip():
        raise_violations([FieldViolation(field, "required")])


def _raise_if_invalid(verdict: VatCheck, field: str) -> None:
    if not verdict.valid:
        why = _VAT_CAUSES.get(verdict.reason, "is not valid")
        raise TaxError(INVALID_VAT_ID, f"The VAT id {verdict.vat_id} {why}.", vatId=verdict.vat_id,
                       cause=verdict.reason, field=field)  # fmt: skip


def _zone_type(zone: tax_pb2.TaxZone) -> str:
    return "district" if zone.postal_patterns else "state" if zone.region_code else "country"
