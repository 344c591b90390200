#!/usr/bin/env python3
"""rcommerce checkout benchmark: carts completed into orders per second.

    python bench/checkout.py [--orders N] [--concurrency C] [--databases sqlite,postgresql]
                             [--event-loops asyncio,uvloop] [--postgresql-url URL] [--workers W]
                             [--separate-worker] [--quick] [--output PATH] [--no-write]

For each database it migrates a fresh one (a temporary SQLite file; on PostgreSQL a new
database ``rcommerce_bench_checkout_<pid>`` on the server of ``--postgresql-url``, dropped
afterwards), starts ``rcommerce serve --workers W`` (default 1) on free ports (once per
``[server] event_loop`` given, default the shipped ``asyncio``; with ``--separate-worker``
the outbox dispatcher and jobs run in one ``rcommerce worker`` process beside it, as in
production, instead of inside ``serve``), creates a
secret key and seeds over REST: a region (AUD, country AU, payment provider ``test``,
automatic capture), a shipping zone with a flat rate, and 20 products with enough stock.
Then, with C closed-loop REST clients:

1. *prepare*: N guest carts (spread over 20 products), each CreateCart → AddLineItem → UpdateCart (address) →
   ListShippingOptions → SelectShippingOption;
2. *complete*: CompleteCheckout of each cart with the ``test`` gateway (card 4242...):
   lock, re-quote, stock check, authorization, order placement (stock reserved, tax
   lines, events), cart conversion, then capture.

Reported per database: completed checkouts per second (phase 2, the figure the target is
about), p50/p99 latency of CompleteCheckout, the server's CPU time per completed checkout
(user + system of the server processes during phase 2, read from /proc: the figure that
does not depend on what else runs on the machine; 1000 / it is what one fully available
core could complete per second), the CPU time of the PostgreSQL backends serving the
benchmark's database and of this process's clients per checkout, the machine ceiling (CPU
count / the three together: what the machine could complete if nothing else ran), the
rate of the whole cart → order flow (phases 1 + 2: 6 requests per order), and errors. The table is written into
``docs/benchmarks.md`` between ``<!-- checkout:begin -->`` and ``<!-- checkout:end -->``
(``--quick`` runs do not write unless ``--output`` is given).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import rcommerce_command, run_cli, start_server, stop_process

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- checkout:begin -->", "<!-- checkout:end -->"
#: Products the carts spread over (a store sells more than one thing; one variant would
#: make its stock row the only lock every placement waits for).
PRODUCTS = 20
TARGET = 100.0  # completed checkouts per second, PostgreSQL, one worker, 2 cores
ADDRESS = {"firstName": "Ada", "address1": "1 George St", "city": "Sydney", "province": "NSW", "postalCode": "2000",
           "countryCode": "AU"}  # fmt: skip


@dataclass
class Result:
    database: str
    orders: int
    concurrency: int
    workers: int
    event_loop: str
    separate_worker: bool
    prepare_s: float
    complete_s: float
    server_cpu_s: float = 0.0
    #: CPU seconds of the ``rcommerce worker`` process (0 when the work runs in ``serve``).
    worker_cpu_s: float = 0.0
    #: CPU seconds of the database server's processes serving the benchmark database
    #: (PostgreSQL backends; 0 for SQLite, which runs inside the server process).
    database_cpu_s: float = 0.0
    #: CPU seconds of this process: the REST clients.
    client_cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.completed / self.complete_s if self.complete_s else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per completed checkout (0 when /proc is not there)."""
        return 1000 * self.server_cpu_s / self.completed if self.completed else 0.0

    def per_checkout_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.completed if self.completed else 0.0

    @property
    def machine_ceiling(self) -> float:
        """Checkouts per second if every CPU of the machine did nothing else: the CPU count
        divided by the CPU time (server + database + clients) one checkout costs."""
        total = self.server_cpu_s + self.worker_cpu_s + self.database_cpu_s + self.client_cpu_s
        return (os.cpu_count() or 1) * self.completed / total if total else 0.0

    @property
    def flow_per_second(self) -> float:
        total = self.prepare_s + self.complete_s
        return self.completed / total if total else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Api:
    """A thin REST client with the secret key."""

    def __init__(self, base: str, key: str, concurrency: int) -> None:
        limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
        self.http = httpx.AsyncClient(
            base_url=base, headers={"authorization": f"Bearer {key}"}, limits=limits, timeout=60
        )

    async def call(self, verb: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.request(verb, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{verb} {path}: {response.status_code} {response.text[:300]}")
        data: dict[str, Any] = response.json()
        return data

    async def close(self) -> None:
        await self.http.aclose()


async def seed(api: Api, orders: int) -> tuple[str, list[str]]:
    """Region, shipping zone and rate, PRODUCTS products with stock; returns the region
    and the variant names."""
    region = await api.call("POST", "/v1/regions", {
        "displayName": "Bench AU", "currencyCode": "AUD", "countries": ["AU"], "paymentProviders": ["test"],
        "automaticCapture": True,
    })  # fmt: skip
    zone = await api.call("POST", "/v1/shippingZones", {"displayName": "Bench AU", "countries": ["AU"]})
    await api.call("POST", f"/v1/{zone['name']}/rates", {
        "displayName": "Standard", "serviceCode": "std", "currencyCode": "AUD", "kind": "SHIPPING_RATE_KIND_FLAT",
        "amount": "1000",
    })  # fmt: skip
    variants = []
    for index in range(PRODUCTS):
        tag = uuid.uuid4().hex[:8]
        product = await api.call("POST", "/v1/products", {
            "title": f"Bench tee {index} {tag}", "status": "PRODUCT_STATUS_ACTIVE",
            "variants": [{"sku": f"BENCH-{tag}", "prices": [{"currencyCode": "AUD", "amount": str(2000 + index)}],
                          "manageInventory": True, "inventoryQuantity": str(orders * 2), "weightGrams": 300}],
        })  # fmt: skip
        variants.append(str(product["variants"][0]["name"]))
    return str(region["name"]), variants


async def prepare_cart(api: Api, region: str, variant: str) -> tuple[str, str]:
    cart = await api.call("POST", "/v1/carts", {"region": region, "email": "bench@example.com"})
    name, token = cart["name"], cart["cartToken"]
    await api.call("POST", f"/v1/{name}/lineItems", {"variant": variant, "quantity": 1, "cartToken": token})
    await api.call("PATCH", f"/v1/{name}?updateMask=shippingAddress&cartToken={token}", {"shippingAddress": ADDRESS})
    options = await api.call("GET", f"/v1/{name}/shippingOptions?cartToken={token}")
    quote = options["shippingOptions"][0]["quoteId"]
    await api.call("POST", f"/v1/{name}:selectShippingOption", {"quoteId": quote, "cartToken": token})
    return name, token


async def pool(items: Sequence[Any], concurrency: int, work: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    """Run ``work`` over ``items`` with ``concurrency`` closed-loop clients."""
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    for pair in enumerate(items):
        queue.put_nowait(pair)
    out: list[Any] = [None] * len(items)

    async def client() -> None:
        while not queue.empty():
            index, item = queue.get_nowait()
            try:
                out[index] = await work(item)
            except Exception as exc:
                out[index] = exc

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return out


def _cpu_s(fields: list[str]) -> float:
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return (int(fields[11]) + int(fields[12])) / tick  # utime + stime


def _stats() -> Iterator[tuple[int, list[str], Path]]:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split(), stat.parent
        except OSError:
            continue


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the workers), from /proc."""
    return sum(_cpu_s(fields) for p, fields, _ in _stats() if p == pid or int(fields[1]) == pid)  # [1]: parent


def database_cpu_s(database: str) -> float:
    """CPU seconds of the PostgreSQL backends connected to ``database`` (their command
    line reads "postgres: [<cluster>:] <user> <database> <client> ..."), from /proc."""
    total = 0.0
    for _, fields, proc in _stats():
        try:
            words = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
        except OSError:
            continue
        if words[:1] == ["postgres:"] and database in words[1:4]:
            total += _cpu_s(fields)
    return total


async def measure(
    base: str,
    key: str,
    region: str,
    variants: Sequence[str],
    orders: int,
    concurrency: int,
    cpu: Callable[[], tuple[float, float, float]] = lambda: (0.0, 0.0, 0.0),
) -> tuple[float, float, list[Any], tuple[float, float, float, float]]:
    """Prepare then complete the carts; returns the phase times, the results and the CPU
    seconds of the completion phase: (server, worker, database, clients)."""
    api = Api(base, key, concurrency)
    try:
        started = time.perf_counter()
        carts = await pool(range(orders), concurrency, lambda i: prepare_cart(api, region, variants[i % len(variants)]))
        prepared = time.perf_counter()
        ready = [c for c in carts if isinstance(c, tuple)]
        if len(ready) != orders:
            failures = [c for c in carts if not isinstance(c, tuple)]
            raise SystemExit(f"{len(failures)} carts could not be prepared, first: {failures[0]}")

        async def complete(cart: tuple[str, str]) -> float:
            begun = time.perf_counter()
            answer = await api.call("POST", f"/v1/{cart[0]}:complete", {
                "cartToken": cart[1], "gateway": "test", "methodData": {"number": "4242424242424242"},
                "idempotencyKey": f"bench-{cart[0]}",
            })  # fmt: skip
            if answer.get("status") != "CHECKOUT_STATUS_COMPLETED":
                raise RuntimeError(f"not completed: {answer}")
            return (time.perf_counter() - begun) * 1000

        server_before, worker_before, database_before = cpu()
        client_before = time.process_time()
        results = await pool(ready, concurrency, complete)
        completed = time.perf_counter()
        client = time.process_time() - client_before
        server_after, worker_after, database_after = cpu()
        return (
            prepared - started,
            completed - prepared,
            results,
            (server_after - server_before, worker_after - worker_before, database_after - database_before, client),
        )
    finally:
        await api.close()


def _fresh_postgresql(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``url``, and how to drop it."""
    from sqlalchemy import make_url, text

    name = _bench_database()
    base = make_url(url)

    async def run(statement: str) -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), lambda: asyncio.run(
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


def start_worker(env: dict[str, str], cwd: Path, timeout_s: float = 60.0) -> subprocess.Popen[bytes]:
    """``rcommerce worker`` (dispatcher and jobs), once it says it is running."""
    log_path = cwd / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*rcommerce_command(), "worker"], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while b"rcommerce worker running" not in log_path.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise SystemExit(f"rcommerce worker did not start:\n{log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)
    return proc


def _bench_database() -> str:
    return f"rcommerce_bench_checkout_{os.getpid()}"


def run_database(database: str, event_loop: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="rcommerce-bench-checkout-") as tmp:
        cwd = Path(tmp)
        drop: Callable[[], None] = lambda: None  # noqa: E731
        if database == "sqlite":
            url = f"sqlite+aiosqlite:///{cwd / 'bench.db'}"
        else:
            url, drop = _fresh_postgresql(args.postgresql_url)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCOMMERCE_")}
        env |= {"RCOMMERCE_DATABASE__URL": url, "RCOMMERCE_PLUGINS__AUTOLOAD": "false",
                "RCOMMERCE_LOGGING__ACCESS_LOG": "false", "RCOMMERCE_RATE_LIMITS__ENABLED": "false",
                "RCOMMERCE_SERVER__EVENT_LOOP": event_loop,
                "RCOMMERCE_SERVER__RUN_WORKERS_IN_PROCESS": "false" if args.separate_worker else "true"}  # fmt: skip
        try:
            run_cli(["migrate"], env, cwd)
            key = run_cli(["apikey", "create", "--name", "bench", "--scopes", "admin"], env, cwd).strip()
            server = start_server(env, cwd, args.workers)
            worker = start_worker(env, cwd) if args.separate_worker else None
            try:
                base = f"http://{server.http_host}:{server.http_port}"

                def cpu() -> tuple[float, float, float]:
                    own = database_cpu_s(_bench_database()) if database == "postgresql" else 0.0
                    return process_cpu_s(server.proc.pid), process_cpu_s(worker.pid) if worker else 0.0, own

                async def go() -> tuple[float, float, list[Any], tuple[float, float, float, float]]:
                    api = Api(base, key, 2)
                    try:
                        region, variants = await seed(api, args.orders)
                    finally:
                        await api.close()
                    return await measure(base, key, region, variants, args.orders, args.concurrency, cpu)

                prepare_s, complete_s, results, (server_s, worker_s, database_s, client_s) = asyncio.run(go())
            finally:
                server.stop()
                if worker is not None:
                    stop_process(worker)
        finally:
            drop()
    result = Result(
        database, args.orders, args.concurrency, args.workers, event_loop, args.separate_worker, prepare_s, complete_s,
        server_s, worker_s, database_s, client_s,
    )  # fmt: skip
    for item in results:
        if isinstance(item, float):
            result.latencies_ms.append(item)
        else:
            label = str(item).split(":", 2)[-1].strip()[:60]
            result.errors[label] = result.errors.get(label, 0) + 1
    return result


def report(results: Sequence[Result], command: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `{command}`  ",
        f"Date: {now}  ",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.machine()}; "
        "client and server share the CPUs  ",
        f"Server: `rcommerce serve --workers {results[0].workers}`"
        + (
            " and one `rcommerce worker` (`run_workers_in_process = false`)"
            if results[0].separate_worker
            else " (dispatcher and jobs in process)"
        )
        + ", memory cache, access log and rate limits off, `test` gateway (in process), automatic capture  ",
        f"Each row: {results[0].orders} carts prepared, then completed by {results[0].concurrency} closed-loop REST clients  ",
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.1f} (other processes share the machine)",
        "",
        "| database | event loop | checkouts/s | p50 ms | p99 ms | server CPU ms / checkout | worker CPU ms "
        "| database CPU ms | client CPU ms "
        "| machine ceiling/s | cart → order flows/s | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        errors = sum(r.errors.values())
        lines.append(
            f"| {r.database} | {r.event_loop} | {r.per_second:,.1f} | {r.pct(0.5):.1f} | {r.pct(0.99):.1f} | {r.cpu_ms:.1f} "
            f"| {r.per_checkout_ms(r.worker_cpu_s):.1f} "
            f"| {r.per_checkout_ms(r.database_cpu_s):.1f} | {r.per_checkout_ms(r.client_cpu_s):.1f} "
            f"| {r.machine_ceiling:,.0f} | {r.flow_per_second:,.1f} | {errors} |"
        )
    pg = [r for r in results if r.database == "postgresql"]
    if pg:
        lines += ["", "| target | event loop | measured | met |", "|---|---|---:|:---:|"]
        lines += [
            f"| ≥ {TARGET:.0f} completed checkouts/s, PostgreSQL, 1 worker | {r.event_loop} | {r.per_second:,.1f}/s "
            f"| {'yes' if r.per_second >= TARGET else 'no'} |"
            for r in pg
        ]
    for r in results:
        for label, count in r.errors.items():
            lines.append(f"\n{r.database} ({r.event_loop}): {count} × {label}")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Checkout\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{body}{END}{tail}", encoding="utf-8")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--separate-worker", action="store_true", help="dispatcher and jobs in one `rcommerce worker`")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--event-loops", default="asyncio", help="[server] event_loop values to run: asyncio,uvloop")
    parser.add_argument("--postgresql-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--quick", action="store_true", help="100 orders, print only")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.orders = min(args.orders, 100)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = []
    loops = [name.strip() for name in args.event_loops.split(",") if name.strip()]
    if unknown := [name for name in loops if name not in ("asyncio", "uvloop")]:
        raise SystemExit(f"unknown event loop {unknown[0]!r}: asyncio or uvloop")
    for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
        if database not in ("sqlite", "postgresql"):
            raise SystemExit(f"unknown database {database!r}: sqlite or postgresql")
        for event_loop in loops:
            print(f"{database} ({event_loop}): {args.orders} checkouts, {args.concurrency} clients ...", flush=True)
            result = run_database(database, event_loop, args)
            print(f"{database} ({event_loop}): {result.per_second:.1f} checkouts/s, p50 {result.pct(0.5):.1f} ms, "
                  f"p99 {result.pct(0.99):.1f} ms, server CPU {result.cpu_ms:.1f} ms/checkout (database {result.per_checkout_ms(result.database_cpu_s):.1f}, clients {result.per_checkout_ms(result.client_cpu_s):.1f}), flows {result.flow_per_second:.1f}/s, errors {result.errors}", flush=True)  # fmt: skip
            results.append(result)
    command = "python bench/checkout.py " + " ".join(argv if argv is not None else sys.argv[1:])
    body = report(results, command.strip())
    print(body)
    output = args.output or (None if args.quick or args.no_write else DEFAULT_OUTPUT)
    if output is not None:
        write_doc(output, body)
    return 0 if all(not r.errors for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
