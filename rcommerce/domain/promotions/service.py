"""The promotions admin service: CRUD, coupon preview and usage statistics.

Every command is one transaction that also appends its event to the outbox
(``promotion.created``, ``promotion.updated``, ``promotion.archived``, ``promotion.deleted``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC
from decimal import Decimal, InvalidOperation

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.errors import ETAG_MISMATCH, FieldViolation, RequestError, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import common_pb2
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.ids import id_prefix, new_id
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size

from . import errors as E
from .convert import (
    STATUS_TO_DB,
    TARGET_KINDS,
    TYPE_TO_DB,
    promotion_name,
    promotion_to_proto,
    struct_to_db,
)
from .engine import PromoContext, PromoLine, normalize_code
from .evaluator import PromotionEvaluator
from .models import PromotionCurrencyRow, PromotionEligibilityRow, PromotionRow, PromotionTargetRow, PromotionUsageRow

__all__ = ["PROMOTION_PATHS", "PromotionService", "promotion_violations"]

PROMOTION_PATHS = (
    "code", "title", "description", "type", "status", "percent", "currencies", "buy_quantity", "get_quantity",
    "include", "exclude", "usage_limit", "usage_limit_per_customer", "new_customers_only", "customer_groups",
    "customers", "combinable", "start_time", "end_time", "metadata",
)  # fmt: skip
_CODE = re.compile(r"^[A-Z0-9_-]{1,50}$")
_MAX_COUNT = 10**12


def _parse_percent(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _ref_violations(values: Sequence[str], collection: str, prefix: str, field: str) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    for i, value in enumerate(values):
        head, _, rest = value.partition("/")
        if head != collection or id_prefix(rest) != prefix:
            out.append(FieldViolation(f"{field}[{i}]", f"expected {collection}/{prefix}_..."))
    if len(set(values)) != len(values):
        out.append(FieldViolation(field, "must not repeat a name"))
    return out


def promotion_violations(p: P.Promotion, field: str = "promotion") -> list[FieldViolation]:
    """Every problem of a complete promotion (after normalising its code)."""
    out: list[FieldViolation] = []
    if p.code and not _CODE.match(p.code):
        out.append(FieldViolation(f"{field}.code", "must be 1 to 50 letters, digits, '-' or '_'"))
    if not 0 < len(p.title.strip()) <= 255:
        out.append(FieldViolation(f"{field}.title", "must be 1 to 255 characters"))
    if p.type not in TYPE_TO_DB:
        out.append(FieldViolation(f"{field}.type", "must be PERCENTAGE, FIXED_AMOUNT, FREE_SHIPPING or BUY_X_GET_Y"))
    if p.status not in STATUS_TO_DB:
        out.append(FieldViolation(f"{field}.status", "must be DRAFT, ACTIVE or ARCHIVED"))
    percent = _parse_percent(p.percent) if p.percent else None
    if p.percent and (percent is None or not Decimal(0) < percent <= Decimal(100) or -percent.as_tuple().exponent > 6):  # type: ignore[operator]
        out.append(
            FieldViolation(f"{field}.percent", "must be a decimal number above 0 and at most 100 (at most 6 decimals)")
        )
    if p.type == P.PROMOTION_TYPE_PERCENTAGE and not p.percent:
        out.append(FieldViolation(f"{field}.percent", "is required for a PERCENTAGE promotion"))
    if p.type == P.PROMOTION_TYPE_BUY_X_GET_Y and (p.buy_quantity < 1 or p.get_quantity < 1):
        out.append(
            FieldViolation(f"{field}.buy_quantity", "buy_quantity and get_quantity must be at least 1 for BUY_X_GET_Y")
        )
    if p.buy_quantity < 0 or p.get_quantity < 0 or p.buy_quantity > 10_000 or p.get_quantity > 10_000:
        out.append(FieldViolation(f"{field}.buy_quantity", "quantities must be between 0 and 10000"))
    seen: set[str] = set()
    for i, c in enumerate(p.currencies):
        where = f"{field}.currencies[{i}]"
        if not money.is_currency(c.currency_code):
            out.append(FieldViolation(f"{where}.currency_code", "must be an upper-case ISO 4217 code"))
        if c.currency_code in seen:
            out.append(FieldViolation(f"{where}.currency_code", "must not repeat a currency"))
        seen.add(c.currency_code)
        for name in ("amount", "max_discount", "minimum_subtotal"):
            if c.HasField(name) and not 0 <= getattr(c, name) <= money.MAX_AMOUNT:
                out.append(FieldViolation(f"{where}.{name}", f"must be between 0 and {money.MAX_AMOUNT} minor units"))
        if c.HasField("amount") and c.amount == 0:
            out.append(FieldViolation(f"{where}.amount", "must be above 0"))
    if p.type == P.PROMOTION_TYPE_FIXED_AMOUNT and not any(c.HasField("amount") for c in p.currencies):
        out.append(
            FieldViolation(f"{field}.currencies", "a FIXED_AMOUNT promotion needs an amount in at least one currency")
        )
    for part in ("include", "exclude"):
        targets = getattr(p, part)
        for kind, (collection, prefix) in TARGET_KINDS.items():
            attr = {"product": "products", "collection": "collections", "category": "categories"}[kind]
            out += _ref_violations(getattr(targets, attr), collection, prefix, f"{field}.{part}.{attr}")
    out += _ref_violations(p.customer_groups, "customerGroups", "cgrp", f"{field}.customer_groups")
    out += _ref_violations(p.customers, "customers", "cus", f"{field}.customers")
    for name in ("usage_limit", "usage_limit_per_customer"):
        if p.HasField(name) and not 1 <= getattr(p, name) <= _MAX_COUNT:
            out.append(FieldViolation(f"{field}.{name}", "must be at least 1 (leave unset for unlimited)"))
    if p.HasField("start_time") and p.HasField("end_time") and p.end_time.ToDatetime() <= p.start_time.ToDatetime():
        out.append(FieldViolation(f"{field}.end_time", "must be after start_time"))
    return out


def _copy_paths(target: P.Promotion, source: P.Promotion, paths: Sequence[str]) -> None:
    for path in paths:
        descriptor = source.DESCRIPTOR.fields_by_name[path]
        if descriptor.is_repeated:
            del getattr(target, path)[:]
            getattr(target, path).extend(getattr(source, path))
        elif descriptor.type == FieldDescriptor.TYPE_MESSAGE:
            target.ClearField(path)
            if source.HasField(path):
                getattr(target, path).CopyFrom(getattr(source, path))
        elif descriptor.has_presence:
            target.ClearField(path)
            if source.HasField(path):
                setattr(target, path, getattr(source, path))
        else:
            setattr(target, path, getattr(source, path))


def _id_of(name: str) -> str:
    return name.partition("/")[2]


class PromotionService:
    """Admin CRUD of promotions, coupon previews and usage statistics."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        page_tokens: PageTokens,
        customers: CustomerDirectory,
        evaluator: PromotionEvaluator | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._tokens = page_tokens
        self._customers = customers
        self.evaluator = evaluator or PromotionEvaluator(clock)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction; a concurrent duplicate code becomes COUPON_CODE_EXISTS."""
        try:
            async with self._db.transaction() as session:
                yield session
        except IntegrityError as exc:
            if is_unique_violation(exc) and ("code" in str(exc.orig)):
                raise E.PromotionError(
                    E.COUPON_CODE_EXISTS, "A promotion with this code was created concurrently."
                ) from exc
            raise

    # -- reads -------------------------------------------------------------------------------
    async def _load(self, s: AsyncSession, rows: Sequence[PromotionRow]) -> list[P.Promotion]:
        ids = [row.id for row in rows]
        if not ids:
            return []
        currencies: dict[str, list[PromotionCurrencyRow]] = defaultdict(list)
        targets: dict[str, list[PromotionTargetRow]] = defaultdict(list)
        eligibility: dict[str, list[PromotionEligibilityRow]] = defaultdict(list)
        for c in await s.scalars(select(PromotionCurrencyRow).where(PromotionCurrencyRow.promotion_id.in_(ids))):
            currencies[c.promotion_id].append(c)
        for t in await s.scalars(select(PromotionTargetRow).where(PromotionTargetRow.promotion_id.in_(ids))):
            targets[t.promotion_id].append(t)
        for e in await s.scalars(select(PromotionEligibilityRow).where(PromotionEligibilityRow.promotion_id.in_(ids))):
            eligibility[e.promotion_id].append(e)
        return [promotion_to_proto(r, currencies[r.id], targets[r.id], eligibility[r.id]) for r in rows]

    async def _row(self, s: AsyncSession, promotion_id: str, etag: str = "") -> PromotionRow:
        row = await s.get(PromotionRow, promotion_id)
        if row is None:
            raise E.PromotionError(
                E.PROMOTION_NOT_FOUND, f"Promotion promotions/{promotion_id} does not exist.", promotionId=promotion_id
            )
        if etag and etag != str(row.revision):
            raise RequestError(
                ETAG_MISMATCH,
                f"Promotion promotions/{promotion_id} changed since etag {etag} (now {row.revision}); read it again and retry.",
                etag=etag,
                currentEtag=row.revision,
            )
        return row

    async def _one(self, s: AsyncSession, row: PromotionRow) -> P.Promotion:
        await s.flush()
        return (await self._load(s, [row]))[0]

    async def get_promotion(self, name: str) -> P.Promotion:
        promotion_id = parse_name(name, "promotions", "promo")
        async with self._db.read() as s:
            return await self._one(s, await self._row(s, promotion_id))

    async def lookup_promotion(self, code: str) -> P.Promotion:
        normalized = normalize_code(code)
        async with self._db.read() as s:
            row = await s.scalar(select(PromotionRow).where(PromotionRow.code == normalized)) if normalized else None
            if row is None:
                raise E.PromotionError(
                    E.COUPON_NOT_FOUND, f"No promotion has the code {normalized!r}.", code=normalized
                )
            return await self._one(s, row)

    async def list_promotions(self, request: P.ListPromotionsRequest) -> P.ListPromotionsResponse:
        size = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, fingerprint(request))
        query = select(PromotionRow)
        if request.status:
            if request.status not in STATUS_TO_DB:
                raise_violations({"status": "unknown status"})
            query = query.where(PromotionRow.status == STATUS_TO_DB[request.status])
        if request.type:
            if request.type not in TYPE_TO_DB:
                raise_violations({"type": "unknown type"})
            query = query.where(PromotionRow.type == TYPE_TO_DB[request.type])
        if request.HasField("automatic"):
            query = query.where(PromotionRow.code.is_(None) if request.automatic else PromotionRow.code.is_not(None))
        if request.code_contains:
            needle = normalize_code(request.code_contains).replace("\\", "").replace("%", "").replace("_", "\\_")
            query = query.where(PromotionRow.code.like(f"%{needle}%", escape="\\"))
        async with self._db.read() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            rows = list(
                (
                    await s.scalars(
                        query.order_by(PromotionRow.created_at.desc(), PromotionRow.id.desc())
                        .offset(offset)
                        .limit(size + 1)
                    )
                ).all()
            )
            promotions = await self._load(s, rows[:size])
        next_token = self._tokens.encode(offset + size, fingerprint(request)) if len(rows) > size else ""
        return P.ListPromotionsResponse(promotions=promotions, next_page_token=next_token, total_size=int(total or 0))

    # -- writes ------------------------------------------------------------------------------
    async def _check_code_free(self, s: AsyncSession, code: str, promotion_id: str = "") -> None:
        if not code:
            return
        other = await s.scalar(
            select(PromotionRow.id).where(PromotionRow.code == code, PromotionRow.id != promotion_id)
        )
        if other is not None:
            raise E.PromotionError(E.COUPON_CODE_EXISTS, f"Another promotion already uses the code {code}.", code=code)

    async def _fill_and_insert(self, s: AsyncSession, row: PromotionRow, p: P.Promotion) -> None:
        """Insert a new promotion row before its child rows (they reference it)."""
        self._fill(row, p)
        s.add(row)
        await s.flush()
        await self._store(s, row, p)

    def _fill(self, row: PromotionRow, p: P.Promotion) -> None:
        row.code = p.code or None
        row.title = p.title.strip()
        row.description = p.description
        row.type = TYPE_TO_DB[p.type]
        row.status = STATUS_TO_DB[p.status]
        default_percent = "100" if p.type == P.PROMOTION_TYPE_BUY_X_GET_Y else "0"
        row.percent = Decimal(p.percent or default_percent)
        row.buy_quantity, row.get_quantity = p.buy_quantity, p.get_quantity
        row.starts_at = p.start_time.ToDatetime(tzinfo=UTC) if p.HasField("start_time") else None
        row.ends_at = p.end_time.ToDatetime(tzinfo=UTC) if p.HasField("end_time") else None
        row.usage_limit = p.usage_limit if p.HasField("usage_limit") else None
        row.usage_limit_per_customer = p.usage_limit_per_customer if p.HasField("usage_limit_per_customer") else None
        row.new_customers_only = p.new_customers_only
        row.combinable = p.combinable
        row.extra = struct_to_db(p.metadata)

    async def _store(self, s: AsyncSession, row: PromotionRow, p: P.Promotion) -> None:
        """Write every field of the validated promotion ``p`` onto ``row`` and its child rows."""
        self._fill(row, p)
        for table in (PromotionCurrencyRow, PromotionTargetRow, PromotionEligibilityRow):
            await s.execute(delete(table).where(table.promotion_id == row.id))
        s.add_all(
            PromotionCurrencyRow(
                promotion_id=row.id,
                currency_code=c.currency_code,
                amount=c.amount if c.HasField("amount") else None,
                max_discount=c.max_discount if c.HasField("max_discount") else None,
                minimum_subtotal=c.minimum_subtotal if c.HasField("minimum_subtotal") else None,
            )
            for c in p.currencies
        )
        targets: dict[tuple[str, str], bool] = {}
        for exclude, part in ((False, p.include), (True, p.exclude)):
            for kind, names in (
                ("product", part.products),
                ("collection", part.collections),
                ("category", part.categories),
            ):
                for name in names:
                    targets[(kind, _id_of(name))] = exclude  # an exclusion wins over an inclusion
        s.add_all(
            PromotionTargetRow(promotion_id=row.id, kind=kind, target_id=target_id, exclude=exclude)
            for (kind, target_id), exclude in targets.items()
        )
        subjects = {("customer_group", _id_of(n)) for n in p.customer_groups} | {
            ("customer", _id_of(n)) for n in p.customers
        }
        s.add_all(PromotionEligibilityRow(promotion_id=row.id, kind=k, subject_id=i) for k, i in sorted(subjects))

    async def create_promotion(self, promotion: P.Promotion) -> P.Promotion:
        """Create a coupon (with a code) or an automatic promotion; status defaults to ACTIVE."""
        p = P.Promotion()
        p.CopyFrom(promotion)
        p.code = normalize_code(p.code)
        if not p.status:
            p.status = P.PROMOTION_STATUS_ACTIVE
        raise_violations(promotion_violations(p))
        now = self._clock.now()
        async with self._write() as s:
            await self._check_code_free(s, p.code)
            row = PromotionRow(id=new_id("promo", now), usage_count=0, revision=1, created_at=now, updated_at=now)
            await self._fill_and_insert(s, row, p)
            created = await self._one(s, row)
            record_event(s, "promotion.created", created.name, created, now)
        return created

    async def update_promotion(self, promotion: P.Promotion, update_mask: FieldMask) -> P.Promotion:
        """Change the fields in ``update_mask``; the result is validated as a whole."""
        promotion_id = parse_name(promotion.name, "promotions", "promo", "promotion.name")
        paths = resolve_mask(update_mask, promotion, PROMOTION_PATHS)
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, promotion_id, promotion.etag)
            merged = await self._one(s, row)
            _copy_paths(merged, promotion, paths)
            merged.code = normalize_code(merged.code)
            raise_violations(promotion_violations(merged))
            if "code" in paths:
                await self._check_code_free(s, merged.code, promotion_id)
            await self._store(s, row, merged)
            row.revision += 1
            row.updated_at = now
            updated = await self._one(s, row)
            record_event(s, "promotion.updated", updated.name, updated, now, changed=paths)
        return updated

    async def archive_promotion(self, name: str) -> P.Promotion:
        """Set the status to ARCHIVED: the promotion stops applying and keeps its history."""
        promotion_id = parse_name(name, "promotions", "promo")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, promotion_id)
            row.status, row.revision, row.updated_at = "archived", row.revision + 1, now
            archived = await self._one(s, row)
            record_event(s, "promotion.archived", archived.name, archived, now)
        return archived

    async def delete_promotion(self, name: str) -> None:
        """Delete a promotion never used by an order; a used one is COUPON_HAS_USAGE."""
        promotion_id = parse_name(name, "promotions", "promo")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._row(s, promotion_id)
            used = await s.scalar(select(func.count()).where(PromotionUsageRow.promotion_id == promotion_id))
            if row.usage_count > 0 or used:
                raise E.PromotionError(
                    E.COUPON_HAS_USAGE,
                    f"Promotion promotions/{promotion_id} was used by {max(row.usage_count, int(used or 0))} order(s); archive it instead.",
                    promotionId=promotion_id,
                    usageCount=max(row.usage_count, int(used or 0)),
                )
            deleted = await self._one(s, row)
            await s.execute(delete(PromotionRow).where(PromotionRow.id == promotion_id))
            record_event(s, "promotion.deleted", deleted.name, deleted, now)

    # -- preview -----------------------------------------------------------------------------
    async def validate_coupon(self, request: P.ValidateCouponRequest, principal: Principal) -> P.ValidateCouponResponse:
        """Check ``request.code`` against the request's lines; invalid codes are a valid=false answer."""
        violations: list[FieldViolation] = []
        if not normalize_code(request.code):
            violations.append(FieldViolation("code", "a coupon code is required"))
        if not money.is_currency(request.currency_code):
            violations.append(FieldViolation("currency_code", "must be an upper-case ISO 4217 code"))
        lines: list[PromoLine] = []
        for i, line in enumerate(request.lines):
            where = f"lines[{i}]"
            head, _, product_id = line.product.partition("/")
            if head != "products" or id_prefix(product_id) != "prod":
                violations.append(FieldViolation(f"{where}.product", "expected products/prod_..."))
            if not 1 <= line.quantity <= 9999:
                violations.append(FieldViolation(f"{where}.quantity", "must be between 1 and 9999"))
            if not 0 <= line.unit_price <= money.MAX_AMOUNT:
                violations.append(FieldViolation(f"{where}.unit_price", "must be between 0 and 10^15 minor units"))
            violations += _ref_violations(line.collections, "collections", "col", f"{where}.collections")
            violations += _ref_violations(line.categories, "categories", "cat", f"{where}.categories")
            lines.append(
                PromoLine(
                    line_id=line.line_id or str(i),
                    product_id=product_id,
                    variant_id=line.variant.rpartition("/")[2],
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    subtotal=line.quantity * line.unit_price,
                    collection_ids=frozenset(_id_of(n) for n in line.collections),
                    category_ids=frozenset(_id_of(n) for n in line.categories),
                )
            )
        if len({line.line_id for line in lines}) != len(lines):
            violations.append(FieldViolation("lines", "line_id must be unique"))
        customer_id = customer_id_of(principal) or ""
        if request.customer and principal.is_staff:
            customer_id = parse_name(request.customer, "customers", "cus", "customer")
        raise_violations(violations)
        code = normalize_code(request.code)
        applied_codes = tuple(dict.fromkeys(normalize_code(c) for c in request.applied_codes if normalize_code(c)))
        currency = request.currency_code
        async with self._db.read() as s:
            profile = await self._customers.get(s, customer_id) if customer_id else None
            ctx = PromoContext(
                currency=currency,
                lines=tuple(lines),
                codes=applied_codes,
                customer_id=customer_id,
                customer_group_ids=profile.group_ids if profile else frozenset(),
                is_new_customer=profile is None or profile.orders_count == 0,
            )
            try:
                rule = await self.evaluator.check_code(s, code, ctx)
            except E.PromotionError as exc:
                return P.ValidateCouponResponse(
                    valid=False, code=code, reason=exc.reason.name, message=exc.message, metadata=exc.metadata
                )
            with_code = PromoContext(
                currency=currency,
                lines=ctx.lines,
                codes=(*applied_codes, code),
                customer_id=customer_id,
                customer_group_ids=ctx.customer_group_ids,
                is_new_customer=ctx.is_new_customer,
            )
            result = await self.evaluator.evaluate(s, with_code)
        dropped = dict(result.rejected)
        if code in dropped:
            # A better non-combinable automatic promotion wins over the code.
            return P.ValidateCouponResponse(
                valid=False,
                code=code,
                reason=dropped[code],
                message=f"{code} does not combine with a better automatic promotion on this cart.",
                metadata={"code": code},
            )
        subtotal = sum(line.subtotal for line in lines)
        discount = result.total_discount
        own = sum(a.amount for a in result.applied if a.promotion_id == rule.id)
        return P.ValidateCouponResponse(
            valid=True,
            code=code,
            title=rule.title,
            original_amount=common_pb2.Money(currency_code=currency, amount=subtotal),
            discount_amount=common_pb2.Money(currency_code=currency, amount=discount),
            final_amount=common_pb2.Money(currency_code=currency, amount=subtotal - discount),
            code_discount_amount=common_pb2.Money(currency_code=currency, amount=own),
            line_discounts=[P.LineDiscount(line_id=k, amount=v) for k, v in result.line_discounts.items()],
            free_shipping=result.free_shipping,
        )

    # -- statistics --------------------------------------------------------------------------
    async def get_usage(self, name: str) -> P.PromotionUsage:
        """Uses, discount per currency and uses per day of a promotion."""
        promotion_id = parse_name(name, "promotions", "promo")
        async with self._db.read() as s:
            row = await self._row(s, promotion_id)
            usages = list(
                (
                    await s.scalars(
                        select(PromotionUsageRow)
                        .where(PromotionUsageRow.promotion_id == promotion_id)
                        .order_by(PromotionUsageRow.used_at)
                    )
                ).all()
            )
        totals: dict[str, int] = defaultdict(int)
        days: dict[str, tuple[int, dict[str, int]]] = {}
        for u in usages:
            totals[u.currency_code] += u.amount
            day = u.used_at.date().isoformat()
            count, amounts = days.get(day, (0, defaultdict(int)))
            amounts[u.currency_code] += u.amount
            days[day] = (count + 1, amounts)
        usage = P.PromotionUsage(
            name=f"{promotion_name(promotion_id)}/usage",
            usage_count=row.usage_count,
            total_discount=[common_pb2.Money(currency_code=c, amount=a) for c, a in sorted(totals.items()) if c],
            customers_count=len({u.customer_id for u in usages if u.customer_id}),
            days=[
                P.PromotionUsageDay(
                    date=day,
                    usage_count=count,
                    discount=[common_pb2.Money(currency_code=c, amount=a) for c, a in sorted(amounts.items()) if c],
                )
                for day, (count, amounts) in days.items()
            ],
        )
        if row.usage_limit is not None:
            usage.usage_limit = row.usage_limit
            usage.remaining_uses = max(row.usage_limit - row.usage_count, 0)
        return usage
