"""Customer accounts and sign-in: the rules behind CustomerService and AuthService.

Every command is one transaction that records its event in the outbox. A customer
principal only ever reaches its own record; staff (secret keys) reach everyone.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.customer_tokens import AccessTokens, new_opaque_token, token_digest
from rcommerce.auth.passwords import PasswordHasher
from rcommerce.auth.principal import Principal
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.config import CustomersSettings
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.customers.access import check_owner, is_customer, resolve_customer
from rcommerce.domain.customers.convert import customer_name, customer_to_proto, struct_to_db
from rcommerce.domain.customers.directory import new_customer_row
from rcommerce.domain.customers.errors import (
    CUSTOMER_GROUP_NOT_FOUND,
    CUSTOMER_NOT_FOUND,
    EMAIL_TAKEN,
    INVALID_CREDENTIALS,
    INVALID_RESET_TOKEN,
    SIGN_IN_RATE_LIMITED,
    CustomerError,
)
from rcommerce.domain.customers.models import CustomerGroupMemberRow, CustomerRow, PasswordResetRow
from rcommerce.domain.customers.rules import check_password, currency_violation, normalize_email
from rcommerce.domain.customers.sessions import Issued, Sessions, refresh_failure
from rcommerce.errors import (
    ETAG_MISMATCH,
    INSUFFICIENT_PERMISSIONS,
    INVALID_ORDER_BY,
    FieldViolation,
    RequestError,
    invalid,
    raise_violations,
)
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import customers_pb2
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.plugins.providers import Event
from rcommerce.ratelimit import Rate, RateDecision, RateLimiter
from rcommerce.timestamps import to_timestamp

__all__ = ["CustomerService", "PasswordResetHook", "SignInHook"]

#: Called as ``hook(session, customer_id, guest_cart_token)`` inside the sign-in
#: transaction when the request carries a cart token (carts merge the guest cart).
SignInHook = Callable[[AsyncSession, str, str], Awaitable[None]]
#: Called as ``hook(session, event)`` inside the RequestPasswordReset transaction with
#: the recorded ``customer.password_reset_requested`` event *plus* the secret
#: ``reset_url`` / ``reset_token`` in its data. The outbox copy never holds them.
PasswordResetHook = Callable[[AsyncSession, Event], Awaitable[object]]

#: Fields a customer may change on their own record; the rest are back-office fields.
SELF_SERVICE_PATHS = ("email", "first_name", "last_name", "phone", "accepts_marketing", "vat_id", "currency_code")
STAFF_PATHS = (*SELF_SERVICE_PATHS, "tax_exempt", "metadata")
_LIMITS = {"first_name": 100, "last_name": 100, "phone": 50, "vat_id": 50}
_ORDER_FIELDS = {"create_time": CustomerRow.created_at, "email": CustomerRow.email}


def _hashed(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class CustomerService:
    """Accounts, guests, sign-in sessions and password resets."""

    def __init__(
        self,
        db: Database,
        cache: Cache,
        clock: Clock,
        *,
        access: AccessTokens,
        passwords: PasswordHasher,
        limiter: RateLimiter,
        settings: CustomersSettings,
        page_tokens: PageTokens,
        on_sign_in: Sequence[SignInHook] = (),
        on_password_reset: Sequence[PasswordResetHook] = (),
    ) -> None:
        self._db, self._clock, self._passwords, self._limiter = db, clock, passwords, limiter
        self._settings = settings
        self._tokens = page_tokens
        self.sessions = Sessions(clock, access, timedelta(seconds=settings.refresh_token_ttl_s), cache)
        self._on_sign_in = list(on_sign_in)
        self._on_password_reset = list(on_password_reset)

    def add_sign_in_hook(self, hook: SignInHook) -> None:
        self._on_sign_in.append(hook)

    def add_password_reset_hook(self, hook: PasswordResetHook) -> None:
        self._on_password_reset.append(hook)

    # -- helpers -----------------------------------------------------------------------------
    async def _row(self, s: AsyncSession, customer_id: str, *, lock: bool = False) -> CustomerRow:
        row = await s.get(CustomerRow, customer_id, with_for_update=lock)
        if row is None:
            raise CustomerError(
                CUSTOMER_NOT_FOUND, f"Customer customers/{customer_id} does not exist.", name=customer_name(customer_id)
            )
        return row

    @staticmethod
    async def _group_ids(s: AsyncSession, customer_id: str) -> list[str]:
        result = await s.execute(
            select(CustomerGroupMemberRow.customer_group_id).where(CustomerGroupMemberRow.customer_id == customer_id)
        )
        return list(result.scalars().all())

    async def _proto(self, s: AsyncSession, row: CustomerRow) -> customers_pb2.Customer:
        return customer_to_proto(row, await self._group_ids(s, row.id))

    @staticmethod
    async def _by_email(s: AsyncSession, email: str) -> CustomerRow | None:
        return (await s.execute(select(CustomerRow).where(CustomerRow.email == email))).scalar_one_or_none()

    @staticmethod
    def _email_taken(email: str, existing_id: str | None, staff: bool) -> CustomerError:
        error = CustomerError(
            EMAIL_TAKEN,
            "An account with this email already exists. Sign in, or request a password reset to set a password.",
            email=email,
        )
        if staff and existing_id:  # only staff learn which customer holds the address
            error.metadata["existingCustomerId"] = existing_id
        return error

    async def _limit(self, action: str, peer: str, email: str, headers: dict[str, str] | None) -> None:
        """Count one attempt per client address and per email (DECISIONS 23)."""
        rate = Rate(self._settings.sign_in_limit_per_minute, 60.0, self._settings.sign_in_burst)
        decisions: list[RateDecision] = []
        if peer:
            decisions.append(await self._limiter.hit(f"{action}:ip:{peer}", rate))
        if email.strip():
            decisions.append(await self._limiter.hit(f"{action}:email:{_hashed(email)}", rate))
        if not decisions:
            return
        tightest = min(decisions, key=lambda d: (d.allowed, d.remaining))
        if headers is not None:
            headers.update(tightest.headers())
        if not tightest.allowed:
            wait = max(d.retry_after_s for d in decisions if not d.allowed)
            raise CustomerError(
                SIGN_IN_RATE_LIMITED,
                f"Too many attempts from this address or for this email; retry in {math.ceil(wait)} s.",
                retry_after_s=wait,
                retryAfterSeconds=math.ceil(wait),
            )

    def auth_session(self, issued: Issued, customer: customers_pb2.Customer) -> customers_pb2.AuthSession:
        return customers_pb2.AuthSession(
            access_token=issued.access_token,
            token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
            expires_in=max(0, int((issued.access_expires_at - issued.issued_at).total_seconds())),
            access_token_expire_time=to_timestamp(issued.access_expires_at),
            refresh_token=issued.refresh_token,
            refresh_token_expire_time=to_timestamp(issued.refresh_expires_at),
            customer=customer,
        )

    async def _run_sign_in_hooks(self, s: AsyncSession, customer_id: str, cart_token: str) -> None:
        if cart_token:
            for hook in self._on_sign_in:
                await hook(s, customer_id, cart_token)

    # -- registration and sign-in ------------------------------------------------------------
    async def register(
        self, request: customers_pb2.RegisterRequest, *, peer: str = "", headers: dict[str, str] | None = None
    ) -> customers_pb2.AuthSession:
        """Create an account and sign it in (EMAIL_TAKEN when the email is in use)."""
        email = normalize_email(request.email)
        check_password(request.password)
        customer = customers_pb2.Customer(
            first_name=request.first_name, last_name=request.last_name, phone=request.phone
        )
        _check_profile(customer, ("first_name", "last_name", "phone"), "")
        await self._limit("register", peer, email, headers)
        password_hash = await self._passwords.hash_async(request.password)
        now = self._clock.now()
        try:
            async with self._db.transaction() as s:
                if await self._by_email(s, email) is not None:
                    raise self._email_taken(email, None, staff=False)
                row = new_customer_row(email, now, is_guest=False)
                row.first_name, row.last_name, row.phone = (
                    request.first_name.strip(),
                    request.last_name.strip(),
                    request.phone.strip(),
                )
                row.accepts_marketing = request.accepts_marketing
                row.password_hash = password_hash
                row.last_sign_in_at = now
                s.add(row)
                await s.flush()
                message = await self._proto(s, row)
                record_event(s, "customer.created", message.name, message, now)
                issued = await self.sessions.start(s, row.id)
                await self._run_sign_in_hooks(s, row.id, request.cart_token)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise self._email_taken(email, None, staff=False) from None
            raise
        return self.auth_session(issued, message)

    async def sign_in(
        self, request: customers_pb2.SignInRequest, *, peer: str = "", headers: dict[str, str] | None = None
    ) -> customers_pb2.AuthSession:
        """Email + password; INVALID_CREDENTIALS for any mismatch, never saying which."""
        await self._limit("sign_in", peer, request.email, headers)
        email = normalize_email(request.email)
        async with self._db.read() as s:
            found = await self._by_email(s, email)
            stored = found.password_hash if found is not None else None
        if not request.password:
            raise CustomerError(INVALID_CREDENTIALS, "The email or the password is wrong.")
        verdict = await self._passwords.verify_async(stored, request.password)
        if found is None or not verdict.ok:
            raise CustomerError(INVALID_CREDENTIALS, "The email or the password is wrong.")
        rehashed = await self._passwords.hash_async(request.password) if verdict.needs_rehash else None
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await s.get(CustomerRow, found.id, with_for_update=True)
            if row is None or row.password_hash != stored:
                # Deleted or password changed since it was checked.
                raise CustomerError(INVALID_CREDENTIALS, "The email or the password is wrong.")
            if rehashed is not None:
                row.password_hash = rehashed  # imported PHPass/bcrypt or old parameters -> Argon2id
            row.last_sign_in_at = now
            message = await self._proto(s, row)
            record_event(s, "customer.signed_in", message.name, message, now)
            issued = await self.sessions.start(s, row.id)
            await self._run_sign_in_hooks(s, row.id, request.cart_token)
        return self.auth_session(issued, message)

    async def refresh(self, refresh_token: str) -> customers_pb2.AuthSession:
        if not refresh_token:
            raise invalid("refresh_token", "is required")
        async with self._db.transaction() as s:
            rotation = await self.sessions.rotate(s, refresh_token)
            customer = None
            if rotation.issued is not None:
                row = await self._row(s, rotation.issued.customer_id)
                customer = await self._proto(s, row)
        if rotation.revoked_session:
            await self.sessions.forget([rotation.revoked_session])
        if rotation.issued is None or customer is None:
            raise refresh_failure(rotation.failure)
        return self.auth_session(rotation.issued, customer)

    async def sign_out(self, principal: Principal, refresh_token: str, all_sessions: bool) -> None:
        """End the refresh token's session, or every session of the calling customer.
        An unknown refresh token is INVALID_REFRESH_TOKEN."""
        if not refresh_token and not all_sessions:
            raise invalid("refresh_token", "is required unless all_sessions is set")
        now = self._clock.now()
        async with self._db.transaction() as s:
            if all_sessions:
                if not is_customer(principal):
                    raise RequestError(INSUFFICIENT_PERMISSIONS, "all_sessions needs a customer access token.")
                customer_id = resolve_customer(principal, "customers/me")
                ended = await self.sessions.revoke_all(s, customer_id, "sign_out")
            else:
                owner = await self.sessions.revoke_by_refresh_token(s, refresh_token, "sign_out")
                if owner is None:
                    raise refresh_failure("The refresh token is not valid.")
                if is_customer(principal):
                    check_owner(principal, owner)
                customer_id = owner
                ended = await self.sessions.session_ids(s, customer_id)
            row = await self._row(s, customer_id)
            message = await self._proto(s, row)
            record_event(s, "customer.signed_out", message.name, message, now)
        await self.sessions.forget(ended)

    # -- passwords -----------------------------------------------------------------------------
    async def request_password_reset(
        self, email: str, *, peer: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Create a reset token for the customer with ``email`` (accounts and guests alike),
        hand it to the reset hooks, and record ``customer.password_reset_requested``
        without it. Unknown emails do nothing, visibly the same."""
        normalized = normalize_email(email)
        await self._limit("password_reset", peer, normalized, headers)
        now = self._clock.now()
        ttl = timedelta(seconds=self._settings.password_reset_ttl_s)
        async with self._db.transaction() as s:
            row = await self._by_email(s, normalized)
            if row is None:
                return
            token = new_opaque_token("prt")
            s.add(
                PasswordResetRow(
                    token_sha256=token_digest(token),
                    customer_id=row.id,
                    created_at=now,
                    expires_at=now + ttl,
                    used_at=None,
                )
            )
            message = await self._proto(s, row)
            minutes = self._settings.password_reset_ttl_s // 60
            public = {
                "expires_in": f"{minutes} minutes",
                "customer_name": f"{row.first_name} {row.last_name}".strip() or row.email,
            }
            recorded = record_event(s, "customer.password_reset_requested", message.name, message, now, **public)
            secret = {"reset_token": token, "reset_url": self._settings.password_reset_url.replace("{token}", token)}
            event = Event(recorded.id, recorded.type, recorded.subject, {**recorded.data, **secret}, now)
            for hook in self._on_password_reset:
                await hook(s, event)

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set the password with a reset token: single use, expiring; ends every session."""
        if not token:
            raise invalid("token", "is required")
        check_password(new_password, field="new_password")
        password_hash = await self._passwords.hash_async(new_password)
        now = self._clock.now()
        async with self._db.transaction() as s:
            reset = await s.get(PasswordResetRow, token_digest(token), with_for_update=True)
            if reset is None or reset.used_at is not None or reset.expires_at <= now:
                raise CustomerError(
                    INVALID_RESET_TOKEN,
                    "This password-reset link is invalid, expired or already used; request a new one.",
                )
            reset.used_at = now
            row = await self._row(s, reset.customer_id, lock=True)
            row.password_hash = password_hash
            row.is_guest = False  # proving the mailbox claims a guest record as an account
            row.revision += 1
            row.updated_at = now
            ended = await self.sessions.revoke_all(s, row.id, "password_reset")
            message = await self._proto(s, row)
            record_event(s, "customer.password_changed", message.name, message, now)
        await self.sessions.forget(ended)

    async def change_password(self, principal: Principal, current: str, new_password: str) -> None:
        """Change the caller's password; ends the caller's sessions (sign in again)."""
        customer_id = resolve_customer(principal, "customers/me")
        check_password(new_password, field="new_password")
        async with self._db.read() as s:
            stored = (await self._row(s, customer_id)).password_hash
        if not (await self._passwords.verify_async(stored, current)).ok:
            raise CustomerError(INVALID_CREDENTIALS, "The current password is wrong.")
        password_hash = await self._passwords.hash_async(new_password)
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._row(s, customer_id, lock=True)
            if row.password_hash != stored:
                raise CustomerError(INVALID_CREDENTIALS, "The password changed meanwhile; sign in again.")
            row.password_hash = password_hash
            row.revision += 1
            row.updated_at = now
            ended = await self.sessions.revoke_all(s, row.id, "password_changed")
            message = await self._proto(s, row)
            record_event(s, "customer.password_changed", message.name, message, now)
        await self.sessions.forget(ended)

    # -- customers -------------------------------------------------------------------------------
    async def create(self, customer: customers_pb2.Customer, password: str) -> customers_pb2.Customer:
        """Back office: create an account (with or without a password)."""
        email = normalize_email(customer.email, field="customer.email")
        _check_profile(customer, STAFF_PATHS, "customer.")
        if password:
            check_password(password)
        password_hash = await self._passwords.hash_async(password) if password else None
        now = self._clock.now()
        try:
            async with self._db.transaction() as s:
                existing = await self._by_email(s, email)
                if existing is not None:
                    raise self._email_taken(email, existing.id, staff=True)
                row = new_customer_row(email, now, is_guest=False)
                _apply(row, customer, [p for p in STAFF_PATHS if p != "email"])
                row.password_hash = password_hash
                s.add(row)
                await s.flush()
                message = await self._proto(s, row)
                record_event(s, "customer.created", message.name, message, now)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise self._email_taken(email, None, staff=True) from None
            raise
        return message

    async def get(self, principal: Principal, name: str) -> customers_pb2.Customer:
        customer_id = resolve_customer(principal, name)
        async with self._db.read() as s:
            return await self._proto(s, await self._row(s, customer_id))

    async def find_or_create_guest(self, email: str) -> customers_pb2.Customer:
        from rcommerce.domain.customers.directory import CustomerDirectory

        async with self._db.transaction() as s:
            profile = await CustomerDirectory(self._clock).find_or_create_guest(s, email)
            return await self._proto(s, await self._row(s, profile.id))

    async def update(
        self, principal: Principal, customer: customers_pb2.Customer, mask: FieldMask
    ) -> customers_pb2.Customer:
        customer_id = resolve_customer(principal, customer.name, "customer.name")
        allowed = SELF_SERVICE_PATHS if is_customer(principal) else STAFF_PATHS
        if is_customer(principal):
            asked = list(mask.paths) or [d.name for d, _ in customer.ListFields()]
            if "*" in asked:
                asked = []  # "*" is every field the caller may change
            staff_only = [p for p in asked if p in STAFF_PATHS and p not in SELF_SERVICE_PATHS]
            if staff_only:
                raise RequestError(
                    INSUFFICIENT_PERMISSIONS,
                    f"Customers may not change {', '.join(staff_only)}.",
                    violations=[FieldViolation(f"update_mask.{p}", "back-office field") for p in staff_only],
                    paths=",".join(staff_only),
                )
        paths = resolve_mask(mask, customer, allowed)
        _check_profile(customer, paths, "customer.")
        email = normalize_email(customer.email, field="customer.email") if "email" in paths else ""
        now = self._clock.now()
        try:
            async with self._db.transaction() as s:
                row = await self._row(s, customer_id, lock=True)
                if customer.etag and customer.etag != str(row.revision):
                    raise RequestError(
                        ETAG_MISMATCH,
                        f"Customer customers/{customer_id} changed since etag {customer.etag}; read it again and retry.",
                        etag=customer.etag,
                        currentEtag=row.revision,
                    )
                if email and email != row.email:
                    existing = await self._by_email(s, email)
                    if existing is not None:
                        raise self._email_taken(email, existing.id, staff=not is_customer(principal))
                    row.email = email
                _apply(row, customer, [p for p in paths if p != "email"])
                row.revision += 1
                row.updated_at = now
                await s.flush()
                message = await self._proto(s, row)
                record_event(s, "customer.updated", message.name, message, now)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise self._email_taken(email, None, staff=not is_customer(principal)) from None
            raise
        return message

    async def delete(self, principal: Principal, name: str) -> None:
        """Erase the customer with addresses, sessions, resets and memberships."""
        customer_id = resolve_customer(principal, name)
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._row(s, customer_id, lock=True)
            message = await self._proto(s, row)
            ended = await self.sessions.session_ids(s, customer_id)
            await s.execute(delete(CustomerRow).where(CustomerRow.id == customer_id))
            record_event(s, "customer.deleted", message.name, message, now)
        await self.sessions.forget(ended)

    async def list(self, request: customers_pb2.ListCustomersRequest) -> customers_pb2.ListCustomersResponse:
        limit = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, fingerprint(request))
        query = select(CustomerRow)
        if request.email:
            query = query.where(CustomerRow.email == request.email.strip().lower())
        if request.query:
            pattern = (
                "%" + request.query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            query = query.where(
                or_(
                    *(
                        func.lower(c).like(pattern, escape="\\")
                        for c in (CustomerRow.email, CustomerRow.first_name, CustomerRow.last_name, CustomerRow.phone)
                    )
                )
            )
        if request.customer_group:
            group_id = parse_name(request.customer_group, "customerGroups", "cgrp", "customer_group")
            members = select(CustomerGroupMemberRow.customer_id).where(
                CustomerGroupMemberRow.customer_group_id == group_id
            )
            query = query.where(CustomerRow.id.in_(members))
        if request.HasField("is_guest"):
            query = query.where(CustomerRow.is_guest.is_(request.is_guest))
        if request.HasField("accepts_marketing"):
            query = query.where(CustomerRow.accepts_marketing.is_(request.accepts_marketing))
        query = query.order_by(*_order_by(request.order_by), CustomerRow.id.desc())
        async with self._db.read() as s:
            if request.customer_group:
                from rcommerce.domain.customers.models import CustomerGroupRow

                if await s.get(CustomerGroupRow, group_id) is None:
                    raise CustomerError(
                        CUSTOMER_GROUP_NOT_FOUND,
                        f"Customer group {request.customer_group} does not exist.",
                        name=request.customer_group,
                    )
            rows = (await s.execute(query.offset(offset).limit(limit + 1))).scalars().all()
            groups: dict[str, list[str]] = {r.id: [] for r in rows[:limit]}
            if groups:
                members_q = select(CustomerGroupMemberRow).where(CustomerGroupMemberRow.customer_id.in_(list(groups)))
                for m in (await s.execute(members_q)).scalars().all():
                    groups[m.customer_id].append(m.customer_group_id)
        response = customers_pb2.ListCustomersResponse(
            customers=[customer_to_proto(r, groups[r.id]) for r in rows[:limit]]
        )
        if len(rows) > limit:
            response.next_page_token = self._tokens.encode(offset + limit, fingerprint(request))
        return response


def _order_by(text: str) -> list[Any]:
    if not text.strip():
        return [CustomerRow.created_at.desc()]
    clauses = []
    for part in text.split(","):
        words = part.split()
        if (
            not words
            or words[0] not in _ORDER_FIELDS
            or len(words) > 2
            or (len(words) == 2 and words[1] not in ("asc", "desc"))
        ):
            raise RequestError(
                INVALID_ORDER_BY,
                f"order_by {text!r} is invalid; use create_time or email, each optionally followed by desc.",
                violations=[FieldViolation("order_by", f"bad clause {part.strip()!r}")],
                field="order_by",
            )
        column = _ORDER_FIELDS[words[0]]
        clauses.append(column.desc() if len(words) == 2 and words[1] == "desc" else column.asc())
    return clauses


def _check_profile(customer: customers_pb2.Customer, paths: Sequence[str], prefix: str) -> None:
    violations: list[FieldViolation] = []
    for field, limit in _LIMITS.items():
        if field in paths and len(getattr(customer, field).strip()) > limit:
            violations.append(FieldViolation(f"{prefix}{field}", f"must be at most {limit} characters"))
    if "currency_code" in paths:
        bad = currency_violation(customer.currency_code, f"{prefix}currency_code")
        if bad:
            violations.append(bad)
    raise_violations(violations)


def _apply(row: CustomerRow, customer: customers_pb2.Customer, paths: Sequence[str]) -> None:
    for path in paths:
        if path == "metadata":
            row.extra = struct_to_db(customer.metadata)
        elif path in ("accepts_marketing", "tax_exempt"):
            setattr(row, path, getattr(customer, path))
        elif path == "vat_id":
            row.vat_id = customer.vat_id.strip().upper().replace(" ", "")
        else:
            setattr(row, path, getattr(customer, path).strip())
