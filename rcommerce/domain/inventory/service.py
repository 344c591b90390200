"""The inventory service behind InventoryService: validates requests, runs each command in
one transaction with its events, and answers the list queries. Reservations and stock
changes are delegated to :class:`Stock` and :class:`Ledger`, which other contexts call
inside their own transactions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.catalog._base import GENERATION_KEY
from rcommerce.domain.catalog.errors import VARIANT_NOT_FOUND
from rcommerce.domain.catalog.models import VariantRow
from rcommerce.domain.inventory import _store, convert, levels
from rcommerce.domain.inventory._store import DEFAULT_LOCATION_ID, SYSTEM_ACTOR, VariantInfo
from rcommerce.domain.inventory.errors import (
    ALERT_ALREADY_ACKNOWLEDGED,
    ALERT_NOT_FOUND,
    LOCATION_CODE_TAKEN,
    LOCATION_NOT_EMPTY,
    RESERVATION_NOT_FOUND,
    InventoryError,
)
from rcommerce.domain.inventory.ledger import Ledger
from rcommerce.domain.inventory.models import (
    InventoryItemRow,
    InventoryLevelRow,
    ReservationRow,
    StockAlertRow,
    StockLocationRow,
    StockMovementRow,
)
from rcommerce.domain.inventory.stock import Stock
from rcommerce.errors import INVALID_RESOURCE_NAME, FieldViolation, RequestError, invalid, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import inventory_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size

__all__ = ["InventoryService"]

I = inventory_pb2  # noqa: E741
LOCATION_PATHS = ("display_name", "code", "address", "active")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: Reasons ReleaseReservation accepts from clients (expiry and completion are the system's).
_CLIENT_RELEASE_REASONS = ("manual_release", "order_cancelled")


def actor_of(principal: Principal) -> str:
    return principal.subject or SYSTEM_ACTOR


def parse_location(value: str, field: str = "location") -> str:
    return parse_name(value, "stockLocations", "sloc", field)


def parse_variant(value: str, field: str = "variant") -> tuple[str, str]:
    return parse_child_name(value, "products", "prod", "variants", "var", field)


def parse_inventory(value: str, field: str = "name") -> tuple[str, str]:
    """(product id, variant id) of "products/{p}/variants/{v}/inventory"."""
    head, sep, tail = value.rpartition("/")
    if not sep or tail != "inventory":
        raise RequestError(
            INVALID_RESOURCE_NAME, f"{field} must look like products/prod_.../variants/var_.../inventory, not {value!r}.",
            violations=[FieldViolation(field, "expected products/prod_.../variants/var_.../inventory")], field=field, value=value,
        )  # fmt: skip
    return parse_variant(head, field)


class InventoryService:
    """Commands and queries of InventoryService (see inventory.proto)."""

    def __init__(
        self, db: Database, cache: Cache, clock: Clock, page_tokens: PageTokens, *, low_stock_threshold: int = 20,
        reservation_timeout_minutes: int = 30,
    ) -> None:  # fmt: skip
        self._db = db
        self._cache = cache
        self._clock = clock
        self._tokens = page_tokens
        self.threshold = low_stock_threshold
        self.reservation_timeout = timedelta(minutes=reservation_timeout_minutes)
        self.stock = Stock(
            clock, low_stock_threshold=low_stock_threshold, reservation_timeout_minutes=reservation_timeout_minutes
        )
        self.ledger = Ledger(clock, low_stock_threshold=low_stock_threshold)

    @asynccontextmanager
    async def _write(self, *, touches_catalog: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction; a code taken concurrently becomes LOCATION_CODE_TAKEN. When
        on hand changed, cached catalog reads (inventory_quantity) are invalidated."""
        try:
            async with self._db.transaction() as session:
                yield session
        except IntegrityError as exc:
            if is_unique_violation(exc) and ("code" in str(exc.orig)):
                raise InventoryError(LOCATION_CODE_TAKEN, "Another stock location already uses this code.") from exc
            raise
        if touches_catalog:
            await self._cache.incr(GENERATION_KEY)

    async def _variant(self, session: AsyncSession, product_id: str, variant_id: str, name: str) -> VariantInfo:
        info = (await _store.variant_infos(session, [variant_id])).get(variant_id)
        if info is None or info.product_id != product_id:
            raise InventoryError(VARIANT_NOT_FOUND, f"Variant {name} does not exist.", variant=name)
        return info

    def _page(self, request: Any) -> tuple[int, int, str]:
        size = page_size(request.page_size)
        fp = fingerprint(request)
        return size, self._tokens.decode(request.page_token, fp), fp

    def _next(self, rows: Sequence[Any], size: int, offset: int, fp: str) -> tuple[list[Any], str]:
        page = list(rows[:size])
        return page, self._tokens.encode(offset + size, fp) if len(rows) > size else ""

    # -- locations ------------------------------------------------------------------
    def _location_violations(self, loc: I.StockLocation, paths: Sequence[str]) -> list[FieldViolation]:
        out: list[FieldViolation] = []
        if "display_name" in paths and not 0 < len(loc.display_name.strip()) <= 255:
            out.append(FieldViolation("stock_location.display_name", "is required, at most 255 characters"))
        if "code" in paths and not _CODE.match(loc.code):
            out.append(
                FieldViolation(
                    "stock_location.code", "is required: lower-case letters, digits, '-' and '_', at most 64 characters"
                )
            )
        if "address" in paths and loc.address.country_code and not re.fullmatch(r"[A-Z]{2}", loc.address.country_code):
            out.append(
                FieldViolation("stock_location.address.country_code", "must be an upper-case ISO 3166-1 alpha-2 code")
            )
        return out

    async def _code_free(self, session: AsyncSession, code: str, except_id: str = "") -> None:
        found = await session.scalar(select(StockLocationRow.id).where(StockLocationRow.code == code))
        if found is not None and found != except_id:
            raise InventoryError(LOCATION_CODE_TAKEN, f"Stock location code {code!r} is taken.", code=code)

    async def create_location(self, loc: I.StockLocation) -> I.StockLocation:
        raise_violations(self._location_violations(loc, LOCATION_PATHS))
        now = self._clock.now()
        row = StockLocationRow(
            id=new_id("sloc", now), name=loc.display_name.strip(), code=loc.code, address=convert.address_to_db(loc.address),
            is_active=loc.active if loc.HasField("active") else True, is_default=False, created_at=now, updated_at=now,
        )  # fmt: skip
        async with self._write() as s:
            await self._code_free(s, loc.code)
            s.add(row)
            await s.flush()
            created = convert.location_to_proto(row)
            record_event(s, "stock_location.created", created.name, created, now)
        return created

    async def get_location(self, name: str) -> I.StockLocation:
        location_id = parse_location(name, "name")
        async with self._db.read() as s:
            return convert.location_to_proto(await _store.get_location(s, location_id))

    async def list_locations(self, request: I.ListStockLocationsRequest) -> I.ListStockLocationsResponse:
        size, offset, fp = self._page(request)
        async with self._db.read() as s:
            rows = (
                await s.scalars(
                    select(StockLocationRow)
                    .order_by(StockLocationRow.is_default.desc(), StockLocationRow.id)
                    .offset(offset)
                    .limit(size + 1)
                )
            ).all()
        page, token = self._next(rows, size, offset, fp)
        return I.ListStockLocationsResponse(
            stock_locations=[convert.location_to_proto(r) for r in page], next_page_token=token
        )

    async def update_location(self, loc: I.StockLocation, mask: FieldMask) -> I.StockLocation:
        location_id = parse_location(loc.name, "stock_location.name")
        paths = resolve_mask(mask, loc, LOCATION_PATHS)
        raise_violations(self._location_violations(loc, paths))
        now = self._clock.now()
        async with self._write(touches_catalog=False) as s:
            row = await _store.get_location(s, location_id)
            was_active = row.is_active
            if "display_name" in paths:
                row.name = loc.display_name.strip()
            if "code" in paths:
                await self._code_free(s, loc.code, location_id)
                row.code = loc.code
            if "address" in paths:
                row.address = convert.address_to_db(loc.address)
            if "active" in paths:
                if row.is_default and not loc.active:
                    raise invalid("stock_location.active", "the default location cannot be deactivated")
                row.is_active = loc.active
            row.updated_at = now
            await s.flush()
            if row.is_active != was_active:
                # Availability of every variant stocked there changed: move their statuses.
                ids = (
                    await s.scalars(
                        select(InventoryLevelRow.variant_id).where(InventoryLevelRow.location_id == location_id)
                    )
                ).all()
                for info in (await _store.variant_infos(s, ids)).values():
                    await _store.refresh(s, info, self.threshold, now, on_hand_changed=False)
            updated = convert.location_to_proto(row)
            record_event(s, "stock_location.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_location(self, name: str) -> None:
        location_id = parse_location(name, "name")
        now = self._clock.now()
        async with self._write() as s:
            row = await _store.get_location(s, location_id)
            held = await s.scalar(
                select(func.count()).select_from(InventoryLevelRow).where(
                    InventoryLevelRow.location_id == location_id, (InventoryLevelRow.on_hand != 0) | (InventoryLevelRow.reserved != 0)
                )
            )  # fmt: skip
            if row.is_default or held:
                raise InventoryError(
                    LOCATION_NOT_EMPTY,
                    f"Stock location {name} is the default location." if row.is_default else f"Stock location {name} still holds stock of {held} variants.",
                    location=name, variantsWithStock=int(held or 0),
                )  # fmt: skip
            gone = convert.location_to_proto(row)
            await s.delete(row)
            record_event(s, "stock_location.deleted", gone.name, gone, now)

    # -- levels ---------------------------------------------------------------------
    async def get_level(self, name: str) -> I.InventoryLevel:
        product_id, variant_id = parse_inventory(name)
        async with self._db.read() as s:
            info = await self._variant(s, product_id, variant_id, name.removesuffix("/inventory"))
            return await _store.level_proto(s, info, self.threshold)

    def _status_expr(self) -> Any:
        """The stored status, or for a variant inventory never touched, the status of
        its catalog quantity (same rule as levels.stock_status, in SQL)."""
        q, t = VariantRow.inventory_quantity, self.threshold
        derived = case(
            (q <= 0, levels.OUT_OF_STOCK), (q >= t, levels.IN_STOCK), (2 * q < t, levels.CRITICAL), else_=levels.LOW
        )  # fmt: skip
        return func.coalesce(InventoryItemRow.stock_status, derived)

    async def list_levels(self, request: I.ListInventoryLevelsRequest) -> I.ListInventoryLevelsResponse:
        size, offset, fp = self._page(request)
        status_expr = self._status_expr()
        query: Select[Any] = (
            select(VariantRow.id)
            .outerjoin(InventoryItemRow, InventoryItemRow.variant_id == VariantRow.id)
            .where(VariantRow.manage_inventory.is_(True))
        )
        if request.product:
            query = query.where(VariantRow.product_id == parse_name(request.product, "products", "prod", "product"))
        if request.variant:
            query = query.where(VariantRow.id == parse_variant(request.variant)[1])
        location_id = parse_location(request.location) if request.location else None
        if request.stock_status:
            if request.stock_status not in convert.STATUS_FROM_PROTO:
                raise invalid("stock_status", "must be IN_STOCK, LOW, CRITICAL or OUT_OF_STOCK")
            query = query.where(status_expr == convert.STATUS_FROM_PROTO[request.stock_status])
        if request.low_stock_only:
            query = query.where(status_expr.in_(levels.ALERT_LEVELS))
        async with self._db.read() as s:
            if location_id is not None:
                await _store.get_location(s, location_id)
                at = select(InventoryLevelRow.variant_id).where(InventoryLevelRow.location_id == location_id)
                if location_id == DEFAULT_LOCATION_ID:
                    never = (
                        ~select(InventoryLevelRow.variant_id)
                        .where(InventoryLevelRow.variant_id == VariantRow.id)
                        .exists()
                    )
                    query = query.where(VariantRow.id.in_(at) | never)
                else:
                    query = query.where(VariantRow.id.in_(at))
            ids = (await s.scalars(query.order_by(VariantRow.id).offset(offset).limit(size + 1))).all()
            page, token = self._next(ids, size, offset, fp)
            infos = await _store.variant_infos(s, page)
            out = [await _store.level_proto(s, infos[v], self.threshold, location_id=location_id) for v in page]
        return I.ListInventoryLevelsResponse(inventory_levels=out, next_page_token=token)

    # -- stock changes --------------------------------------------------------------
    async def _change(self, name: str, location: str, location_field: str, run: Any) -> I.InventoryChange:
        product_id, variant_id = parse_inventory(name)
        location_id = parse_location(location, location_field) if location else DEFAULT_LOCATION_ID
        async with self._write(touches_catalog=True) as s:
            info = await self._variant(s, product_id, variant_id, name.removesuffix("/inventory"))
            moves: list[StockMovementRow] = await run(s, info.id, location_id)
            level = await _store.level_proto(s, info, self.threshold)
        return I.InventoryChange(inventory_level=level, movements=[convert.movement_to_proto(m) for m in moves])

    async def adjust(self, request: I.AdjustInventoryRequest, principal: Principal) -> I.InventoryChange:
        async def run(s: AsyncSession, variant_id: str, location_id: str) -> list[StockMovementRow]:
            return await self.ledger.adjust(
                s, variant_id=variant_id, location_id=location_id, adjustment=request.adjustment, reason=request.reason,
                actor=actor_of(principal), notes=request.notes, reference=request.reference,
            )  # fmt: skip

        return await self._change(request.name, request.location, "location", run)

    async def set(self, request: I.SetInventoryRequest, principal: Principal) -> I.InventoryChange:
        async def run(s: AsyncSession, variant_id: str, location_id: str) -> list[StockMovementRow]:
            return await self.ledger.set(
                s, variant_id=variant_id, location_id=location_id, quantity=request.quantity, actor=actor_of(principal),
                notes=request.notes, reference=request.reference,
            )  # fmt: skip

        return await self._change(request.name, request.location, "location", run)

    async def receive(self, request: I.ReceiveInventoryRequest, principal: Principal) -> I.InventoryChange:
        cost = request.cost_per_unit if request.HasField("cost_per_unit") else None

        async def run(s: AsyncSession, variant_id: str, location_id: str) -> list[StockMovementRow]:
            return await self.ledger.receive(
                s, variant_id=variant_id, location_id=location_id, quantity=request.quantity, actor=actor_of(principal),
                cost_per_unit=cost.amount if cost else 0, currency_code=cost.currency_code if cost else "",
                notes=request.notes, reference=request.reference,
            )  # fmt: skip

        return await self._change(request.name, request.location, "location", run)

    async def transfer(self, request: I.TransferInventoryRequest, principal: Principal) -> I.InventoryChange:
        if not request.from_location:
            raise invalid("from_location", "is required")
        if not request.to_location:
            raise invalid("to_location", "is required")
        to_id = parse_location(request.to_location, "to_location")

        async def run(s: AsyncSession, variant_id: str, location_id: str) -> list[StockMovementRow]:
            return await self.ledger.transfer(
                s, variant_id=variant_id, from_location_id=location_id, to_location_id=to_id, quantity=request.quantity,
                actor=actor_of(principal), notes=request.notes, reference=request.reference,
            )  # fmt: skip

        return await self._change(request.name, request.from_location, "from_location", run)

    async def list_movements(self, request: I.ListStockMovementsRequest) -> I.ListStockMovementsResponse:
        size, offset, fp = self._page(request)
        query = select(StockMovementRow)
        if request.product:
            query = query.where(
                StockMovementRow.product_id == parse_name(request.product, "products", "prod", "product")
            )
        if request.variant:
            query = query.where(StockMovementRow.variant_id == parse_variant(request.variant)[1])
        if request.location:
            query = query.where(StockMovementRow.location_id == parse_location(request.location))
        if request.movement_type:
            if request.movement_type not in convert.MOVEMENT_FROM_PROTO:
                raise invalid("movement_type", "is not a known movement type")
            query = query.where(StockMovementRow.movement_type == convert.MOVEMENT_FROM_PROTO[request.movement_type])
        if request.reference:
            query = query.where(StockMovementRow.reference == request.reference)
        if request.HasField("start_time"):
            query = query.where(
                StockMovementRow.created_at >= request.start_time.ToDatetime(tzinfo=self._clock.now().tzinfo)
            )
        if request.HasField("end_time"):
            query = query.where(
                StockMovementRow.created_at < request.end_time.ToDatetime(tzinfo=self._clock.now().tzinfo)
            )
        async with self._db.read() as s:
            rows = (
                await s.scalars(
                    query.order_by(StockMovementRow.created_at.desc(), StockMovementRow.id.desc())
                    .offset(offset)
                    .limit(size + 1)
                )
            ).all()
        page, token = self._next(rows, size, offset, fp)
        return I.ListStockMovementsResponse(
            stock_movements=[convert.movement_to_proto(r) for r in page], next_page_token=token
        )

    # -- reservations ---------------------------------------------------------------
    async def _reservation(self, s: AsyncSession, reservation_id: str) -> ReservationRow:
        row = await s.get(ReservationRow, reservation_id, populate_existing=True)
        if row is None:
            name = convert.reservation_name(reservation_id)
            raise InventoryError(RESERVATION_NOT_FOUND, f"Reservation {name} does not exist.", reservation=name)
        return row

    async def create_reservation(self, request: I.CreateReservationRequest) -> I.CreateReservationResponse:
        if not request.variant:
            raise invalid("variant", "is required")
        product_id, variant_id = parse_variant(request.variant)
        location_id = parse_location(request.location) if request.location else None
        if not 0 < request.quantity <= 1_000_000_000:
            raise invalid("quantity", "must be 1 to 1000000000", quantity=request.quantity)
        if not 0 < len(request.reference) <= 255:
            raise invalid("reference", "is required, at most 255 characters")
        now = self._clock.now()
        expires_at = (
            request.expire_time.ToDatetime(tzinfo=now.tzinfo)
            if request.HasField("expire_time")
            else now + self.reservation_timeout
        )
        if expires_at <= now:
            raise invalid("expire_time", "must be in the future")
        async with self._write() as s:
            await self._variant(s, product_id, variant_id, request.variant)
            ids = await self.stock.reserve(
                s,
                variant_id=variant_id,
                quantity=request.quantity,
                reference=request.reference,
                location_id=location_id,
                expires_at=expires_at,
            )
            await s.flush()  # reserve may leave the new reservations pending; get() does not flush
            rows = [await self._reservation(s, i) for i in ids]
            return I.CreateReservationResponse(reservations=[convert.reservation_to_proto(r) for r in rows])

    async def release_reservation(self, request: I.ReleaseReservationRequest) -> I.Reservation:
        reservation_id = parse_name(request.name, "reservations", "rsv")
        reason = request.reason or "manual_release"
        if reason not in _CLIENT_RELEASE_REASONS:
            raise invalid("reason", f"must be one of {', '.join(_CLIENT_RELEASE_REASONS)}", reason=reason)
        async with self._write() as s:
            await self.stock.release(s, reservation_id, reason)
            return convert.reservation_to_proto(await self._reservation(s, reservation_id))

    async def convert_reservation(self, request: I.ConvertReservationRequest, principal: Principal) -> I.Reservation:
        reservation_id = parse_name(request.name, "reservations", "rsv")
        if request.quantity < 0:
            raise invalid("quantity", "must not be negative (0 converts all of it)")
        async with self._write(touches_catalog=True) as s:
            await self.stock.convert(s, reservation_id, request.quantity or None, actor=actor_of(principal))
            return convert.reservation_to_proto(await self._reservation(s, reservation_id))

    async def list_reservations(self, request: I.ListReservationsRequest) -> I.ListReservationsResponse:
        size, offset, fp = self._page(request)
        query = select(ReservationRow)
        if request.variant:
            query = query.where(ReservationRow.variant_id == parse_variant(request.variant)[1])
        if request.reference:
            query = query.where(ReservationRow.reference == request.reference)
        if request.status:
            if request.status not in convert.RESERVATION_FROM_PROTO:
                raise invalid("status", "is not a known reservation status")
            query = query.where(ReservationRow.status == convert.RESERVATION_FROM_PROTO[request.status])
        async with self._db.read() as s:
            rows = (
                await s.scalars(
                    query.order_by(ReservationRow.created_at.desc(), ReservationRow.id.desc())
                    .offset(offset)
                    .limit(size + 1)
                )
            ).all()
        page, token = self._next(rows, size, offset, fp)
        return I.ListReservationsResponse(
            reservations=[convert.reservation_to_proto(r) for r in page], next_page_token=token
        )

    async def expire_reservations(self) -> int:
        """One sweep of the expiry job: expire every lapsed reservation, 100 per transaction."""
        total = 0
        while True:
            async with self._write() as s:
                expired = await self.stock.expire_due(s, limit=100)
            total += expired
            if expired < 100:
                return total

    # -- alerts ---------------------------------------------------------------------
    async def list_alerts(self, request: I.ListStockAlertsRequest) -> I.ListStockAlertsResponse:
        size, offset, fp = self._page(request)
        query = select(StockAlertRow)
        if request.alert_level:
            if request.alert_level not in convert.ALERT_FROM_PROTO:
                raise invalid("alert_level", "must be LOW, CRITICAL or OUT_OF_STOCK")
            query = query.where(StockAlertRow.alert_level == convert.ALERT_FROM_PROTO[request.alert_level])
        if request.HasField("acknowledged"):
            query = query.where(StockAlertRow.acknowledged.is_(request.acknowledged))
        if request.variant:
            query = query.where(StockAlertRow.variant_id == parse_variant(request.variant)[1])
        async with self._db.read() as s:
            rows = (
                await s.scalars(
                    query.order_by(StockAlertRow.created_at.desc(), StockAlertRow.id.desc())
                    .offset(offset)
                    .limit(size + 1)
                )
            ).all()
        page, token = self._next(rows, size, offset, fp)
        return I.ListStockAlertsResponse(stock_alerts=[convert.alert_to_proto(r) for r in page], next_page_token=token)

    async def acknowledge_alert(self, request: I.AcknowledgeStockAlertRequest, principal: Principal) -> I.StockAlert:
        alert_id = parse_name(request.name, "stockAlerts", "salrt")
        if len(request.notes) > 2000:
            raise invalid("notes", "must be at most 2000 characters")
        now = self._clock.now()
        async with self._write() as s:
            row = await s.scalar(select(StockAlertRow).where(StockAlertRow.id == alert_id).with_for_update())
            if row is None:
                raise InventoryError(ALERT_NOT_FOUND, f"Stock alert {request.name} does not exist.", alert=request.name)
            if row.acknowledged:
                raise InventoryError(
                    ALERT_ALREADY_ACKNOWLEDGED, f"Stock alert {request.name} was acknowledged by {row.acknowledged_by}.",
                    alert=request.name, acknowledgedBy=row.acknowledged_by,
                )  # fmt: skip
            row.acknowledged, row.acknowledged_by, row.acknowledged_at, row.notes = (
                True,
                actor_of(principal),
                now,
                request.notes,
            )
            acknowledged = convert.alert_to_proto(row)
            record_event(s, "inventory.alert_acknowledged", acknowledged.name, acknowledged, now)
        return acknowledged
