"""Customers, sign-in and customer groups through the public API, on gRPC and on REST."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.clock import PausableClock
from rcommerce.errors import catalogue
from rcommerce.gen.v1 import common_pb2
from rcommerce.gen.v1 import customers_pb2 as C
from rcommerce.gen.v1 import notifications_pb2 as N
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer

PASSWORD = "api password 1"
LIMIT_KEYS = [
    f"{action}:ip:{ip}" for action in ("sign_in", "register", "password_reset") for ip in ("127.0.0.1", "::1")
]


@pytest.fixture(autouse=True)
async def fresh_limits(server: LiveServer) -> AsyncIterator[None]:
    """Every test here signs in from 127.0.0.1; start and leave the per-IP buckets full
    so the shared server's other tests are not limited by ours."""
    for key in LIMIT_KEYS:
        await server.app.customers.limiter.reset(key)
    yield
    for key in LIMIT_KEYS:
        await server.app.customers.limiter.reset(key)


def email(label: str = "api") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


def http_of(error: ApiError) -> int:
    """The HTTP status on REST; on gRPC the status the reason maps to, after checking
    that the gRPC code is the reason's."""
    if error.http_status is not None:
        return error.http_status
    declared = {r.name: r for r in catalogue()}[error.reason]
    assert error.status == declared.code.name
    return declared.http_status


