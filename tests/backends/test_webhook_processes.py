"""Webhook delivery with real processes: crash safety and several workers.

Each test runs ``rcommerce serve`` / ``rcommerce worker`` as subprocesses and a local
receiver (a threaded HTTP server) that verifies every signature and records which
endpoint received which ``webhook-id``. Waits poll with deadlines; nothing sleeps for
timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from rcommerce.events.signing import verify_standard
from tests.api.test_server_process import _env, _free_port, _wait_ready
from tests.conftest import database_url, fresh_database, requested_databases

SECRET = "whsec_process_test_secret"
CLI = [sys.executable, "-m", "rcommerce.cli"]


class Receiver:
    """Records ``(path, webhook-id)`` of every correctly signed POST. With ``block_after``
    set, requests beyond that many wait for :attr:`gate` (so deliveries stay pending)."""

    def __init__(self, block_after: int | None = None) -> None:
        self.hits: Counter[tuple[str, str]] = Counter()
        self.bad_signatures = 0
        self.blocked = 0
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.block_after = block_after
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not verify_standard(SECRET, dict(self.headers), body, now=int(time.time())):
                    with receiver.lock:
                        receiver.bad_signatures += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver.lock:
                    wait = receiver.block_after is not None and sum(receiver.hits.values()) >= receiver.block_after
                    receiver.blocked += wait
                    receiver.hits[(self.path, self.headers["webhook-id"])] += 1
                if wait:
                    receiver.gate.wait(60)
                with contextlib.suppress(OSError):
                    self.send_response(204)
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def ids(self, path: str) -> set[str]:
        with self.lock:
            return {event for (p, event) in self.hits if p == path}

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def _wait(what: str, condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.05)


def _proc_env(tmp_path: Path, url: str, **extra: str) -> dict[str, str]:
    env = _env(tmp_path) | {
        "RCOMMERCE_DATABASE__URL": url,
        "RCOMMERCE_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
        "RCOMMERCE_LOGGING__ACCESS_LOG": "false",
        "RCOMMERCE_LOGGING__LEVEL": "WARNING",
        # These tests load the server with hundreds of writes from one key in seconds.
        "RCOMMERCE_RATE_LIMITS__ENABLED": "false",
    }
    return env | extra


@contextlib.contextmanager
def _running(cmd: list[str], env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _serve(
    env: dict[str, str], cwd: Path, http_port: int
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    cmd = [*CLI, "serve", "--grpc-port", str(_free_port()), "--http-port", str(http_port)]
    return _running(cmd, env, cwd)


def _admin_key(env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [*CLI, "apikey", "create", "--name", "webhook-test", "--scopes", "admin"],
        env=env, cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def _create_endpoint(http: httpx.Client, url: str) -> str:
    body = {"webhookEndpoint": {"url": url, "eventTypes": ["product.created"]}, "secret": SECRET}
    response = http.post("/v1/webhookEndpoints", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["webhookEndpoint"]["id"])


def _create_products(http: httpx.Client, count: int) -> None:
    def one(i: int) -> None:
        response = http.post("/v1/products", json={"title": f"Webhook product {i}", "status": "PRODUCT_STATUS_ACTIVE"})
        assert response.status_code == 200, response.text

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(count)))


def _sql(url: str, query: str) -> list[tuple[object, ...]]:
    """Rows of ``query`` on the database at ``url`` (read while the servers run)."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(make_url(url).database or "", timeout=10)
        try:
            return [tuple(r) for r in conn.execute(query).fetchall()]
        finally:
            conn.close()

    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(query))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _event_ids(url: str) -> set[str]:
    return {str(r[0]) for r in _sql(url, "SELECT id FROM outbox_events WHERE type = 'product.created'")}


def _succeeded(url: str, endpoint_id: str) -> set[str]:
    query = (
        f"SELECT DISTINCT event_id FROM webhook_deliveries WHERE endpoint_id = '{endpoint_id}' AND status = 'succeeded'"
    )
    return {str(r[0]) for r in _sql(url, query)}


def _deliver_jobs(url: str, state: str | None = None) -> int:
    where = "kind = 'webhooks.deliver'" + (f" AND state = '{state}'" if state else "")
    return int(str(_sql(url, f"SELECT COUNT(*) FROM jobs WHERE {where}")[0][0]))


# ----------------------------------------------------------------------- crash safety


