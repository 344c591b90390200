"""Sign-in, sessions, refresh-token rotation, sign-out, password reset and the sign-in
rate limit against every database in the matrix."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rcommerce.auth.passwords import phpass_hash
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.customers.errors import (
    ACCESS_TOKEN_EXPIRED,
    EMAIL_TAKEN,
    INVALID_ACCESS_TOKEN,
    INVALID_CREDENTIALS,
    INVALID_REFRESH_TOKEN,
    INVALID_RESET_TOKEN,
    SIGN_IN_RATE_LIMITED,
    WEAK_PASSWORD,
)
from rcommerce.domain.customers.models import CustomerRow, SessionRow
from rcommerce.domain.customers.wiring import CustomerServices
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import customers_pb2 as C
from tests.backends._customers import PASSWORD, STAFF, Hooks, build, email, events_of


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def hooks() -> Hooks:
    return Hooks()


@pytest.fixture
def cs(db: Database, clock: FrozenClock, hooks: Hooks) -> CustomerServices:
    return build(db, clock, hooks)


async def register(cs: CustomerServices, address: str | None = None, cart_token: str = "") -> C.AuthSession:
    return await cs.service.register(
        C.RegisterRequest(email=address or email(), password=PASSWORD, cart_token=cart_token)
    )


async def sign_in(
    cs: CustomerServices, address: str, password: str = PASSWORD, *, peer: str = "", cart_token: str = ""
) -> C.AuthSession:
    return await cs.service.sign_in(C.SignInRequest(email=address, password=password, cart_token=cart_token), peer=peer)


async def reason_of(call: object) -> str:
    with pytest.raises(DomainError) as caught:
        await call  # type: ignore[misc]
    return caught.value.reason.name


async def test_register_signs_in_with_a_working_access_token(
    db: Database, cs: CustomerServices, clock: FrozenClock
) -> None:
    session = await register(cs, cart_token="guest-cart-1")
    assert session.token_type == "Bearer" and session.expires_in == 900
    assert session.refresh_token.startswith("rt_") and not session.customer.is_guest
    principal = await cs.verifier.verify(session.access_token)
    assert principal == Principal(principal.kind, session.customer.name, principal.scopes)
    assert (
        principal.kind is PrincipalKind.CUSTOMER
        and principal.allows("carts:write")
        and not principal.allows("products:write")
    )
    assert not principal.allows("customers:admin")
    clock.advance(minutes=15)
    assert await reason_of(cs.verifier.verify(session.access_token)) == ACCESS_TOKEN_EXPIRED.name


async def test_register_refuses_taken_emails_and_weak_passwords(db: Database, cs: CustomerServices) -> None:
    address = email()
    await register(cs, address)
    assert await reason_of(register(cs, address.upper())) == EMAIL_TAKEN.name
    async with db.transaction() as s:
        guest = await cs.directory.find_or_create_guest(s, email("guest"))
    assert await reason_of(register(cs, guest.email)) == EMAIL_TAKEN.name  # claim it by password reset
    assert (
        await reason_of(cs.service.register(C.RegisterRequest(email=email(), password="short"))) == WEAK_PASSWORD.name
    )


async def test_sign_in_never_says_which_part_was_wrong(db: Database, cs: CustomerServices) -> None:
    address = email()
    await register(cs, address)
    async with db.transaction() as s:
        guest = await cs.directory.find_or_create_guest(s, email("guest"))
    messages = set()
    for who, password in (
        (address, "wrong password"),
        (email("nobody"), PASSWORD),
        (guest.email, PASSWORD),
        (address, ""),
    ):
        with pytest.raises(DomainError) as caught:
            await sign_in(cs, who, password)
        assert caught.value.reason is INVALID_CREDENTIALS
        messages.add(caught.value.message)
    assert len(messages) == 1
    session = await sign_in(cs, f"  {address.upper()}  ")
    assert (await cs.verifier.verify(session.access_token)).subject == session.customer.name
    assert session.customer.HasField("last_sign_in_time")


async def test_sign_in_merges_the_guest_cart_in_its_own_transaction(
    db: Database, cs: CustomerServices, hooks: Hooks
) -> None:
    address = email()
    registered = await register(cs, address)
    await sign_in(cs, address)  # no cart token: no hook call
    assert hooks.sign_ins == []
    await sign_in(cs, address, cart_token="tok_guest")
    assert hooks.sign_ins == [(registered.customer.id, "tok_guest")]
    async with db.read() as s:
        before = len(
            (await s.execute(select(SessionRow).where(SessionRow.customer_id == registered.customer.id))).all()
        )
    hooks.fail_sign_in = True
    with pytest.raises(RuntimeError):
        await sign_in(cs, address, cart_token="tok_broken")
    async with db.read() as s:
        after = len((await s.execute(select(SessionRow).where(SessionRow.customer_id == registered.customer.id))).all())
    assert after == before  # the failed merge rolled the whole sign-in back


@pytest.mark.parametrize("scheme", ["phpass", "bcrypt"])
async def test_imported_hashes_sign_in_and_become_argon2id(db: Database, cs: CustomerServices, scheme: str) -> None:
    import bcrypt

    created = await cs.service.create(C.Customer(email=email(scheme)), "")
    legacy = (
        phpass_hash("imported pw", "$P$B55D6LjfH")
        if scheme == "phpass"
        else bcrypt.hashpw(b"imported pw", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")
    )
    async with db.transaction() as s:
        row = await s.get(CustomerRow, created.id)
        assert row is not None
        row.password_hash = legacy
    assert await reason_of(sign_in(cs, created.email, "imported PW")) == INVALID_CREDENTIALS.name
    await sign_in(cs, created.email, "imported pw")
    async with db.read() as s:
        stored = (await s.get(CustomerRow, created.id)).password_hash  # type: ignore[union-attr]
    assert stored is not None and stored.startswith("$argon2id$")
    await sign_in(cs, created.email, "imported pw")  # and still works


async def test_refresh_rotates_and_reuse_ends_the_session(
    db: Database, cs: CustomerServices, clock: FrozenClock
) -> None:
    first = await register(cs)
    clock.advance(60)
    second = await cs.service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert second.customer.id == first.customer.id
    await cs.verifier.verify(second.access_token)
    # The first refresh token was used: presenting it again is theft. The session ends.
    assert await reason_of(cs.service.refresh(first.refresh_token)) == INVALID_REFRESH_TOKEN.name
    assert await reason_of(cs.service.refresh(second.refresh_token)) == INVALID_REFRESH_TOKEN.name
    assert await reason_of(cs.verifier.verify(second.access_token)) == INVALID_ACCESS_TOKEN.name
    async with db.read() as s:
        row = (await s.execute(select(SessionRow).where(SessionRow.customer_id == first.customer.id))).scalar_one()
    assert row.revoke_reason == "refresh_token_reuse"
    assert await reason_of(cs.service.refresh("rt_unknown")) == INVALID_REFRESH_TOKEN.name


async def test_sessions_end_after_the_refresh_ttl(cs: CustomerServices, clock: FrozenClock) -> None:
    session = await register(cs)
    clock.advance(days=29, hours=23)
    latest = await cs.service.refresh(session.refresh_token)
    clock.advance(hours=1)
    assert await reason_of(cs.service.refresh(latest.refresh_token)) == INVALID_REFRESH_TOKEN.name


async def test_sign_out_ends_one_session_or_all(db: Database, cs: CustomerServices) -> None:
    address = email()
    one = await register(cs, address)
    two = await sign_in(cs, address)
    await cs.service.sign_out(Principal(PrincipalKind.ANONYMOUS), one.refresh_token, False)
    assert await reason_of(cs.verifier.verify(one.access_token)) == INVALID_ACCESS_TOKEN.name
    assert await reason_of(cs.service.refresh(one.refresh_token)) == INVALID_REFRESH_TOKEN.name
    principal = await cs.verifier.verify(two.access_token)
    three = await sign_in(cs, address)
    await cs.service.sign_out(principal, "", True)
    for session in (two, three):
        assert await reason_of(cs.verifier.verify(session.access_token)) == INVALID_ACCESS_TOKEN.name
    assert [e.type for e in await events_of(db, one.customer.name)].count("customer.signed_out") == 2
    assert await reason_of(cs.service.sign_out(STAFF, "rt_unknown", False)) == INVALID_REFRESH_TOKEN.name


async def test_password_reset_is_single_use_and_expires(
    db: Database, cs: CustomerServices, hooks: Hooks, clock: FrozenClock
) -> None:
    address = email()
    session = await register(cs, address)
    await cs.service.request_password_reset(email("nobody"))  # same answer, nothing happens
    assert hooks.resets == []
    await cs.service.request_password_reset(address)
    (event,) = hooks.resets
    token = event.data["reset_token"]
    assert (
        token.startswith("prt_")
        and event.data["reset_url"] == f"http://localhost:3000/account/reset-password?token={token}"
    )
    recorded = [e for e in await events_of(db, session.customer.name) if e.type == "customer.password_reset_requested"]
    assert len(recorded) == 1 and recorded[0].id == event.id
    assert token not in str(recorded[0].data) and "reset_url" not in recorded[0].data  # never in the outbox
    assert recorded[0].data["expires_in"] == "60 minutes"

    await cs.service.reset_password(token, "brand new password")
    assert await reason_of(cs.verifier.verify(session.access_token)) == INVALID_ACCESS_TOKEN.name  # sessions ended
    assert await reason_of(sign_in(cs, address)) == INVALID_CREDENTIALS.name
    await sign_in(cs, address, "brand new password")
    assert await reason_of(cs.service.reset_password(token, "another password")) == INVALID_RESET_TOKEN.name

    await cs.service.request_password_reset(address)
    late = hooks.resets[-1].data["reset_token"]
    clock.advance(hours=1)
    assert await reason_of(cs.service.reset_password(late, "another password")) == INVALID_RESET_TOKEN.name
    assert await reason_of(cs.service.reset_password("prt_forged", "another password")) == INVALID_RESET_TOKEN.name


async def test_a_guest_claims_the_account_through_a_reset(db: Database, cs: CustomerServices, hooks: Hooks) -> None:
    async with db.transaction() as s:
        guest = await cs.directory.find_or_create_guest(s, email("guest"))
    await cs.service.request_password_reset(guest.email)
    await cs.service.reset_password(hooks.resets[-1].data["reset_token"], "claimed password")
    session = await sign_in(cs, guest.email, "claimed password")
    assert session.customer.id == guest.id and not session.customer.is_guest


async def test_change_password_needs_the_current_one(cs: CustomerServices) -> None:
    address = email()
    session = await register(cs, address)
    me = await cs.verifier.verify(session.access_token)
    assert await reason_of(cs.service.change_password(me, "wrong", "new password 2")) == INVALID_CREDENTIALS.name
    assert await reason_of(cs.service.change_password(me, PASSWORD, "short")) == WEAK_PASSWORD.name
    await cs.service.change_password(me, PASSWORD, "new password 2")
    await sign_in(cs, address, "new password 2")
    assert await reason_of(cs.verifier.verify(session.access_token)) == INVALID_ACCESS_TOKEN.name


async def test_deleting_a_customer_ends_their_sessions(cs: CustomerServices) -> None:
    session = await register(cs)
    me = await cs.verifier.verify(session.access_token)
    await cs.service.delete(me, "customers/me")
    assert await reason_of(cs.verifier.verify(session.access_token)) == INVALID_ACCESS_TOKEN.name
    assert await reason_of(cs.service.refresh(session.refresh_token)) == INVALID_REFRESH_TOKEN.name


async def test_sign_in_is_limited_per_address_and_per_email(cs: CustomerServices, clock: FrozenClock) -> None:
    """DECISIONS 23: 10/min per IP and per email (burst 10, then one every 6 s)."""
    address = email()
    await register(cs, address)
    for _ in range(10):
        assert await reason_of(sign_in(cs, address, "wrong", peer="203.0.113.7")) == INVALID_CREDENTIALS.name
    with pytest.raises(DomainError) as caught:
        await sign_in(cs, address, peer="203.0.113.7")  # even the right password waits
    assert caught.value.reason is SIGN_IN_RATE_LIMITED and caught.value.retry_after_s == pytest.approx(6.0)
    assert caught.value.metadata == {"retryAfterSeconds": "6"}
    # Another address, same email: the per-email limit holds.
    assert await reason_of(sign_in(cs, address, peer="198.51.100.1")) == SIGN_IN_RATE_LIMITED.name
    # The same address, other emails: the per-IP limit holds.
    assert await reason_of(sign_in(cs, email(), peer="203.0.113.7")) == SIGN_IN_RATE_LIMITED.name
    clock.advance(6)
    assert (await sign_in(cs, address, peer="198.51.100.2")).customer.email == address.lower()


async def test_limits_come_from_settings(db: Database, clock: FrozenClock, hooks: Hooks) -> None:
    cs = build(db, clock, hooks, sign_in_limit_per_minute=2, sign_in_burst=2)
    address = email()
    headers: dict[str, str] = {}
    await cs.service.register(C.RegisterRequest(email=address, password=PASSWORD), peer="192.0.2.9", headers=headers)
    assert headers == {"ratelimit-limit": "2", "ratelimit-remaining": "1", "ratelimit-reset": "30"}
    # Registration and sign-in are counted apart.
    await sign_in(cs, address, peer="192.0.2.10")
    await sign_in(cs, address, peer="192.0.2.11")
    assert await reason_of(sign_in(cs, address, peer="192.0.2.12")) == SIGN_IN_RATE_LIMITED.name
