"""The shipping admin service behind the API: profiles, zones, rates and rules (CRUD,
one transaction per command with its event in the outbox), and the quote preview."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.shipping import convert, repository, rule_convert
from rcommerce.domain.shipping.errors import (
    SHIPPING_PROFILE_IN_USE,
    SHIPPING_PROFILE_NOT_FOUND,
    SHIPPING_QUOTE_NOT_FOUND,
    SHIPPING_RATE_NOT_FOUND,
    SHIPPING_RULE_NOT_FOUND,
    SHIPPING_ZONE_NOT_FOUND,
    ShippingError,
)
from rcommerce.domain.shipping.models import (
    ShippingProfileRow,
    ShippingQuoteRow,
    ShippingRateRow,
    ShippingRuleRow,
    ShippingZoneRow,
)
from rcommerce.domain.shipping.preview import shipment_request
from rcommerce.domain.shipping.quoting import ShippingQuoter
from rcommerce.errors import invalid, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size

__all__ = ["ShippingService"]

M = TypeVar("M", bound=Message)
Row = TypeVar("Row", ShippingProfileRow, ShippingZoneRow, ShippingRateRow, ShippingRuleRow)

PROFILE_PATHS = ("display_name", "description", "products")
ZONE_PATHS = (
    "display_name",
    "position",
    "active",
    "countries",
    "exclude_countries",
    "states",
    "postal_codes",
    "postal_ranges",
)
RATE_PATHS = (
    "display_name", "service_code", "currency_code", "kind", "amount", "per_unit_amount", "weight_unit", "brackets",
    "tiers", "handling_fee", "fuel_surcharge_percent", "free_over", "min_weight", "max_weight", "volumetric",
    "shipping_profile", "min_days", "max_days", "active", "position",
)  # fmt: skip
RULE_PATHS = ("display_name", "priority", "enabled", "currency_code", "condition", "action")


def _merged(current: M, update: M, paths: Sequence[str]) -> M:
    merged: M = type(current)()
    merged.CopyFrom(current)
    for path in paths:
        merged.ClearField(path)
    FieldMask(paths=list(paths)).MergeMessage(update, merged, replace_message_field=True, replace_repeated_field=True)
    return merged


def _apply(row: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)


class ShippingService:
    """Admin CRUD and quote previews. Every command is one transaction with its event."""

    def __init__(
        self, db: Database, clock: Clock, page_tokens: PageTokens, quoter: ShippingQuoter,
        reference: ReferenceCache | None = None,
    ) -> None:  # fmt: skip
        self._db = db
        self._clock = clock
        self._tokens = page_tokens
        self.quoter = quoter
        #: The memo of shipping tables quoting reads; every committed write invalidates it.
        self._reference = reference

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction of the shipping tables; after commit the cached tables are
        invalidated."""
        async with self._db.transaction() as session:
            yield session
        if self._reference is not None:
            await self._reference.bump(repository.REFERENCE_NAMESPACE)

    async def _create(
        self,
        model: type[Row],
        request_id: str,
        make_row: Callable[[AsyncSession, datetime], Awaitable[Row]],
        to_message: Callable[[Row], M],
        event_type: str,
    ) -> M:
        """One create command. A non-empty ``request_id`` makes it idempotent (AIP-155): a
        retry, sequential or concurrent, answers with what the first call created."""
        if len(request_id) > 100:
            raise invalid("request_id", "must be at most 100 characters")
        if request_id and (first := await self._created_by(model, request_id, to_message)) is not None:
            return first
        now = self._clock.now()
        try:
            async with self._write() as session:
                row = await make_row(session, now)
                row.create_request_id = request_id or None
                session.add(row)
                await session.flush()
                out = to_message(row)
                record_event(session, event_type, out.name, out, now)
            return out
        except IntegrityError:
            # A concurrent retry with the same request_id committed first.
            replay = await self._created_by(model, request_id, to_message) if request_id else None
            if replay is None:
                raise
            return replay

    async def _created_by(self, model: type[Row], request_id: str, to_message: Callable[[Row], M]) -> M | None:
        async with self._db.read() as session:
            row = await session.scalar(select(model).where(model.create_request_id == request_id))
            return None if row is None else to_message(row)

    async def _page(self, session: AsyncSession, query: Any, request: Message) -> tuple[list[Any], str]:
        size = page_size(request.page_size)
        fp = fingerprint(request)
        offset = self._tokens.decode(request.page_token, fp)
        rows = list(await session.scalars(query.offset(offset).limit(size + 1)))
        token = self._tokens.encode(offset + size, fp) if len(rows) > size else ""
        return rows[:size], token

    # -- profiles ---------------------------------------------------------------------------

    async def _profile(self, session: AsyncSession, profile_id: str) -> ShippingProfileRow:
        row = await session.get(ShippingProfileRow, profile_id)
        if row is None:
            raise ShippingError(
                SHIPPING_PROFILE_NOT_FOUND,
                f"Shipping profile shippingProfiles/{profile_id} does not exist.",
                profileId=profile_id,
            )
        return row

    async def create_profile(self, msg: S.ShippingProfile, request_id: str = "") -> S.ShippingProfile:
        problems = convert.Problems()
        values = convert.profile_values(msg, problems)
        raise_violations(problems)

        async def make(session: AsyncSession, now: datetime) -> ShippingProfileRow:
            return ShippingProfileRow(id=new_id("shpr", now), created_at=now, updated_at=now, **values)

        return await self._create(
            ShippingProfileRow, request_id, make, convert.profile_message, "shipping_profile.created"
        )

    async def get_profile(self, name: str) -> S.ShippingProfile:
        profile_id = parse_name(name, "shippingProfiles", "shpr")
        async with self._db.read() as session:
            return convert.profile_message(await self._profile(session, profile_id))

    async def list_profiles(self, request: S.ListShippingProfilesRequest) -> S.ListShippingProfilesResponse:
        async with self._db.read() as session:
            query = select(ShippingProfileRow).order_by(ShippingProfileRow.created_at, ShippingProfileRow.id)
            rows, token = await self._page(session, query, request)
        return S.ListShippingProfilesResponse(
            shipping_profiles=[convert.profile_message(r) for r in rows], next_page_token=token
        )

    async def update_profile(self, request: S.UpdateShippingProfileRequest) -> S.ShippingProfile:
        profile_id = parse_name(request.shipping_profile.name, "shippingProfiles", "shpr", "shipping_profile.name")
        paths = resolve_mask(request.update_mask, request.shipping_profile, PROFILE_PATHS, "shipping_profile")
        async with self._write() as session:
            row = await self._profile(session, profile_id)
            problems = convert.Problems()
            values = convert.profile_values(
                _merged(convert.profile_message(row), request.shipping_profile, paths), problems
            )
            raise_violations(problems)
            now = self._clock.now()
            _apply(row, {**values, "updated_at": now})
            out = convert.profile_message(row)
            record_event(session, "shipping_profile.updated", out.name, out, now)
        return out

    async def delete_profile(self, name: str) -> None:
        profile_id = parse_name(name, "shippingProfiles", "shpr")
        async with self._write() as session:
            row = await self._profile(session, profile_id)
            used = await session.scalar(select(func.count()).where(ShippingRateRow.profile_id == profile_id))
            if used:
                raise ShippingError(
                    SHIPPING_PROFILE_IN_USE, f"{used} shipping rate(s) still use shippingProfiles/{profile_id}.",
                    profileId=profile_id, rates=used,
                )  # fmt: skip
            out = convert.profile_message(row)
            await session.delete(row)
            record_event(session, "shipping_profile.deleted", out.name, out, self._clock.now())

    # -- zones ------------------------------------------------------------------------------

    async def _zone(self, session: AsyncSession, zone_id: str) -> ShippingZoneRow:
        row = await session.get(ShippingZoneRow, zone_id)
        if row is None:
            raise ShippingError(
                SHIPPING_ZONE_NOT_FOUND, f"Shipping zone shippingZones/{zone_id} does not exist.", zoneId=zone_id
            )
        return row

    async def create_zone(self, msg: S.ShippingZone, request_id: str = "") -> S.ShippingZone:
        problems = convert.Problems()
        values = convert.zone_values(msg, problems)
        raise_violations(problems)

        async def make(session: AsyncSession, now: datetime) -> ShippingZoneRow:
            return ShippingZoneRow(id=new_id("shz", now), created_at=now, updated_at=now, **values)

        return await self._create(ShippingZoneRow, request_id, make, convert.zone_message, "shipping_zone.created")

    async def get_zone(self, name: str) -> S.ShippingZone:
        zone_id = parse_name(name, "shippingZones", "shz")
        async with self._db.read() as session:
            return convert.zone_message(await self._zone(session, zone_id))

    async def list_zones(self, request: S.ListShippingZonesRequest) -> S.ListShippingZonesResponse:
        async with self._db.read() as session:
            query = select(ShippingZoneRow).order_by(
                ShippingZoneRow.position, ShippingZoneRow.created_at, ShippingZoneRow.id
            )
            rows, token = await self._page(session, query, request)
        return S.ListShippingZonesResponse(
            shipping_zones=[convert.zone_message(r) for r in rows], next_page_token=token
        )

    async def update_zone(self, request: S.UpdateShippingZoneRequest) -> S.ShippingZone:
        zone_id = parse_name(request.shipping_zone.name, "shippingZones", "shz", "shipping_zone.name")
        paths = resolve_mask(request.update_mask, request.shipping_zone, ZONE_PATHS, "shipping_zone")
        async with self._write() as session:
            row = await self._zone(session, zone_id)
            problems = convert.Problems()
            values = convert.zone_values(_merged(convert.zone_message(row), request.shipping_zone, paths), problems)
            raise_violations(problems)
            now = self._clock.now()
            _apply(row, {**values, "updated_at": now})
            out = convert.zone_message(row)
            record_event(session, "shipping_zone.updated", out.name, out, now)
        return out

    async def delete_zone(self, name: str) -> None:
        zone_id = parse_name(name, "shippingZones", "shz")
        async with self._write() as session:
            row = await self._zone(session, zone_id)
            out = convert.zone_message(row)
            await session.execute(delete(ShippingRateRow).where(ShippingRateRow.zone_id == zone_id))
            await session.delete(row)
            record_event(session, "shipping_zone.deleted", out.name, out, self._clock.now())

    # -- rates ------------------------------------------------------------------------------

    async def _rate_values(self, session: AsyncSession, msg: S.ShippingRate) -> dict[str, Any]:
        problems = convert.Problems()
        values = convert.rate_values(msg, problems)
        raise_violations(problems)
        if values["profile_id"] is not None:
            await self._profile(session, values["profile_id"])
        return values

    async def _rate(self, session: AsyncSession, zone_id: str, rate_id: str) -> ShippingRateRow:
        row = await session.get(ShippingRateRow, rate_id)
        if row is None or row.zone_id != zone_id:
            raise ShippingError(
                SHIPPING_RATE_NOT_FOUND, f"Shipping rate shippingZones/{zone_id}/rates/{rate_id} does not exist.",
                zoneId=zone_id, rateId=rate_id,
            )  # fmt: skip
        return row

    async def create_rate(self, parent: str, msg: S.ShippingRate, request_id: str = "") -> S.ShippingRate:
        zone_id = parse_name(parent, "shippingZones", "shz", "parent")

        async def make(session: AsyncSession, now: datetime) -> ShippingRateRow:
            await self._zone(session, zone_id)
            values = await self._rate_values(session, msg)
            return ShippingRateRow(id=new_id("shr", now), zone_id=zone_id, created_at=now, updated_at=now, **values)

        return await self._create(ShippingRateRow, request_id, make, convert.rate_message, "shipping_rate.created")

    async def get_rate(self, name: str) -> S.ShippingRate:
        zone_id, rate_id = parse_child_name(name, "shippingZones", "shz", "rates", "shr")
        async with self._db.read() as session:
            return convert.rate_message(await self._rate(session, zone_id, rate_id))

    async def list_rates(self, request: S.ListShippingRatesRequest) -> S.ListShippingRatesResponse:
        zone_id = parse_name(request.parent, "shippingZones", "shz", "parent")
        async with self._db.read() as session:
            await self._zone(session, zone_id)
            query = (
                select(ShippingRateRow)
                .where(ShippingRateRow.zone_id == zone_id)
                .order_by(ShippingRateRow.position, ShippingRateRow.created_at, ShippingRateRow.id)
            )
            rows, token = await self._page(session, query, request)
        return S.ListShippingRatesResponse(
            shipping_rates=[convert.rate_message(r) for r in rows], next_page_token=token
        )

    async def update_rate(self, request: S.UpdateShippingRateRequest) -> S.ShippingRate:
        zone_id, rate_id = parse_child_name(
            request.shipping_rate.name, "shippingZones", "shz", "rates", "shr", "shipping_rate.name"
        )
        paths = resolve_mask(request.update_mask, request.shipping_rate, RATE_PATHS, "shipping_rate")
        async with self._write() as session:
            row = await self._rate(session, zone_id, rate_id)
            values = await self._rate_values(session, _merged(convert.rate_message(row), request.shipping_rate, paths))
            now = self._clock.now()
            _apply(row, {**values, "updated_at": now})
            out = convert.rate_message(row)
            record_event(session, "shipping_rate.updated", out.name, out, now)
        return out

    async def delete_rate(self, name: str) -> None:
        zone_id, rate_id = parse_child_name(name, "shippingZones", "shz", "rates", "shr")
        async with self._write() as session:
            row = await self._rate(session, zone_id, rate_id)
            out = convert.rate_message(row)
            await session.delete(row)
            record_event(session, "shipping_rate.deleted", out.name, out, self._clock.now())

    # -- rules ------------------------------------------------------------------------------

    async def _rule(self, session: AsyncSession, rule_id: str) -> ShippingRuleRow:
        row = await session.get(ShippingRuleRow, rule_id)
        if row is None:
            raise ShippingError(
                SHIPPING_RULE_NOT_FOUND, f"Shipping rule shippingRules/{rule_id} does not exist.", ruleId=rule_id
            )
        return row

    async def create_rule(self, msg: S.ShippingRule, request_id: str = "") -> S.ShippingRule:
        problems = convert.Problems()
        values = rule_convert.rule_values(msg, problems)
        raise_violations(problems)

        async def make(session: AsyncSession, now: datetime) -> ShippingRuleRow:
            return ShippingRuleRow(id=new_id("shru", now), created_at=now, updated_at=now, **values)

        return await self._create(ShippingRuleRow, request_id, make, rule_convert.rule_message, "shipping_rule.created")

    async def get_rule(self, name: str) -> S.ShippingRule:
        rule_id = parse_name(name, "shippingRules", "shru")
        async with self._db.read() as session:
            return rule_convert.rule_message(await self._rule(session, rule_id))

    async def list_rules(self, request: S.ListShippingRulesRequest) -> S.ListShippingRulesResponse:
        async with self._db.read() as session:
            query = select(ShippingRuleRow).order_by(
                ShippingRuleRow.priority.desc(), ShippingRuleRow.created_at, ShippingRuleRow.id
            )
            rows, token = await self._page(session, query, request)
        return S.ListShippingRulesResponse(
            shipping_rules=[rule_convert.rule_message(r) for r in rows], next_page_token=token
        )

    async def update_rule(self, request: S.UpdateShippingRuleRequest) -> S.ShippingRule:
        rule_id = parse_name(request.shipping_rule.name, "shippingRules", "shru", "shipping_rule.name")
        paths = resolve_mask(request.update_mask, request.shipping_rule, RULE_PATHS, "shipping_rule")
        async with self._write() as session:
            row = await self._rule(session, rule_id)
            problems = convert.Problems()
            values = rule_convert.rule_values(
                _merged(rule_convert.rule_message(row), request.shipping_rule, paths), problems
            )
            raise_violations(problems)
            now = self._clock.now()
            _apply(row, {**values, "updated_at": now})
            out = rule_convert.rule_message(row)
            record_event(session, "shipping_rule.updated", out.name, out, now)
        return out

    async def delete_rule(self, name: str) -> None:
        rule_id = parse_name(name, "shippingRules", "shru")
        async with self._write() as session:
            row = await self._rule(session, rule_id)
            out = rule_convert.rule_message(row)
            await session.delete(row)
            record_event(session, "shipping_rule.deleted", out.name, out, self._clock.now())

    # -- quotes -----------------------------------------------------------------------------

    async def quote(self, request: S.QuoteShippingRequest) -> S.QuoteShippingResponse:
        shipment = shipment_request(request)
        carriers = await self.quoter.ask_carriers(shipment)  # before the transaction (STYLE 5)
        async with self._db.transaction() as session:
            stored = await self.quoter.quote(session, shipment, carriers=carriers)
            rows = {
                r.id: r
                for r in await session.scalars(
                    select(ShippingQuoteRow).where(ShippingQuoteRow.id.in_([q.id for q in stored]))
                )
            }
            quotes = [convert.quote_message(rows[q.id]) for q in stored]
        zone = quotes[0].breakdown.zone if quotes else ""
        return S.QuoteShippingResponse(quotes=quotes, zone=zone)

    async def purge_expired_quotes(self, grace: timedelta = timedelta(days=1)) -> int:
        """Delete quotes that expired more than ``grace`` ago; returns how many. The grace
        keeps a just-expired quote answering SHIPPING_QUOTE_EXPIRED rather than NOT_FOUND."""
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(ShippingQuoteRow).where(ShippingQuoteRow.expires_at <= self._clock.now() - grace)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def get_quote(self, name: str) -> S.ShippingQuote:
        quote_id = parse_name(name, "shippingQuotes", "shq")
        async with self._db.read() as session:
            row = await session.get(ShippingQuoteRow, quote_id)
            if row is None:
                raise ShippingError(
                    SHIPPING_QUOTE_NOT_FOUND,
                    f"Shipping quote shippingQuotes/{quote_id} does not exist.",
                    quoteId=quote_id,
                )
            return convert.quote_message(row)
