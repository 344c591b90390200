"""The crash tests of DECISIONS 14: a real ``rcommerce serve`` process is killed with
SIGKILL right after the gateway authorized a checkout payment (the test-only setting
``[checkout] fault_injection = "crash_after_authorize"`` makes the process kill itself at
exactly that point), so no order exists for the authorization. After a restart, the
reconciler voids the orphan and the cart can be checked out again.

The payment goes through the built-in ``manual`` gateway: it is stateless, like a real
provider that outlives our process (the ``test`` gateway keeps its provider side in the
memory of the process that was killed). The restarted server runs with
``orphan_timeout_s = 0`` and the reconciler is triggered through ReconcileCheckouts, so
nothing waits for wall-clock time.

The second test kills the process right after the order committed with its automatic
capture claimed (``crash_after_placement``), through the ``test`` gateway (which rebuilds
a payment of an earlier process from the core's record). The order stays authorized
until the restarted server's reconciler resumes the capture with the checkout's key,
once the claim is older than ``[payments] lock_timeout_s`` (1 s here: the test polls
ReconcileCheckouts until the claim is stale).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from rcommerce.clock import FrozenClock
from rcommerce.config import DatabaseSettings
from rcommerce.db import Database
from rcommerce.domain.checkout.models import CheckoutAttemptRow
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.payments.models import PaymentRow
from tests.backends._checkout_world import World, ensure_region
from tests.conftest import fresh_database

pytestmark = pytest.mark.backends


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(db_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCOMMERCE_")}
    env["RCOMMERCE_DATABASE__URL"] = f"sqlite+aiosqlite:///{db_file}"
    env["RCOMMERCE_PLUGINS__AUTOLOAD"] = "false"
    env.update(extra)
    return env


def _serve(tmp_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    grpc_port, http_port = _free_port(), _free_port()
    cmd = [sys.executable, "-m", "rcommerce.cli", "serve", "--grpc-port", str(grpc_port), "--http-port", str(http_port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    base = f"http://127.0.0.1:{http_port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/readyz", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # polling a starting subprocess, not timing the code under test
    proc.kill()
    raise AssertionError("server did not become ready")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


async def _prepare(db_file: Path) -> tuple[str, str]:
    """The store and a ready cart, written before the server starts."""
    db = await fresh_database(f"sqlite+aiosqlite:///{db_file}")
    try:
        clock = FrozenClock(datetime.now(UTC))
        w = World(db, clock, await ensure_region(db, clock))
        return await w.cart(await w.variant(2500, stock=3))
    finally:
        await db.dispose()


async def _inspect(db_file: Path, cart: str) -> tuple[PaymentRow, CheckoutAttemptRow | None, list[str]]:
    """The checkout's payment (targeting the cart, or its order once placed), attempt and orders."""
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{db_file}"))
    cart_id = cart.removeprefix("carts/")
    try:
        async with db.read() as s:
            orders = list(await s.scalars(select(OrderRow.id).where(OrderRow.cart_id == cart_id)))
            targets = [cart, *(f"orders/{order}" for order in orders)]
            (payment,) = list(await s.scalars(select(PaymentRow).where(PaymentRow.target.in_(targets))))
            attempt = await s.scalar(select(CheckoutAttemptRow).where(CheckoutAttemptRow.cart_id == cart_id))
            return payment, attempt, orders
    finally:
        await db.dispose()


def _store(tmp_path: Path) -> tuple[Path, str, str, dict[str, str]]:
    """The database file, a ready cart and its token, and an admin key's headers."""
    db_file = tmp_path / "crash.db"
    cart, token = asyncio.run(_prepare(db_file))
    key = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "apikey", "create", "--name", "ops", "--scopes", "admin"],
        env=_env(db_file), capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout.strip()  # fmt: skip
    return db_file, cart, token, {"authorization": f"Bearer {key}"}


def _complete_until_killed(
    tmp_path: Path, db_file: Path, cart: str, body: dict[str, object], auth: dict[str, str], fault: str
) -> None:
    """Complete ``cart`` on a server that kills itself at ``fault``."""
    proc, base = _serve(tmp_path, _env(db_file, RCOMMERCE_CHECKOUT__FAULT_INJECTION=fault))
    try:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{base}/v1/{cart}:complete", json=body, headers=auth, timeout=30)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()