def _crash_and_recover(tmp_path: Path, count: int, timeout_s: float) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    env = _proc_env(tmp_path, url)
    key = _admin_key(env, tmp_path)
    http_port = _free_port()
    base = f"http://127.0.0.1:{http_port}"
    with (
        Receiver(block_after=count // 4) as receiver,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
    ):
        with _serve(env, tmp_path, http_port) as first:
            _wait_ready(f"{base}/readyz", first)
            endpoint = _create_endpoint(http, f"{receiver.url}/hook")
            _create_products(http, count)
            # Every event dispatched into a delivery job, and a delivery in flight (held
            # by the receiver): the crash lands while deliveries are pending.
            _wait("all delivery jobs", lambda: _deliver_jobs(url) == count, timeout_s)
            _wait("a blocked delivery", lambda: receiver.blocked > 0, timeout_s)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=20)
        events = _event_ids(url)
        assert len(events) == count
        before = receiver.ids("/hook")
        assert len(before) < count, "every event was delivered before the crash; nothing was pending"
        receiver.gate.set()
        with _serve(env, tmp_path, http_port) as second:
            _wait_ready(f"{base}/readyz", second)
            _wait("every event at the receiver", lambda: receiver.ids("/hook") >= events, timeout_s)
            _wait("a successful delivery logged per event", lambda: _succeeded(url, endpoint) >= events, timeout_s)
            metrics = http.get("/metrics").text
        assert 'rcommerce_webhook_deliveries_total{outcome="succeeded"}' in metrics
    assert receiver.bad_signatures == 0
    # Every delivery job ended succeeded: none is dead or still waiting for a retry.
    assert _deliver_jobs(url, "succeeded") == count


def test_deliveries_survive_sigkill(tmp_path: Path) -> None:
    _crash_and_recover(tmp_path, 200, timeout_s=60)


@pytest.mark.slow
def test_deliveries_survive_sigkill_1000_events(tmp_path: Path) -> None:
    _crash_and_recover(tmp_path, 1000, timeout_s=180)


# ------------------------------------------------------------------- several workers

SERVER_DATABASES = [name for name in requested_databases() if name in ("postgresql", "mysql")]


async def _fresh_process_database(name: str, tmp_path: Path) -> str:
    base = make_url(database_url(name, tmp_path))
    url = base.set(database="rc_webhook_proc").render_as_string(hide_password=False)
    db = await fresh_database(url)  # drops what an earlier run left, then migrates
    await db.dispose()
    return url


@pytest.mark.parametrize("database", SERVER_DATABASES)
def test_two_workers_deliver_each_event_once_per_endpoint(tmp_path: Path, database: str) -> None:
    count = 200
    url = asyncio.run(_fresh_process_database(database, tmp_path))
    env = _proc_env(tmp_path, url)
    key = _admin_key(env, tmp_path)
    http_port = _free_port()
    base = f"http://127.0.0.1:{http_port}"
    serve_env = env | {"RCOMMERCE_SERVER__RUN_WORKERS_IN_PROCESS": "false"}
    with (
        Receiver() as receiver,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http,
        _serve(serve_env, tmp_path, http_port) as server,
        _running([*CLI, "worker"], env, tmp_path) as worker_a,
        _running([*CLI, "worker"], env, tmp_path) as worker_b,
    ):
        _wait_ready(f"{base}/readyz", server)
        endpoints = {
            _create_endpoint(http, f"{receiver.url}/a"): "/a",
            _create_endpoint(http, f"{receiver.url}/b"): "/b",
        }
        _create_products(http, count)
        events = _event_ids(url)
        assert len(events) == count
        for path in endpoints.values():
            _wait(f"every event at {path}", lambda p=path: receiver.ids(p) >= events, 90)  # type: ignore[misc]
        # Then no delivery is left to run (a duplicate could otherwise still arrive).
        _wait("all delivery jobs finished", lambda: _deliver_jobs(url, "succeeded") == 2 * count, 30)
        assert worker_a.poll() is None and worker_b.poll() is None
    hits = {(path, event): n for (path, event), n in receiver.hits.items() if event in events}
    assert len(hits) == 2 * count
    duplicates = {k: n for k, n in hits.items() if n != 1}
    assert duplicates == {}
    assert receiver.bad_signatures == 0
    for endpoint_id in endpoints:
        assert _succeeded(url, endpoint_id) >= events
