"""Customers, guests, addresses and groups against every database in the matrix."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.auth.principal import Principal, PrincipalKind, customer_id_of
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.customers.errors import (
    ADDRESS_NOT_FOUND,
    CUSTOMER_GROUP_NAME_TAKEN,
    CUSTOMER_NOT_FOUND,
    EMAIL_TAKEN,
    INVALID_EMAIL,
)
from rcommerce.domain.customers.wiring import CustomerServices
from rcommerce.errors import INSUFFICIENT_PERMISSIONS, VALIDATION_FAILED, DomainError
from rcommerce.gen.v1 import common_pb2
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


def as_customer(customer_id: str) -> Principal:
    return Principal(PrincipalKind.CUSTOMER, f"customers/{customer_id}")


async def register(cs: CustomerServices, address: str | None = None) -> C.AuthSession:
    return await cs.service.register(C.RegisterRequest(email=address or email(), password=PASSWORD, first_name="Ada"))


# -- directory (the contract other contexts use) ----------------------------------------------
async def test_find_or_create_guest_creates_once_by_normalised_email(db: Database, cs: CustomerServices) -> None:
    address = email("guest")
    async with db.transaction() as s:
        first = await cs.directory.find_or_create_guest(s, f"  {address.upper()} ")
    async with db.transaction() as s:
        again = await cs.directory.find_or_create_guest(s, address)
    assert first.id == again.id and first.id.startswith("cus_")
    assert first.email == address.lower() and first.is_guest and first.orders_count == 0
    assert first.group_ids == frozenset() and not first.tax_exempt and first.vat_id == ""
    assert [e.type for e in await events_of(db, f"customers/{first.id}")] == ["customer.created"]
    async with db.read() as s:
        assert await cs.directory.get(s, first.id) == first
        assert await cs.directory.get(s, "cus_01JAAAAAAAAAAAAAAAAAAAAAAA") is None


async def test_record_order_counts_atomically(db: Database, cs: CustomerServices) -> None:
    async with db.transaction() as s:
        guest = await cs.directory.find_or_create_guest(s, email("buyer"))

    async def one() -> None:
        async with db.transaction() as s:
            await cs.directory.record_order(s, guest.id)

    await asyncio.gather(*(one() for _ in range(5)))
    async with db.read() as s:
        profile = await cs.directory.get(s, guest.id)
    assert profile is not None and profile.orders_count == 5


async def test_find_or_create_guest_returns_the_registered_account(db: Database, cs: CustomerServices) -> None:
    session = await register(cs)
    async with db.transaction() as s:
        profile = await cs.directory.find_or_create_guest(s, session.customer.email)
    assert profile.id == session.customer.id and not profile.is_guest


async def test_find_or_create_guest_tells_every_group_of_an_existing_customer(
    db: Database, cs: CustomerServices
) -> None:
    tag = uuid.uuid4().hex[:8]
    groups = [await cs.groups.create(C.CustomerGroup(display_name=f"{label} {tag}")) for label in ("Trade", "VIP")]
    session = await register(cs)
    for group in groups:
        await cs.groups.add_members(group.name, [session.customer.name])
    async with db.transaction() as s:
        profile = await cs.directory.find_or_create_guest(s, session.customer.email)
        assert profile == await cs.directory.get(s, session.customer.id)
    assert profile.group_ids == frozenset(g.id for g in groups)


async def test_concurrent_find_or_create_guest_leaves_one_customer(db: Database, cs: CustomerServices) -> None:
    address = email("race")

    async def one() -> str:
        async with db.transaction() as s:
            return (await cs.directory.find_or_create_guest(s, address)).id

    ids = await asyncio.gather(*(one() for _ in range(4)))
    assert len(set(ids)) == 1


async def test_find_or_create_guest_refuses_a_bad_email(db: Database, cs: CustomerServices) -> None:
    for bad in ("", "no-at-sign", "a@b", "two@@example.com", "sp ace@example.com"):
        with pytest.raises(DomainError) as caught:
            async with db.transaction() as s:
                await cs.directory.find_or_create_guest(s, bad)
        assert caught.value.reason is INVALID_EMAIL


# -- accounts --------------------------------------------------------------------------------
async def test_create_get_update_delete_by_staff(db: Database, cs: CustomerServices) -> None:
    address = email("staff")
    created = await cs.service.create(
        C.Customer(email=address, first_name=" Grace ", tax_exempt=True, vat_id="de 123456789"), ""
    )
    assert (
        created.email == address.lower()
        and created.first_name == "Grace"
        and created.tax_exempt
        and created.vat_id == "DE123456789"
    )
    assert not created.is_guest and created.etag == "1"
    with pytest.raises(DomainError) as caught:
        await cs.service.create(C.Customer(email=address), "")
    assert caught.value.reason is EMAIL_TAKEN and caught.value.metadata["existingCustomerId"] == created.id

    updated = await cs.service.update(
        STAFF, C.Customer(name=created.name, last_name="Hopper", etag="1"), FieldMask(paths=["last_name"])
    )
    assert updated.last_name == "Hopper" and updated.first_name == "Grace" and updated.etag == "2"
    with pytest.raises(DomainError, match="changed since etag"):
        await cs.service.update(
            STAFF, C.Customer(name=created.name, last_name="X", etag="1"), FieldMask(paths=["last_name"])
        )

    await cs.service.delete(STAFF, created.name)
    with pytest.raises(DomainError) as caught:
        await cs.service.get(STAFF, created.name)
    assert caught.value.reason is CUSTOMER_NOT_FOUND
    assert [e.type for e in await events_of(db, created.name)] == [
        "customer.created",
        "customer.updated",
        "customer.deleted",
    ]


async def test_customers_see_and_change_only_themselves(cs: CustomerServices) -> None:
    mine, theirs = await register(cs), await register(cs)
    me = as_customer(mine.customer.id)
    assert (await cs.service.get(me, "customers/me")).id == mine.customer.id
    assert (await cs.service.get(me, mine.customer.name)).id == mine.customer.id
    for name in (theirs.customer.name, "customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA"):  # existing or not: same answer
        with pytest.raises(DomainError) as caught:
            await cs.service.get(me, name)
        assert caught.value.reason is INSUFFICIENT_PERMISSIONS
    with pytest.raises(DomainError) as caught:
        await cs.service.update(me, C.Customer(name="customers/me", tax_exempt=True), FieldMask())
    assert caught.value.reason is INSUFFICIENT_PERMISSIONS
    changed = await cs.service.update(
        me, C.Customer(name="customers/me", phone="+1 555", accepts_marketing=True), FieldMask()
    )
    assert changed.phone == "+1 555" and changed.accepts_marketing and not changed.tax_exempt
    with pytest.raises(DomainError) as caught:
        await cs.service.update(
            me, C.Customer(name="customers/me", email=theirs.customer.email), FieldMask(paths=["email"])
        )
    assert caught.value.reason is EMAIL_TAKEN and "existingCustomerId" not in caught.value.metadata
    assert customer_id_of(me) == mine.customer.id
    assert customer_id_of(STAFF) is None


async def test_bad_profile_input_changes_nothing(cs: CustomerServices) -> None:
    session = await register(cs)
    me = as_customer(session.customer.id)
    with pytest.raises(DomainError) as caught:
        await cs.service.update(
            me,
            C.Customer(name="customers/me", first_name="x" * 101, currency_code="usd"),
            FieldMask(paths=["first_name", "currency_code"]),
        )
    assert caught.value.reason is VALIDATION_FAILED and len(caught.value.violations) == 2
    assert (await cs.service.get(me, "customers/me")).first_name == "Ada"


async def test_list_customers_filters_and_pages(db: Database, cs: CustomerServices, clock: FrozenClock) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = []
    for i in range(3):
        clock.advance(1)
        ids.append(
            (await cs.service.create(C.Customer(email=f"list{i}-{tag}@example.com", accepts_marketing=i == 1), "")).id
        )
    clock.advance(1)
    async with db.transaction() as s:
        guest = await cs.directory.find_or_create_guest(s, f"guest-{tag}@example.com")
    page1 = await cs.service.list(C.ListCustomersRequest(query=tag, page_size=2))
    assert [c.id for c in page1.customers] == [guest.id, ids[2]] and page1.next_page_token
    page2 = await cs.service.list(C.ListCustomersRequest(query=tag, page_size=2, page_token=page1.next_page_token))
    assert [c.id for c in page2.customers] == [ids[1], ids[0]] and not page2.next_page_token
    assert [c.id for c in (await cs.service.list(C.ListCustomersRequest(query=tag, is_guest=True))).customers] == [
        guest.id
    ]
    assert [
        c.id for c in (await cs.service.list(C.ListCustomersRequest(query=tag, accepts_marketing=True))).customers
    ] == [ids[1]]
    assert [
        c.id for c in (await cs.service.list(C.ListCustomersRequest(email=f"LIST0-{tag}@example.com"))).customers
    ] == [ids[0]]
    asc = await cs.service.list(C.ListCustomersRequest(query=tag, order_by="email"))
    assert [c.email for c in asc.customers] == sorted(c.email for c in asc.customers)
    with pytest.raises(DomainError, match="order_by"):
        await cs.service.list(C.ListCustomersRequest(order_by="password"))


# -- addresses -------------------------------------------------------------------------------
def home(**fields: str) -> C.CustomerAddress:
    values = {
        "first_name": "Ada",
        "address1": "1 Main St",
        "city": "Springfield",
        "country_code": "us",
        "postal_code": "12345",
    }
    return C.CustomerAddress(address=common_pb2.Address(**{**values, **fields}))


async def test_addresses_keep_one_default_each(db: Database, cs: CustomerServices, clock: FrozenClock) -> None:
    session = await register(cs)
    me = as_customer(session.customer.id)
    first = await cs.addresses.create(me, "customers/me", home())
    clock.advance(1)  # listed oldest first
    assert first.is_default_shipping and first.is_default_billing and first.address.country_code == "US"
    second_in = home(address1="2 Side St")
    second_in.is_default_shipping = True
    second = await cs.addresses.create(me, session.customer.name, second_in)
    listed = (await cs.addresses.list(me, "customers/me")).addresses
    assert [(a.id, a.is_default_shipping, a.is_default_billing) for a in listed] == [
        (first.id, False, True),
        (second.id, True, False),
    ]

    moved = await cs.addresses.update(
        me, C.CustomerAddress(name=first.name, is_default_shipping=True), FieldMask(paths=["is_default_shipping"])
    )
    assert moved.is_default_shipping and moved.address.address1 == "1 Main St"
    assert not (await cs.addresses.get(me, second.name)).is_default_shipping
    city = await cs.addresses.update(
        me,
        C.CustomerAddress(name=second.name, address=common_pb2.Address(city="Shelbyville")),
        FieldMask(paths=["address.city"]),
    )
    assert city.address.city == "Shelbyville" and city.address.address1 == "2 Side St"

    await cs.addresses.delete(me, first.name)  # held both defaults: they pass to the other
    heir = await cs.addresses.get(me, f"customers/me/addresses/{second.id}")
    assert heir.is_default_shipping and heir.is_default_billing
    with pytest.raises(DomainError) as caught:
        await cs.addresses.get(me, first.name)
    assert caught.value.reason is ADDRESS_NOT_FOUND
    assert [e.type for e in await events_of(db, first.name)] == [
        "customer_address.created",
        "customer_address.updated",
        "customer_address.deleted",
    ]


async def test_bad_or_foreign_addresses_are_refused(cs: CustomerServices) -> None:
    mine, theirs = await register(cs), await register(cs)
    me = as_customer(mine.customer.id)
    with pytest.raises(DomainError) as caught:
        await cs.addresses.create(me, "customers/me", home(country_code="USA", city=""))
    assert caught.value.reason is VALIDATION_FAILED
    assert {v.field for v in caught.value.violations} == {"address.address.country_code", "address.address.city"}
    assert not (await cs.addresses.list(me, "customers/me")).addresses
    their_address = await cs.addresses.create(as_customer(theirs.customer.id), "customers/me", home())
    for call in (cs.addresses.get(me, their_address.name), cs.addresses.delete(me, their_address.name)):
        with pytest.raises(DomainError) as caught:
            await call
        assert caught.value.reason is INSUFFICIENT_PERMISSIONS
    # A customer's own parent with another customer's address id: not found.
    with pytest.raises(DomainError) as caught:
        await cs.addresses.get(me, f"customers/me/addresses/{their_address.id}")
    assert caught.value.reason is ADDRESS_NOT_FOUND


# -- groups ----------------------------------------------------------------------------------
async def test_groups_reach_the_directory_and_the_filters(db: Database, cs: CustomerServices) -> None:
    tag = uuid.uuid4().hex[:8]
    group = await cs.groups.create(C.CustomerGroup(display_name=f"Wholesale {tag}", description="B2B"))
    assert group.name.startswith("customerGroups/cgrp_") and group.customer_count == 0
    with pytest.raises(DomainError) as caught:
        await cs.groups.create(C.CustomerGroup(display_name=f"Wholesale {tag}"))
    assert caught.value.reason is CUSTOMER_GROUP_NAME_TAKEN
    a, b = await register(cs), await register(cs)
    grown = await cs.groups.add_members(group.name, [a.customer.name, b.customer.name, a.customer.name])
    assert grown.customer_count == 2
    assert (await cs.groups.add_members(group.name, [a.customer.name])).customer_count == 2  # idempotent
    with pytest.raises(DomainError) as caught:
        await cs.groups.add_members(group.name, ["customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA"])
    assert caught.value.reason is CUSTOMER_NOT_FOUND
    async with db.read() as s:
        profile = await cs.directory.get(s, a.customer.id)
    assert profile is not None and profile.group_ids == frozenset({group.id})
    assert (await cs.service.get(STAFF, a.customer.name)).customer_groups == [group.name]
    members = await cs.service.list(C.ListCustomersRequest(customer_group=group.name))
    assert {c.id for c in members.customers} == {a.customer.id, b.customer.id}
    shrunk = await cs.groups.remove_members(group.name, [b.customer.name])
    assert shrunk.customer_count == 1
    renamed = await cs.groups.update(
        C.CustomerGroup(name=group.name, display_name=f"Trade {tag}"), FieldMask(paths=["display_name"])
    )
    assert renamed.display_name == f"Trade {tag}" and renamed.description == "B2B"
    listed = await cs.groups.list(C.ListCustomerGroupsRequest(page_size=100))
    assert any(g.id == group.id and g.customer_count == 1 for g in listed.customer_groups)
    await cs.groups.delete(group.name)
    async with db.read() as s:
        after = await cs.directory.get(s, a.customer.id)
    assert after is not None and after.group_ids == frozenset()
