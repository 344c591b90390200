"""Who may pay which target (CreatePayment), on every database: the guards the carts and
orders contexts register with the payments service, wired as the app wires them. A
refusal writes nothing: no payment, no key, no event."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import CUSTOMER_SCOPES, parse_scopes
from rcommerce.db import Database
from rcommerce.domain.carts.models import CartRow
from rcommerce.domain.carts.wiring import guard_cart_payments
from rcommerce.domain.orders.access import check_payable
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.wiring import connect_order_payments
from rcommerce.domain.payments.models import IdempotencyKeyRow, PaymentRow
from rcommerce.domain.payments.service import PaymentService
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.pagination import PageTokens
from tests.backends._carts_store import customer, tag
from tests.backends._orders_world import STAFF, OrdersWorld, make_world

STOREFRONT = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pk", parse_scopes(["carts:write", "payments:write"]))


def _missing(collection: str, prefix: str) -> str:
    """A well-formed name nothing has: each test its own (the database is shared)."""
    return f"{collection}/{prefix}_01{uuid.uuid4().hex[:24].upper().translate(str.maketrans('ILOU', 'JKPV'))}"


def _customer(customer_id: str) -> Principal:
    return Principal(PrincipalKind.CUSTOMER, f"customers/{customer_id}", parse_scopes(sorted(CUSTOMER_SCOPES)))


@dataclass
class Scene:
    w: OrdersWorld
    payments: PaymentService
    principals: dict[str, Principal]
    targets: dict[str, str]
    #: Each guest cart's own token, by target name.
    tokens: dict[str, str]

    def request(self, target: str, token: str = "") -> P.CreatePaymentRequest:
        return P.CreatePaymentRequest(
            target=target, gateway="test", method_type="card", amount=5000, currency_code="USD",
            method_data={"token": "pm_card_visa"}, idempotency_key=f"pt-{tag()}", cart_token=token,
        )  # fmt: skip

    async def written(self, target: str, key: str) -> tuple[int, int, int]:
        """Payments of ``target``, rows of ``key``, and ``payment.created`` events of them."""
        async with self.w.db.read() as s:
            ids = list(await s.scalars(select(PaymentRow.id).where(PaymentRow.target == target)))
            keys = await s.scalar(
                select(func.count()).select_from(IdempotencyKeyRow).where(IdempotencyKeyRow.key == key)
            )
            events = await s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == "payment.created", OutboxEvent.subject.in_([f"payments/{i}" for i in ids]))
            )
        return len(ids), keys or 0, events or 0


def _payments(w: OrdersWorld) -> PaymentService:
    return PaymentService(w.db, w.clock, w.providers.payment_gateways, PageTokens(b"targets-test"))


@pytest.fixture
async def scene(db: Database) -> Scene:
    w = await make_world(db)
    payments = _payments(w)
    guard_cart_payments(payments, w.clock)  # as build_checkout registers them
    connect_order_payments(payments, OrderRepository(w.clock))  # as build_orders, build_checkout ...
    now = w.clock.now()
    ann, bob = await customer(db, now), await customer(db, now)
    region = K.Cart(region=f"regions/{w.store.us}")
    carts = {name: await w.carts.create_cart(STOREFRONT, region) for name in ("guest", "other", "expired", "converted")}
    ann_cart = await w.carts.create_cart(_customer(ann), region)
    async with db.transaction() as s:
        await s.execute(
            update(CartRow).where(CartRow.id == carts["expired"].id).values(expires_at=now - timedelta(seconds=1))
        )
        await s.execute(
            update(CartRow)
            .where(CartRow.id == carts["converted"].id)
            .values(status="converted", converted_to="ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N")
        )
    return Scene(
        w, payments,
        principals={"storefront": STOREFRONT, "staff": STAFF, "ann": _customer(ann), "bob": _customer(bob)},
        targets={
            **{f"{name} cart": cart.name for name, cart in carts.items()}, "ann's cart": ann_cart.name,
            "ann's order": (await w.place_simple(customer_id=ann)).name, "guest order": (await w.place_simple()).name,
            "missing cart": _missing("carts", "cart"), "missing order": _missing("orders", "ord"),
        },
        tokens={cart.name: cart.cart_token for cart in carts.values()},
    )  # fmt: skip


_RULES = [
    # Guests (publishable keys): a guest cart with its token, nothing else.
    pytest.param("storefront", "guest cart", "own", None, id="guest-own-token"),
    pytest.param("storefront", "guest cart", "none", "CART_TOKEN_REQUIRED", id="guest-no-token"),
    pytest.param("storefront", "guest cart", "other", "CART_TOKEN_INVALID", id="guest-other-carts-token"),
    pytest.param("storefront", "ann's cart", "none", "CART_OWNED_BY_ANOTHER_CUSTOMER", id="guest-customers-cart"),
    pytest.param("storefront", "missing cart", "none", "CART_NOT_FOUND", id="guest-missing-cart"),
    pytest.param("storefront", "ann's order", "none", "INSUFFICIENT_PERMISSIONS", id="guest-order"),
    pytest.param("storefront", "guest order", "none", "INSUFFICIENT_PERMISSIONS", id="guest-guest-order"),
    pytest.param("storefront", "missing order", "none", "INSUFFICIENT_PERMISSIONS", id="guest-missing-order"),
    # Customers: their own cart and order; a guest cart with its token, as the cart RPCs.
    pytest.param("ann", "ann's cart", "none", None, id="customer-own-cart"),
    pytest.param("ann", "ann's order", "none", None, id="customer-own-order"),
    pytest.param("bob", "ann's cart", "none", "CART_OWNED_BY_ANOTHER_CUSTOMER", id="customer-others-cart"),
    pytest.param("bob", "ann's order", "none", "ORDER_NOT_FOUND", id="customer-others-order"),
    pytest.param("bob", "guest order", "none", "ORDER_NOT_FOUND", id="customer-guest-order"),
    pytest.param("bob", "missing order", "none", "ORDER_NOT_FOUND", id="customer-missing-order"),
    pytest.param("bob", "guest cart", "own", None, id="customer-guest-cart-with-token"),
    pytest.param("bob", "guest cart", "none", "CART_TOKEN_REQUIRED", id="customer-guest-cart-no-token"),
    # Staff: anything that exists.
    pytest.param("staff", "guest cart", "none", None, id="staff-guest-cart"),
    pytest.param("staff", "ann's cart", "none", None, id="staff-customers-cart"),
    pytest.param("staff", "ann's order", "none", None, id="staff-order"),
    pytest.param("staff", "missing cart", "none", "CART_NOT_FOUND", id="staff-missing-cart"),
    pytest.param("staff", "missing order", "none", "ORDER_NOT_FOUND", id="staff-missing-order"),
    # Carts that take no changes take no payments, whoever asks; access is checked first.
    pytest.param("storefront", "expired cart", "own", "CART_EXPIRED", id="guest-expired-cart"),
    pytest.param("staff", "expired cart", "none", "CART_EXPIRED", id="staff-expired-cart"),
    pytest.param("storefront", "converted cart", "own", "CART_CONVERTED", id="guest-converted-cart"),
    pytest.param("staff", "converted cart", "none", "CART_CONVERTED", id="staff-converted-cart"),
    pytest.param("storefront", "converted cart", "none", "CART_TOKEN_REQUIRED", id="guest-converted-cart-no-token"),
]


@pytest.mark.parametrize(("who", "target", "token", "reason"), _RULES)
async def test_who_may_pay_which_target(scene: Scene, who: str, target: str, token: str, reason: str | None) -> None:
    name = scene.targets[target]
    cart_token = {"own": scene.tokens.get(name, ""), "other": scene.tokens[scene.targets["other cart"]], "none": ""}
    request = scene.request(name, cart_token[token])
    if reason is None:
        paid = await scene.payments.create_payment(request, scene.principals[who])
        assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.target == name
        assert await scene.written(name, request.idempotency_key) == (1, 1, 1)
        return
    with pytest.raises(DomainError) as caught:
        await scene.payments.create_payment(request, scene.principals[who])
    assert caught.value.reason.name == reason
    assert await scene.written(name, request.idempotency_key) == (0, 0, 0)


async def test_a_refused_key_is_free_and_a_replay_answers_before_the_guard(scene: Scene) -> None:
    name = scene.targets["guest cart"]
    request = scene.request(name)
    with pytest.raises(DomainError) as caught:
        await scene.payments.create_payment(request, STOREFRONT)
    assert caught.value.reason.name == "CART_TOKEN_REQUIRED"
    request.cart_token = scene.tokens[name]  # the same key: the refusal kept nothing of it
    paid = await scene.payments.create_payment(request, STOREFRONT)
    async with scene.w.db.transaction() as s:  # the cart is checked out meanwhile
        await s.execute(
            update(CartRow)
            .where(CartRow.id == name.removeprefix("carts/"))
            .values(status="converted", converted_to="ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N")
        )
    assert await scene.payments.create_payment(request, STOREFRONT) == paid  # the stored answer
    request.idempotency_key = f"pt-{tag()}"
    with pytest.raises(DomainError) as caught:
        await scene.payments.create_payment(request, STOREFRONT)
    assert caught.value.reason.name == "CART_CONVERTED"


async def test_in_process_callers_without_a_principal_are_not_guarded(scene: Scene) -> None:
    """Checkout locks and checks its cart itself and claims without a principal."""
    paid = await scene.payments.create_payment(scene.request(_missing("carts", "cart")))
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED


async def test_a_collection_without_a_guard_refuses_every_caller(scene: Scene) -> None:
    unguarded = _payments(scene.w)
    name = scene.targets["guest cart"]
    request = scene.request(name, scene.tokens[name])
    with pytest.raises(RuntimeError, match="No payment target guard"):
        await unguarded.create_payment(request, STAFF)
    assert await scene.written(name, request.idempotency_key) == (0, 0, 0)


@pytest.mark.parametrize("target", ["guest cart", "ann's order"])
async def test_a_payment_is_in_the_targets_currency(scene: Scene, target: str) -> None:
    """An order's payment status adds up its payments' amounts: they share its currency."""
    name = scene.targets[target]
    request = scene.request(name, scene.tokens.get(name, ""))
    request.currency_code = "EUR"
    with pytest.raises(DomainError) as caught:
        await scene.payments.create_payment(request, STAFF)
    assert caught.value.reason.name == "VALIDATION_FAILED"
    assert [v.field for v in caught.value.violations] == ["currency_code"]
    assert "USD" in caught.value.violations[0].description
    assert await scene.written(name, request.idempotency_key) == (0, 0, 0)


async def test_a_cancelled_order_takes_no_payment(scene: Scene) -> None:
    name = scene.targets["ann's order"]
    async with scene.w.db.transaction() as s:
        await s.execute(
            update(OrderRow)
            .where(OrderRow.id == name.removeprefix("orders/"))
            .values(status="cancelled", cancelled_at=scene.w.clock.now())
        )
    request = scene.request(name)
    for who in ("staff", "ann"):
        with pytest.raises(DomainError) as caught:
            await scene.payments.create_payment(request, scene.principals[who])
        assert caught.value.reason.name == "ORDER_ALREADY_CANCELLED"
    assert await scene.written(name, request.idempotency_key) == (0, 0, 0)


async def _refused_for_balance(scene: Scene, request: P.CreatePaymentRequest, unpaid: int) -> None:
    """PAYMENT_EXCEEDS_BALANCE naming what is unpaid; no payment, key or event written."""
    payments, _, events = await scene.written(request.target, request.idempotency_key)
    with pytest.raises(DomainError) as caught:
        await scene.payments.create_payment(request, STAFF)
    error = caught.value
    assert error.reason.name == "PAYMENT_EXCEEDS_BALANCE" and error.reason.http_status == 422
    assert (error.metadata["unpaid"], error.metadata["amount"]) == (str(unpaid), str(request.amount))
    assert await scene.written(request.target, request.idempotency_key) == (payments, 0, events)


async def test_an_order_takes_at_most_what_it_still_needs(scene: Scene) -> None:
    """A deposit, then the rest; never more than the total (spread over any payments)."""
    order = (await scene.w.place_simple(total=7000)).name
    over = scene.request(order)
    over.amount = 7001
    await _refused_for_balance(scene, over, 7000)
    deposit = scene.request(order)
    deposit.amount = 2000
    assert (await scene.payments.create_payment(deposit, STAFF)).status == P.PAYMENT_STATUS_SUCCEEDED
    rest = scene.request(order)
    rest.amount = 5001
    await _refused_for_balance(scene, rest, 5000)
    rest.amount = 5000  # the same key: the refusal kept nothing of it
    assert (await scene.payments.create_payment(rest, STAFF)).status == P.PAYMENT_STATUS_SUCCEEDED
    await _refused_for_balance(scene, scene.request(order), 0)
    assert (await scene.w.order(order.removeprefix("orders/"))).payment_status == "paid"


async def test_money_awaiting_the_customer_counts_until_the_action_expires(scene: Scene) -> None:
    order = (await scene.w.place_simple(total=5000)).name
    three_ds = scene.request(order)
    del three_ds.method_data["token"]
    three_ds.method_data["number"] = "4000002500003155"
    pending = await scene.payments.create_payment(three_ds, STAFF)
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION
    await _refused_for_balance(scene, scene.request(order), 0)
    scene.w.clock.advance(seconds=scene.payments.settings.action_expiry_s)
    assert await scene.payments.expire_actions(limit=1000) >= 1
    assert (await scene.payments.create_payment(scene.request(order), STAFF)).status == P.PAYMENT_STATUS_SUCCEEDED


async def test_two_payments_of_the_whole_balance_at_once_make_one(scene: Scene) -> None:
    """The order is locked while its balance is checked and the payment inserted: the
    second payment waits for the first and counts it. On PostgreSQL and MariaDB the first
    holds its check open until the second has reached its own; SQLite serializes writers
    anyway, so there the two simply run at once."""
    order = (await scene.w.place_simple(total=5000)).name
    if scene.w.db.dialect != "sqlite":
        second_entered = asyncio.Event()
        seen = 0

        async def racing(session: AsyncSession, request: P.CreatePaymentRequest, principal: Principal) -> None:
            nonlocal seen
            seen += 1
            first = seen == 1
            if not first:
                second_entered.set()
            await check_payable(
                session, request.target.removeprefix("orders/"), principal, request.currency_code, request.amount
            )
            if first:
                await asyncio.wait_for(second_entered.wait(), timeout=30)

        scene.payments.guard_targets("orders", racing)
    outcomes = await asyncio.gather(
        *(scene.payments.create_payment(scene.request(order), STAFF) for _ in range(2)), return_exceptions=True
    )
    paid = [o for o in outcomes if isinstance(o, P.Payment)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(paid) == 1 and paid[0].status == P.PAYMENT_STATUS_SUCCEEDED, outcomes
    assert [e.reason.name for e in refused] == ["PAYMENT_EXCEEDS_BALANCE"]
