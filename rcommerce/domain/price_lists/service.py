"""The price list service: price lists and their prices.

Every command is one transaction that appends ``price_list.created``, ``.updated`` or
``.deleted`` to the outbox. Event objects carry the list without its prices (they can be
thousands; ``price_count`` says how many) and ``changed`` names the updated fields.
Writers of one list are serialised by bumping its ``revision`` first (a row lock on
PostgreSQL and MySQL) before its prices are touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from google.protobuf import json_format, struct_pb2
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.catalog.errors import VARIANT_NOT_FOUND
from rcommerce.domain.catalog.models import VariantRow
from rcommerce.domain.price_lists import validation
from rcommerce.domain.price_lists.errors import PRICE_LIST_NOT_FOUND, PriceListError
from rcommerce.domain.price_lists.models import PriceListCustomerGroupRow, PriceListPriceRow, PriceListRow
from rcommerce.domain.price_lists.rules import PriceListStatus, PriceListType
from rcommerce.domain.regions.rules import Problem, raise_all
from rcommerce.errors import ETAG_MISMATCH, VALIDATION_FAILED, FieldViolation, RequestError
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import regions_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.timestamps import to_timestamp

__all__ = ["PRICE_LIST_PATHS", "PriceListService", "price_list_name"]

R = regions_pb2
PRICE_LIST_PATHS = (
    "title", "description", "type", "status", "start_time", "end_time", "customer_group_ids", "prices", "metadata",
)  # fmt: skip
TYPE_TO_DB = {
    R.PRICE_LIST_TYPE_SALE: PriceListType.SALE.value,
    R.PRICE_LIST_TYPE_OVERRIDE: PriceListType.OVERRIDE.value,
}
TYPE_FROM_DB = {v: k for k, v in TYPE_TO_DB.items()}
STATUS_TO_DB = {
    R.PRICE_LIST_STATUS_DRAFT: PriceListStatus.DRAFT.value,
    R.PRICE_LIST_STATUS_ACTIVE: PriceListStatus.ACTIVE.value,
}
STATUS_FROM_DB = {v: k for k, v in STATUS_TO_DB.items()}


def price_list_name(price_list_id: str) -> str:
    return f"priceLists/{price_list_id}"


def _enum_problems(value: int, allowed: Sequence[int], path: str) -> list[Problem]:
    if value in (0, *allowed):
        return []
    return [(VALIDATION_FAILED, FieldViolation(path, f"{value} is not a known value"))]


def _time(price_list: R.PriceList, field: str) -> datetime | None:
    """An unset Timestamp is None (an open end of the window)."""
    return getattr(price_list, field).ToDatetime(tzinfo=UTC) if price_list.HasField(field) else None


class PriceListService:
    """Price lists over gRPC and REST; carts read them through ``PriceResolver``."""

    def __init__(self, db: Database, clock: Clock, page_tokens: PageTokens) -> None:
        self._db = db
        self._clock = clock
        self._tokens = page_tokens

    # -- commands ----------------------------------------------------------------------
    async def create_price_list(self, price_list: R.PriceList) -> R.PriceList:
        self._validate(price_list, PRICE_LIST_PATHS, "price_list")
        raise_all(validation.check_window(_time(price_list, "start_time"), _time(price_list, "end_time"), "price_list"))
        now = self._clock.now()
        async with self._write() as s:
            await self._check_variants(s, [p.variant_id for p in price_list.prices], "price_list.prices")
            row = PriceListRow(
                id=new_id("plist", now), title="", description="", type=PriceListType.SALE.value,
                status=PriceListStatus.DRAFT.value, starts_at=None, ends_at=None, extra={}, revision=1,
                created_at=now, updated_at=now,
            )  # fmt: skip
            self._apply(row, price_list, PRICE_LIST_PATHS)
            s.add(row)
            await s.flush()
            await self._replace_children(s, row.id, price_list, PRICE_LIST_PATHS)
            created = await self._proto(s, row, with_prices=True)
            record_event(s, "price_list.created", created.name, _without_prices(created), now)
        return created

    async def update_price_list(self, price_list: R.PriceList, update_mask: FieldMask) -> R.PriceList:
        list_id = parse_name(price_list.name, "priceLists", "plist", "price_list.name")
        paths = resolve_mask(update_mask, price_list, PRICE_LIST_PATHS)
        self._validate(price_list, paths, "price_list")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._bump(s, list_id, now, price_list.etag)
            self._apply(row, price_list, paths)
            raise_all(validation.check_window(row.starts_at, row.ends_at, "price_list"))
            if "prices" in paths:
                await self._check_variants(s, [p.variant_id for p in price_list.prices], "price_list.prices")
            await s.flush()
            await self._replace_children(s, list_id, price_list, paths)
            updated = await self._proto(s, row, with_prices=True)
            record_event(s, "price_list.updated", updated.name, _without_prices(updated), now, changed=paths)
        return updated

    async def delete_price_list(self, name: str) -> None:
        list_id = parse_name(name, "priceLists", "plist")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, list_id)
            deleted = await self._proto(s, row, with_prices=False)
            await s.execute(delete(PriceListRow).where(PriceListRow.id == list_id))
            record_event(s, "price_list.deleted", deleted.name, deleted, now)

    async def add_prices(self, name: str, prices: Sequence[R.PriceListPrice]) -> R.PriceList:
        """Upsert ``prices`` by (variant, currency)."""
        list_id = parse_name(name, "priceLists", "plist", "price_list")
        raise_all(validation.check_prices(prices, "prices"))
        now = self._clock.now()
        async with self._write() as s:
            row = await self._bump(s, list_id, now)
            await self._check_variants(s, [p.variant_id for p in prices], "prices")
            existing = {
                (r.variant_id, r.currency_code): r
                for r in await s.scalars(
                    select(PriceListPriceRow).where(
                        PriceListPriceRow.price_list_id == list_id,
                        PriceListPriceRow.variant_id.in_(sorted({p.variant_id for p in prices})),
                    )
                )
            }
            for price in prices:
                found = existing.get((price.variant_id, price.currency_code))
                if found is not None:
                    found.amount = price.amount
                else:
                    s.add(_price_row(list_id, price))
            await s.flush()
            updated = await self._proto(s, row, with_prices=True)
            record_event(s, "price_list.updated", updated.name, _without_prices(updated), now, changed=["prices"])
        return updated

    async def remove_prices(self, name: str, keys: Sequence[R.PriceListPriceKey]) -> R.PriceList:
        """Delete the prices with these (variant, currency) keys; absent keys are ignored."""
        list_id = parse_name(name, "priceLists", "plist", "price_list")
        raise_all(validation.check_keys(keys, "prices"))
        wanted = {(k.variant_id, k.currency_code) for k in keys}
        now = self._clock.now()
        async with self._write() as s:
            row = await self._bump(s, list_id, now)
            for price in await s.scalars(
                select(PriceListPriceRow).where(
                    PriceListPriceRow.price_list_id == list_id,
                    PriceListPriceRow.variant_id.in_(sorted({variant_id for variant_id, _ in wanted})),
                )
            ):
                if (price.variant_id, price.currency_code) in wanted:
                    await s.delete(price)
            await s.flush()
            updated = await self._proto(s, row, with_prices=True)
            record_event(s, "price_list.updated", updated.name, _without_prices(updated), now, changed=["prices"])
        return updated

    # -- reads -------------------------------------------------------------------------
    async def get_price_list(self, name: str) -> R.PriceList:
        list_id = parse_name(name, "priceLists", "plist")
        async with self._db.read() as s:
            return await self._proto(s, await self._row(s, list_id), with_prices=True)

    async def list_price_lists(self, request: R.ListPriceListsRequest) -> R.ListPriceListsResponse:
        size = page_size(request.page_size)
        problems = _enum_problems(request.status, list(STATUS_TO_DB), "status")
        problems += _enum_problems(request.type, list(TYPE_TO_DB), "type")
        if request.customer_group_id:
            problems += validation.check_groups([request.customer_group_id], "customer_group_id")
        raise_all(problems)
        offset = self._tokens.decode(request.page_token, fingerprint(request))
        query = select(PriceListRow)
        if request.status:
            query = query.where(PriceListRow.status == STATUS_TO_DB[request.status])
        if request.type:
            query = query.where(PriceListRow.type == TYPE_TO_DB[request.type])
        if request.customer_group_id:
            query = query.where(
                PriceListRow.id.in_(
                    select(PriceListCustomerGroupRow.price_list_id).where(
                        PriceListCustomerGroupRow.customer_group_id == request.customer_group_id
                    )
                )
            )
        async with self._db.read() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            rows = list((await s.scalars(query.order_by(PriceListRow.id.desc()).offset(offset).limit(size + 1))).all())
            lists = await self._protos(s, rows[:size], with_prices=False)
        token = self._tokens.encode(offset + size, fingerprint(request)) if len(rows) > size else ""
        return R.ListPriceListsResponse(price_lists=lists, next_page_token=token, total_size=total or 0)

    # -- helpers -----------------------------------------------------------------------
    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction. A variant deleted concurrently (foreign key) or a
        concurrent writer of the same price (unique key) becomes a typed reason."""
        try:
            async with self._db.transaction() as session:
                yield session
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise RequestError(
                    ETAG_MISMATCH, "The price list changed concurrently; read it again and retry."
                ) from exc
            raise PriceListError(VARIANT_NOT_FOUND, "A variant of these prices was deleted concurrently.") from exc

    @staticmethod
    def _validate(price_list: R.PriceList, paths: Sequence[str], field: str) -> None:
        problems: list[Problem] = []
        if "title" in paths:
            problems += validation.check_title(price_list.title, f"{field}.title")
        if "type" in paths:
            problems += _enum_problems(price_list.type, list(TYPE_TO_DB), f"{field}.type")
        if "status" in paths:
            problems += _enum_problems(price_list.status, list(STATUS_TO_DB), f"{field}.status")
        if "customer_group_ids" in paths:
            problems += validation.check_groups(price_list.customer_group_ids, f"{field}.customer_group_ids")
        if "prices" in paths:
            problems += validation.check_prices(price_list.prices, f"{field}.prices")
        raise_all(problems)

    @staticmethod
    async def _check_variants(s: AsyncSession, variant_ids: Sequence[str], path: str) -> None:
        wanted = set(variant_ids)
        if not wanted:
            return
        found = set(await s.scalars(select(VariantRow.id).where(VariantRow.id.in_(wanted))))
        missing = sorted(wanted - found)
        if missing:
            raise PriceListError(
                VARIANT_NOT_FOUND,
                f"No variant has the id {', '.join(missing)}.",
                violations=[FieldViolation(path, f"unknown variant {m}") for m in missing],
                variantId=missing[0],
                variantIds=",".join(missing),
            )

    @staticmethod
    def _apply(row: PriceListRow, p: R.PriceList, paths: Sequence[str]) -> None:
        for path in paths:
            if path == "title":
                row.title = p.title.strip()
            elif path == "description":
                row.description = p.description
            elif path == "type":
                row.type = TYPE_TO_DB.get(p.type, PriceListType.SALE.value)
            elif path == "status":
                row.status = STATUS_TO_DB.get(p.status, PriceListStatus.DRAFT.value)
            elif path == "start_time":
                row.starts_at = _time(p, "start_time")
            elif path == "end_time":
                row.ends_at = _time(p, "end_time")
            elif path == "metadata":
                row.extra = json_format.MessageToDict(p.metadata)

    @staticmethod
    async def _replace_children(s: AsyncSession, list_id: str, p: R.PriceList, paths: Sequence[str]) -> None:
        if "customer_group_ids" in paths:
            await s.execute(delete(PriceListCustomerGroupRow).where(PriceListCustomerGroupRow.price_list_id == list_id))
            s.add_all(
                PriceListCustomerGroupRow(price_list_id=list_id, customer_group_id=g) for g in p.customer_group_ids
            )
        if "prices" in paths:
            await s.execute(delete(PriceListPriceRow).where(PriceListPriceRow.price_list_id == list_id))
            s.add_all(_price_row(list_id, price) for price in p.prices)
        await s.flush()

    async def _bump(self, s: AsyncSession, list_id: str, now: datetime, etag: str = "") -> PriceListRow:
        """The row with its revision moved on and flushed, which locks it until commit."""
        row = await self._row(s, list_id, etag)
        row.revision += 1
        row.updated_at = now
        await s.flush()
        return row

    @staticmethod
    async def _row(s: AsyncSession, list_id: str, etag: str = "") -> PriceListRow:
        row = await s.get(PriceListRow, list_id)
        if row is None:
            raise PriceListError(
                PRICE_LIST_NOT_FOUND, f"Price list priceLists/{list_id} does not exist.", priceListId=list_id
            )
        if etag and etag != str(row.revision):
            raise RequestError(
                ETAG_MISMATCH,
                f"Price list priceLists/{list_id} changed since etag {etag} (now {row.revision}); read it again and retry.",
                etag=etag,
                currentEtag=row.revision,
            )
        return row

    async def _proto(self, s: AsyncSession, row: PriceListRow, *, with_prices: bool) -> R.PriceList:
        return (await self._protos(s, [row], with_prices=with_prices))[0]

    @staticmethod
    async def _protos(s: AsyncSession, rows: Sequence[PriceListRow], *, with_prices: bool) -> list[R.PriceList]:
        """Protos of ``rows`` with two or three batch queries."""
        ids = [row.id for row in rows]
        if not ids:
            return []
        groups: dict[str, list[str]] = {i: [] for i in ids}
        for list_id, group_id in await s.execute(
            select(PriceListCustomerGroupRow.price_list_id, PriceListCustomerGroupRow.customer_group_id)
            .where(PriceListCustomerGroupRow.price_list_id.in_(ids))
            .order_by(PriceListCustomerGroupRow.customer_group_id)
        ):
            groups[list_id].append(group_id)
        counts: dict[str, int] = {
            list_id: count
            for list_id, count in await s.execute(
                select(PriceListPriceRow.price_list_id, func.count())
                .where(PriceListPriceRow.price_list_id.in_(ids))
                .group_by(PriceListPriceRow.price_list_id)
            )
        }
        prices: dict[str, list[R.PriceListPrice]] = {i: [] for i in ids}
        if with_prices:
            for price in await s.scalars(
                select(PriceListPriceRow)
                .where(PriceListPriceRow.price_list_id.in_(ids))
                .order_by(PriceListPriceRow.variant_id, PriceListPriceRow.currency_code)
            ):
                prices[price.price_list_id].append(
                    R.PriceListPrice(
                        variant_id=price.variant_id, currency_code=price.currency_code, amount=price.amount
                    )
                )
        out = []
        for row in rows:
            metadata = struct_pb2.Struct()
            metadata.update(row.extra)
            out.append(
                R.PriceList(
                    name=price_list_name(row.id),
                    id=row.id,
                    title=row.title,
                    description=row.description,
                    type=TYPE_FROM_DB[row.type],
                    status=STATUS_FROM_DB[row.status],
                    start_time=to_timestamp(row.starts_at),
                    end_time=to_timestamp(row.ends_at),
                    customer_group_ids=groups[row.id],
                    prices=prices[row.id],
                    price_count=counts.get(row.id, 0),
                    metadata=metadata,
                    create_time=to_timestamp(row.created_at),
                    update_time=to_timestamp(row.updated_at),
                    etag=str(row.revision),
                )
            )
        return out


def _price_row(list_id: str, price: R.PriceListPrice) -> PriceListPriceRow:
    return PriceListPriceRow(
        price_list_id=list_id, variant_id=price.variant_id, currency_code=price.currency_code, amount=price.amount
    )


def _without_prices(price_list: R.PriceList) -> R.PriceList:
    slim = R.PriceList()
    slim.CopyFrom(price_list)
    slim.ClearField("prices")
    return slim