def test_killed_after_authorization_the_reconciler_voids_after_restart(tmp_path: Path) -> None:
    db_file, cart, token, auth = _store(tmp_path)
    body = {"cartToken": token, "gateway": "manual", "methodType": "bank_transfer", "idempotencyKey": "crash-1"}
    _complete_until_killed(tmp_path, db_file, cart, body, auth, "crash_after_authorize")

    payment, attempt, orders = asyncio.run(_inspect(db_file, cart))
    assert payment.status == "authorized" and orders == []
    assert attempt is not None and attempt.status == "authorizing"

    # The restarted server runs no in-process worker, so the every-minute reconcile job
    # cannot race the ReconcileCheckouts call below (both run the same reconciler).
    restart = _env(db_file, RCOMMERCE_CHECKOUT__ORPHAN_TIMEOUT_S="0", RCOMMERCE_SERVER__RUN_WORKERS_IN_PROCESS="false")
    proc, base = _serve(tmp_path, restart)
    try:
        answer = httpx.post(f"{base}/v1/checkouts:reconcile", json={}, headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["voidedPayments"] == [f"payments/{payment.id}"]
        got = httpx.get(f"{base}/v1/payments/{payment.id}", headers=auth, timeout=30).json()
        assert got["status"] == "PAYMENT_STATUS_CANCELLED"
        assert [t["kind"] for t in got["transactions"]][-1] == "void"
        checkout = httpx.get(f"{base}/v1/{cart}/checkout", headers=auth, timeout=30).json()
        assert checkout["status"] == "CHECKOUT_STATUS_FAILED" and checkout["failureReason"] == "CHECKOUT_ABANDONED"
        # The customer completes again with a new key: one order, the void stays.
        done = httpx.post(
            f"{base}/v1/{cart}:complete", json=body | {"idempotencyKey": "crash-2"}, headers=auth, timeout=30
        )
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "CHECKOUT_STATUS_COMPLETED"
    finally:
        _stop(proc)


def test_killed_after_placement_the_reconciler_captures_after_restart(tmp_path: Path) -> None:
    db_file, cart, token, auth = _store(tmp_path)
    body = {"cartToken": token, "gateway": "test", "methodType": "card", "methodData": {"number": "4242424242424242"},
            "idempotencyKey": "crash-placed"}  # fmt: skip
    _complete_until_killed(tmp_path, db_file, cart, body, auth, "crash_after_placement")

    payment, attempt, orders = asyncio.run(_inspect(db_file, cart))
    assert len(orders) == 1 and attempt is not None and attempt.status == "completed"
    assert (payment.status, payment.lock_key) == ("authorized", f"chk-cap:{payment.id}")

    restart = _env(db_file, RCOMMERCE_PAYMENTS__LOCK_TIMEOUT_S="1", RCOMMERCE_SERVER__RUN_WORKERS_IN_PROCESS="false")
    proc, base = _serve(tmp_path, restart)
    try:
        order = httpx.get(f"{base}/v1/orders/{orders[0]}", headers=auth, timeout=30).json()
        assert order["paymentStatus"] == "ORDER_PAYMENT_STATUS_AUTHORIZED"
        captured: list[str] = []
        deadline = time.monotonic() + 30
        while not captured and time.monotonic() < deadline:  # until the claim is older than 1 s
            answer = httpx.post(f"{base}/v1/checkouts:reconcile", json={}, headers=auth, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json().get("voidedPayments", []) == []
            captured = answer.json().get("capturedPayments", [])
        assert captured == [f"payments/{payment.id}"]
        got = httpx.get(f"{base}/v1/payments/{payment.id}", headers=auth, timeout=30).json()
        assert got["status"] == "PAYMENT_STATUS_SUCCEEDED" and int(got["amountCaptured"]) == int(got["amount"])
        assert [t["kind"] for t in got["transactions"]][-1] == "capture"
        order = httpx.get(f"{base}/v1/orders/{orders[0]}", headers=auth, timeout=30).json()
        assert order["paymentStatus"] == "ORDER_PAYMENT_STATUS_PAID"
        again = httpx.post(f"{base}/v1/checkouts:reconcile", json={}, headers=auth, timeout=30).json()
        assert again.get("capturedPayments", []) == []
    finally:
        _stop(proc)