async def failure(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def register(client: ApiClient, address: str | None = None) -> C.AuthSession:
    # Derived clients share the fixture's channel/connection pool: never close them.
    anonymous = client.with_token(None)
    return await anonymous.call(
        "Register", C.RegisterRequest(email=address or email(), password=PASSWORD, first_name="Ada")
    )


async def test_a_customer_manages_their_own_account(client: ApiClient) -> None:
    session = await register(client)
    assert session.token_type == "Bearer" and session.expires_in == 900 and session.refresh_token
    me = client.with_token(session.access_token)
    got = await me.call("GetCustomer", C.GetCustomerRequest(name="customers/me"))
    assert got.id == session.customer.id and got.first_name == "Ada"
    changed = await me.call(
        "UpdateCustomer",
        C.UpdateCustomerRequest(
            customer=C.Customer(name="customers/me", last_name="Lovelace"), update_mask=FieldMask(paths=["last_name"])
        ),
    )
    assert changed.last_name == "Lovelace" and changed.etag == "2"
    error = await failure(
        me.call(
            "UpdateCustomer",
            C.UpdateCustomerRequest(
                customer=C.Customer(name="customers/me", tax_exempt=True), update_mask=FieldMask(paths=["tax_exempt"])
            ),
        )
    )
    assert (error.reason, http_of(error)) == ("INSUFFICIENT_PERMISSIONS", 403)

    address = common_pb2.Address(
        first_name="Ada", address1="12 Analytical Way", city="London", postal_code="N1 9GU", country_code="GB"
    )
    created = await me.call(
        "CreateAddress", C.CreateAddressRequest(parent="customers/me", address=C.CustomerAddress(address=address))
    )
    assert created.is_default_shipping and created.is_default_billing
    assert created.name == f"{session.customer.name}/addresses/{created.id}"
    listed = await me.call("ListAddresses", C.ListAddressesRequest(parent="customers/me"))
    assert [a.id for a in listed.addresses] == [created.id]
    bad = await failure(
        me.call(
            "CreateAddress",
            C.CreateAddressRequest(
                parent="customers/me", address=C.CustomerAddress(address=common_pb2.Address(city="X"))
            ),
        )
    )
    assert (bad.reason, http_of(bad)) == ("VALIDATION_FAILED", 400)
    await me.call("DeleteAddress", C.DeleteAddressRequest(name=created.name))
    assert not (await me.call("ListAddresses", C.ListAddressesRequest(parent="customers/me"))).addresses

    # Back-office RPCs are closed to customers.
    error = await failure(me.call("ListCustomers", C.ListCustomersRequest()))
    assert (error.reason, http_of(error)) == ("INSUFFICIENT_PERMISSIONS", 403)


async def test_customers_cannot_read_each_other(client: ApiClient) -> None:
    mine, theirs = await register(client), await register(client)
    me = client.with_token(mine.access_token)
    error = await failure(me.call("GetCustomer", C.GetCustomerRequest(name=theirs.customer.name)))
    assert (error.reason, http_of(error)) == ("INSUFFICIENT_PERMISSIONS", 403)
    error = await failure(me.call("ListAddresses", C.ListAddressesRequest(parent=theirs.customer.name)))
    assert error.reason == "INSUFFICIENT_PERMISSIONS"
    # Staff read anyone; "customers/me" means nothing for a key.
    assert (await client.call("GetCustomer", C.GetCustomerRequest(name=theirs.customer.name))).id == theirs.customer.id
    error = await failure(client.call("GetCustomer", C.GetCustomerRequest(name="customers/me")))
    assert (error.reason, http_of(error)) == ("INVALID_RESOURCE_NAME", 400)


async def test_sign_in_refresh_and_sign_out(client: ApiClient) -> None:
    address = email()
    await register(client, address)
    anonymous = client.with_token(None)
    wrong = await failure(anonymous.call("SignIn", C.SignInRequest(email=address, password="nope nope")))
    unknown = await failure(anonymous.call("SignIn", C.SignInRequest(email=email(), password=PASSWORD)))
    assert (wrong.reason, http_of(wrong)) == (unknown.reason, http_of(unknown)) == ("INVALID_CREDENTIALS", 401)
    assert str(wrong).split(":", 1)[-1] == str(unknown).split(":", 1)[-1]

    session = await anonymous.call("SignIn", C.SignInRequest(email=address.upper(), password=PASSWORD))
    rotated = await anonymous.call("RefreshSession", C.RefreshSessionRequest(refresh_token=session.refresh_token))
    assert rotated.refresh_token != session.refresh_token
    reuse = await failure(
        anonymous.call("RefreshSession", C.RefreshSessionRequest(refresh_token=session.refresh_token))
    )
    assert (reuse.reason, http_of(reuse)) == ("INVALID_REFRESH_TOKEN", 401)
    # Reuse ended the session: the rotated tokens are dead too.
    dead = client.with_token(rotated.access_token)
    error = await failure(dead.call("GetCustomer", C.GetCustomerRequest(name="customers/me")))
    assert (error.reason, http_of(error)) == ("INVALID_ACCESS_TOKEN", 401)

    fresh = await anonymous.call("SignIn", C.SignInRequest(email=address, password=PASSWORD))
    await anonymous.call("SignOut", C.SignOutRequest(refresh_token=fresh.refresh_token))
    gone = client.with_token(fresh.access_token)
    error = await failure(gone.call("GetCustomer", C.GetCustomerRequest(name="customers/me")))
    assert error.reason == "INVALID_ACCESS_TOKEN"
    # A refresh token is not an access token.
    misuse = client.with_token(fresh.refresh_token)
    error = await failure(misuse.call("GetCustomer", C.GetCustomerRequest(name="customers/me")))
    assert http_of(error) == 401


async def test_sign_in_is_rate_limited(client: ApiClient, server: LiveServer) -> None:
    address = email()
    await register(client, address)
    anonymous = client.with_token(None)
    clock = server.clock
    assert isinstance(clock, PausableClock)
    with clock.paused():  # no bucket refills between the calls, however slow the machine
        for _ in range(10):
            await failure(anonymous.call("SignIn", C.SignInRequest(email=address, password="wrong pass")))
        limited = await failure(anonymous.call("SignIn", C.SignInRequest(email=address, password=PASSWORD)))
        assert (limited.reason, http_of(limited)) == ("SIGN_IN_RATE_LIMITED", 429)
        assert int(limited.metadata["retryAfterSeconds"]) == 6
        if client.transport == "rest":
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                response = await http.post("/v1/auth:signIn", json={"email": address, "password": PASSWORD})
            assert response.status_code == 429 and int(response.headers["retry-after"]) == 6


async def test_rate_limit_headers_on_rest(server: LiveServer) -> None:
    address = email()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        registered = await http.post("/v1/customers:register", json={"email": address, "password": PASSWORD})
        assert registered.status_code == 200
        response = await http.post("/v1/auth:signIn", json={"email": address, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["ratelimit-limit"] == "10" and response.headers["ratelimit-remaining"] == "9"
    body = response.json()
    assert body["tokenType"] == "Bearer" and body["customer"]["email"] == address


async def test_password_reset_by_mailed_link(client: ApiClient) -> None:
    address = email("reset")
    await register(client, address)
    rule = await client.call(
        "CreateNotificationRule",
        N.CreateNotificationRuleRequest(
            notification_rule=N.NotificationRule(
                event_type="customer.password_reset_requested",
                template="password_reset",
                channel="log",
                recipient="{{ email }}",
            )
        ),
    )
    anonymous = client.with_token(None)
    try:
        await anonymous.call(
            "RequestPasswordReset", C.RequestPasswordResetRequest(email=email("nobody"))
        )  # same answer
        await anonymous.call("RequestPasswordReset", C.RequestPasswordResetRequest(email=address))
        sent = await client.call("ListNotifications", N.ListNotificationsRequest(channel="log", page_size=100))
        (mail,) = [n for n in sent.notifications if n.recipient == address]
        match = re.search(r"token=(prt_[A-Za-z0-9_-]+)", mail.text)
        assert match, mail.text
        await anonymous.call(
            "ResetPassword", C.ResetPasswordRequest(token=match.group(1), new_password="a new password")
        )
        again = await failure(
            anonymous.call("ResetPassword", C.ResetPasswordRequest(token=match.group(1), new_password="third password"))
        )
        assert (again.reason, http_of(again)) == ("INVALID_RESET_TOKEN", 422)
        session = await anonymous.call("SignIn", C.SignInRequest(email=address, password="a new password"))
        assert session.customer.email == address
    finally:
        await client.call("DeleteNotificationRule", N.DeleteNotificationRuleRequest(name=rule.name))


async def test_back_office_customers_guests_and_groups(client: ApiClient) -> None:
    tag = uuid.uuid4().hex[:8]
    created = await client.call(
        "CreateCustomer",
        C.CreateCustomerRequest(customer=C.Customer(email=f"b2b-{tag}@example.com", vat_id="DE123456789")),
    )
    taken = await failure(
        client.call("CreateCustomer", C.CreateCustomerRequest(customer=C.Customer(email=f"B2B-{tag}@example.com")))
    )
    assert (taken.reason, http_of(taken)) == ("EMAIL_TAKEN", 409) and taken.metadata["existingCustomerId"] == created.id
    bad = await failure(
        client.call("CreateCustomer", C.CreateCustomerRequest(customer=C.Customer(email="not-an-email")))
    )
    assert (bad.reason, http_of(bad)) == ("INVALID_EMAIL", 400)

    guest = await client.call("FindOrCreateGuest", C.FindOrCreateGuestRequest(email=f"Guest-{tag}@example.com"))
    assert guest.is_guest and guest.email == f"guest-{tag}@example.com"
    assert (
        await client.call("FindOrCreateGuest", C.FindOrCreateGuestRequest(email=f"guest-{tag}@example.com"))
    ).id == guest.id

    group = await client.call(
        "CreateCustomerGroup", C.CreateCustomerGroupRequest(customer_group=C.CustomerGroup(display_name=f"Trade {tag}"))
    )
    grown = await client.call(
        "AddCustomerGroupMembers", C.AddCustomerGroupMembersRequest(customer_group=group.name, customers=[created.name])
    )
    assert grown.customer_count == 1
    members = await client.call("ListCustomers", C.ListCustomersRequest(customer_group=group.name))
    assert [c.id for c in members.customers] == [created.id] and members.customers[0].customer_groups == [group.name]
    found = await client.call("ListCustomers", C.ListCustomersRequest(query=tag, is_guest=True))
    assert [c.id for c in found.customers] == [guest.id]
    missing = await failure(
        client.call(
            "GetCustomerGroup", C.GetCustomerGroupRequest(name="customerGroups/cgrp_01JAAAAAAAAAAAAAAAAAAAAAAA")
        )
    )
    assert (missing.reason, http_of(missing)) == ("CUSTOMER_GROUP_NOT_FOUND", 404)
    await client.call("DeleteCustomerGroup", C.DeleteCustomerGroupRequest(name=group.name))
    await client.call("DeleteCustomer", C.DeleteCustomerRequest(name=created.name))
    gone = await failure(client.call("GetCustomer", C.GetCustomerRequest(name=created.name)))
    assert (gone.reason, http_of(gone)) == ("CUSTOMER_NOT_FOUND", 404)
