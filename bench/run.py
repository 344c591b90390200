#!/usr/bin/env python3
"""rcommerce benchmark: start-up, memory and request throughput over gRPC and REST.

    python bench/run.py [--quick] [--database-url URL] [--workers N]

Starts ``rcommerce serve`` as a subprocess on free ports (a temporary SQLite database
unless ``--database-url`` is given), measures the time from spawn to ``/readyz`` answering
200 and the resident memory at rest, creates a secret key with ``rcommerce apikey create``,
seeds products with variants through the gRPC API, then drives three workloads over both
transports at concurrency 1 and 50 with its own asyncio load generator:

- ``Ping``: a no-op RPC; the transport ceiling.
- ``GetProduct``: a random product among the first 200 (served from the cache after the
  first read).
- ``ListProducts``: page size 20, cycling over the first five pages.

It prints a markdown report and writes it into ``docs/benchmarks.md`` between the
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` markers (``--quick`` runs do not write
unless ``--output`` is given). Only the standard library, grpcio and the generated stubs of
the rcommerce package are needed. The load generator shares the machine with the server,
so the figures are a lower bound of what the server does with a core of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from rcommerce.gen.v1 import admin_pb2, admin_pb2_grpc, catalog_pb2, catalog_pb2_grpc, common_pb2

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
SIZES = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
COLORS = ["Black", "White", "Red", "Blue", "Green", "Grey", "Navy", "Olive"]
HOT_PRODUCTS = 200
LIST_PAGES = 5
CONCURRENCIES = (1, 50)
WORKLOADS = ("Ping", "GetProduct", "ListProducts")
TRANSPORTS = ("gRPC", "REST")

# Targets the report checks (docs/benchmarks.md explains them).
TARGET_GET_OVER_PING = 0.5
TARGET_LIST_REST_RPS = 1000.0
TARGET_RSS_MB = 150.0
TARGET_STARTUP_S = 2.0


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rcommerce_command() -> list[str]:
    """The ``rcommerce`` script installed beside this interpreter, else the module."""
    script = Path(sys.executable).parent / "rcommerce"
    if script.exists():
        return [str(script)]
    found = shutil.which("rcommerce")
    return [found] if found else [sys.executable, "-m", "rcommerce.cli"]


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` and all its descendants, in KiB (0 for a process that is gone)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                break
    except OSError:
        return 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                total += rss_kib(int(child))
    return total


def process_count(pid: int) -> int:
    count = 1
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            count += sum(process_count(int(c)) for c in (task / "children").read_text().split())
    return count


def http_status(url: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return 0


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    grpc_target: str
    http_host: str
    http_port: int
    log_path: Path
    startup_s: float

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> int | None:
        return stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> int | None:
    """SIGTERM (rcommerce drains and exits), SIGKILL after ``timeout_s``; the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def run_cli(args: Sequence[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [*rcommerce_command(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise SystemExit(f"rcommerce {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def start_server(env: dict[str, str], cwd: Path, workers: int, timeout: float = 60.0) -> Server:
    grpc_port, http_port = free_port(), free_port()
    log_path = cwd / "server.log"
    command = [
        *rcommerce_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        "--workers",
        str(workers),
    ]
    ready_url = f"http://127.0.0.1:{http_port}/readyz"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    server = Server(proc, f"127.0.0.1:{grpc_port}", "127.0.0.1", http_port, log_path, 0.0)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"rcommerce serve exited with {proc.returncode}:\n{server.log_tail()}")
        if http_status(ready_url, timeout=0.5) == 200:
            server.startup_s = time.perf_counter() - started
            return server
        time.sleep(0.005)
    server.stop()
    raise SystemExit(f"rcommerce serve was not ready within {timeout}s:\n{server.log_tail()}")


# --------------------------------------------------------------------------- seeding


def bench_product(run_id: str, index: int, variants: int) -> catalog_pb2.Product:
    if not 1 <= variants <= len(SIZES) * len(COLORS):
        raise SystemExit(f"variants per product must be 1..{len(SIZES) * len(COLORS)}")
    colors = COLORS[: -(-variants // len(SIZES))]
    sizes = SIZES[: -(-variants // len(colors))]
    combos = list(itertools.product(sizes, colors))[:variants]
    used_sizes = list(dict.fromkeys(size for size, _ in combos))
    used_colors = list(dict.fromkeys(color for _, color in combos))
    product = catalog_pb2.Product(
        title=f"Bench tee {run_id} {index:05d}",
        slug=f"bench-{run_id}-{index:05d}",
        description="A plain cotton tee, in many sizes and colours, for load testing.",
        status=catalog_pb2.PRODUCT_STATUS_ACTIVE,
        vendor="rcommerce bench",
        tags=["bench", f"group-{index % 10}"],
        options=[
            catalog_pb2.ProductOption(name="Size", values=used_sizes),
            catalog_pb2.ProductOption(name="Color", values=used_colors),
        ],
    )
    for position, (size, color) in enumerate(combos):
        product.variants.append(
            catalog_pb2.Variant(
                sku=f"BENCH-{run_id}-{index:05d}-{position:02d}",
                option_values={"Size": size, "Color": color},
                prices=[common_pb2.Money(currency_code="USD", amount=1500 + 100 * position + index % 7)],
                manage_inventory=True,
                inventory_quantity=100,
                weight_grams=180,
                requires_shipping=True,
                position=position,
            )
        )
    return product


async def seed(
    target: str, metadata: tuple[tuple[str, str], ...], run_id: str, products: int, variants: int, concurrency: int = 16
) -> tuple[list[str], float]:
    """Create ``products`` products; returns their names in creation order and the seconds it took."""
    names: list[str | None] = [None] * products
    counter = iter(range(products))
    async with grpc.aio.insecure_channel(target) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)

        async def worker() -> None:
            for index in counter:
                request = catalog_pb2.CreateProductRequest(
                    product=bench_product(run_id, index, variants), request_id=f"bench-{run_id}-{index}"
                )
                for attempt in range(5):
                    try:
                        created = await stub.CreateProduct(request, metadata=metadata, timeout=60)
                        break
                    except grpc.aio.AioRpcError as exc:
                        retryable = exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED)
                        if not retryable or attempt == 4:
                            raise SystemExit(
                                f"CreateProduct #{index} failed: {exc.code().name}: {exc.details()}"
                            ) from exc
                        await asyncio.sleep(0.1 * (attempt + 1))
                names[index] = created.name

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return [n for n in names if n], elapsed


async def list_page_tokens(target: str, metadata: tuple[tuple[str, str], ...], pages: int) -> list[str]:
    tokens = [""]
    async with grpc.aio.insecure_channel(target) as channel:
        stub = catalog_pb2_grpc.CatalogServiceStub(channel)
        while len(tokens) < pages:
            response = await stub.ListProducts(
                catalog_pb2.ListProductsRequest(page_size=20, page_token=tokens[-1]), metadata=metadata, timeout=30
            )
            if not response.next_page_token:
                break
            tokens.append(response.next_page_token)
    return tokens


# --------------------------------------------------------------------------- load generator


@dataclass
class Result:
    workload: str
    transport: str
    concurrency: int
    duration_s: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.duration_s if self.duration_s else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


Call = Callable[[], Awaitable[None]]


async def drive(
    make_call: Callable[[int], Call], concurrency: int, warmup_s: float, duration_s: float, result: Result
) -> None:
    """Run ``concurrency`` closed-loop clients; record calls that start after the warm-up
    and end before the deadline."""
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup_s
    end = start + duration_s
    clock = time.perf_counter

    async def client(slot: int) -> None:
        call = make_call(slot)
        while True:
            now = loop.time()
            if now >= end:
                return
            t0 = clock()
            try:
                await call()
            except Exception as exc:
                if loop.time() >= start:
                    result.errors += 1
                    result.first_error = result.first_error or repr(exc)[:300]
                continue
            if now >= start and loop.time() <= end:
                result.latencies.append(clock() - t0)

    await asyncio.gather(*(client(i) for i in range(concurrency)))


class HttpConnection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: the least client work
    per request, so the client steals as little CPU as possible from the server."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> bytes:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            with contextlib.suppress(OSError):
                self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request = f"GET {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n{self.extra}\r\n".encode()
        try:
            self.writer.write(request)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = -1
            chunked = close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                body = bytearray()
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    chunk = await self.reader.readexactly(size + 2)
                    if size == 0:
                        break
                    body += chunk[:-2]
                payload = bytes(body)
            elif length >= 0:
                payload = await self.reader.readexactly(length)
            else:
                payload = await self.reader.read()
                close = True
        except Exception:
            await self.close()
            raise
        if close:
            await self.close()
        if status != 200:
            raise RuntimeError(f"HTTP {status} for {path}: {payload[:200]!r}")
        return payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


@dataclass
class Target:
    server: Server
    metadata: tuple[tuple[str, str], ...]
    product_names: list[str]
    page_tokens: list[str]


async def run_grpc(target: Target, workload: str, concurrency: int, warmup_s: float, duration_s: float) -> Result:
    result = Result(workload, "gRPC", concurrency, duration_s)
    # One HTTP/2 connection per 25 clients: streams multiplex, as a real backend client does.
    channels = [grpc.aio.insecure_channel(target.server.grpc_target) for _ in range(max(1, -(-concurrency // 25)))]
    try:
        for channel in channels:
            await asyncio.wait_for(channel.channel_ready(), 10)
        metadata = target.metadata
        hot = target.product_names[:HOT_PRODUCTS]
        tokens = target.page_tokens

        def make_call(slot: int) -> Call:
            channel = channels[slot % len(channels)]
            rng = random.Random(slot)
            if workload == "Ping":
                meta = admin_pb2_grpc.MetaServiceStub(channel)
                ping = admin_pb2.PingRequest(message="bench")

                async def call() -> None:
                    await meta.Ping(ping, metadata=metadata, timeout=10)

                return call
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            if workload == "GetProduct":
                requests = [catalog_pb2.GetProductRequest(name=name) for name in hot]

                async def call() -> None:
                    await catalog.GetProduct(rng.choice(requests), metadata=metadata, timeout=10)

                return call
            pages = itertools.cycle(
                [catalog_pb2.ListProductsRequest(page_size=20, page_token=token) for token in tokens]
            )

            async def call() -> None:
                response = await catalog.ListProducts(next(pages), metadata=metadata, timeout=10)
                if not response.products:
                    raise RuntimeError("empty page")

            return call

        await drive(make_call, concurrency, warmup_s, duration_s, result)
    finally:
        for channel in channels:
            await channel.close()
    return result


async def run_rest(target: Target, workload: str, concurrency: int, warmup_s: float, duration_s: float) -> Result:
    result = Result(workload, "REST", concurrency, duration_s)
    headers = {key: value for key, value in target.metadata}
    connections = [
        HttpConnection(target.server.http_host, target.server.http_port, headers) for _ in range(concurrency)
    ]
    hot = [f"/v1/{name}" for name in target.product_names[:HOT_PRODUCTS]]
    lists = [
        "/v1/products?pageSize=20" + (f"&pageToken={urllib.parse.quote(token, safe='')}" if token else "")
        for token in target.page_tokens
    ]

    def make_call(slot: int) -> Call:
        connection = connections[slot]
        rng = random.Random(slot)
        if workload == "Ping":

            async def call() -> None:
                await connection.get("/v1/ping?message=bench")

            return call
        if workload == "GetProduct":

            async def call() -> None:
                await connection.get(rng.choice(hot))

            return call
        pages = itertools.cycle(lists)

        async def call() -> None:
            await connection.get(next(pages))

        return call

    try:
        await drive(make_call, concurrency, warmup_s, duration_s, result)
    finally:
        await asyncio.gather(*(c.close() for c in connections))
    return result


def run_scenario(
    target: Target, workload: str, transport: str, concurrency: int, warmup_s: float, duration_s: float
) -> Result:
    if transport == "gRPC":
        return asyncio.run(run_grpc(target, workload, concurrency, warmup_s, duration_s))
    # The raw-socket client runs on uvloop when it is installed (it is, with uvicorn[standard]).
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run_rest(target, workload, concurrency, warmup_s, duration_s))
    return uvloop.run(run_rest(target, workload, concurrency, warmup_s, duration_s))


# --------------------------------------------------------------------------- report


@dataclass
class Report:
    command: str
    date: str
    cpus: int
    python: str
    database: str
    workers: int
    products: int
    variants: int
    duration_s: float
    startup_s: float
    rss_rest_mb: float
    rss_after_mb: float
    processes: int
    seed_s: float
    results: list[Result]

    def find(self, workload: str, transport: str, concurrency: int) -> Result | None:
        for r in self.results:
            if (r.workload, r.transport, r.concurrency) == (workload, transport, concurrency):
                return r
        return None

    def ratio(self, transport: str, concurrency: int) -> float | None:
        get, ping = self.find("GetProduct", transport, concurrency), self.find("Ping", transport, concurrency)
        if not get or not ping or not ping.rps:
            return None
        return get.rps / ping.rps

    def targets(self) -> list[tuple[str, str, bool]]:
        rows = []
        top = max(CONCURRENCIES)
        for transport in TRANSPORTS:
            ratio = self.ratio(transport, top)
            rows.append(
                (
                    f"cached GetProduct ≥ {TARGET_GET_OVER_PING:.0%} of Ping, {transport}, concurrency {top}",
                    f"{ratio:.0%}" if ratio is not None else "n/a",
                    ratio is not None and ratio >= TARGET_GET_OVER_PING,
                )
            )
        lists = self.find("ListProducts", "REST", top)
        list_rps = lists.rps if lists else 0.0
        rows.append(
            (
                f"ListProducts REST ≥ {TARGET_LIST_REST_RPS:,.0f} req/s ({self.workers} worker{'s' if self.workers > 1 else ''})",
                f"{list_rps:,.0f} req/s",
                list_rps >= TARGET_LIST_REST_RPS,
            )
        )
        rows.append(
            (f"RSS at rest < {TARGET_RSS_MB:.0f} MB", f"{self.rss_rest_mb:.1f} MB", self.rss_rest_mb < TARGET_RSS_MB)
        )
        rows.append(
            (f"start-up < {TARGET_STARTUP_S:.0f} s", f"{self.startup_s:.2f} s", self.startup_s < TARGET_STARTUP_S)
        )
        return rows

    def markdown(self) -> str:
        lines = [
            f"Command: `{self.command}`  ",
            f"Date: {self.date}  ",
            f"Machine: {self.cpus} CPUs (`nproc`), Python {self.python}, {platform.system()} "
            f"{platform.machine()}; client and server share the CPUs  ",
            f"Server: `rcommerce serve --workers {self.workers}`, {self.database}, memory cache, access log off, rate limiting on (limits raised)  ",
            f"Data: {self.products:,} active products × {self.variants} variants, seeded over gRPC in {self.seed_s:.1f} s  ",
            f"Each row: {self.duration_s:g} s measured after a warm-up, closed-loop clients",
            "",
            "| workload | transport | concurrency | req/s | p50 ms | p99 ms | errors |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in self.results:
            lines.append(
                f"| {r.workload} | {r.transport} | {r.concurrency} | {r.rps:,.0f} | "
                f"{r.percentile(0.5) * 1000:.2f} | {r.percentile(0.99) * 1000:.2f} | {r.errors} |"
            )
        lines += [
            "",
            "| GetProduct / Ping | " + " | ".join(f"concurrency {c}" for c in CONCURRENCIES) + " |",
            "|---|" + "---:|" * len(CONCURRENCIES),
        ]
        for transport in TRANSPORTS:
            cells = []
            for c in CONCURRENCIES:
                ratio = self.ratio(transport, c)
                cells.append(f"{ratio:.0%}" if ratio is not None else "n/a")
            lines.append(f"| {transport} | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"Start-up (spawn → `/readyz` 200): {self.startup_s:.2f} s. "
            f"Resident memory at rest: {self.rss_rest_mb:.1f} MB"
            + (f" over {self.processes} processes" if self.processes > 1 else "")
            + f"; after the load: {self.rss_after_mb:.1f} MB.",
            "",
            "| target | measured | met |",
            "|---|---:|:---:|",
        ]
        for name, value, met in self.targets():
            lines.append(f"| {name} | {value} | {'yes' if met else '**no**'} |")
        errors = [r for r in self.results if r.errors]
        if errors:
            lines += ["", "First error per row with errors:", ""]
            lines += [f"- {r.workload} {r.transport} c={r.concurrency}: `{r.first_error}`" for r in errors]
        return "\n".join(lines) + "\n"


DOC_TEMPLATE = """# Benchmarks

Figures from `bench/run.py` (see `bench/README.md`). The section between the markers is
rewritten by each full run; the prose around it is kept.

{begin}
{end}
"""


def write_doc(path: Path, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else DOC_TEMPLATE.format(begin=BEGIN, end=END)
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n## Latest run\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{BEGIN}\n{body}{END}{tail}", encoding="utf-8")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per row and fewer products; does not write the doc")
    parser.add_argument("--database-url", help="use this database instead of a temporary SQLite file")
    parser.add_argument("--cache-url", help="cache URL for the server (default memory://)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--duration", type=float, help="seconds measured per row (default 10, quick 2)")
    parser.add_argument("--products", type=int, help="products to seed (default 1000, quick 250)")
    parser.add_argument("--variants", type=int, default=10, help="variants per product (default 10)")
    parser.add_argument("--output", type=Path, help=f"report file (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    parser.add_argument("--only", help="comma-separated workloads to run (Ping,GetProduct,ListProducts)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    duration = args.duration or (2.0 if args.quick else 10.0)
    warmup = 0.5 if args.quick else 1.0
    products = args.products or (250 if args.quick else 1000)
    workloads = [w.strip() for w in args.only.split(",")] if args.only else list(WORKLOADS)
    command = "python bench/run.py" + (" " + " ".join(sys.argv[1:]) if argv is None and sys.argv[1:] else "")

    workdir = Path(tempfile.mkdtemp(prefix="rcommerce-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCOMMERCE_") or k == "RCOMMERCE_CONFIG"}
    if "RCOMMERCE_CONFIG" in env:
        env["RCOMMERCE_CONFIG"] = str(Path(env["RCOMMERCE_CONFIG"]).resolve())
    env["RCOMMERCE_DATABASE__URL"] = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if args.cache_url:
        env["RCOMMERCE_CACHE__URL"] = args.cache_url
    env["RCOMMERCE_LOGGING__ACCESS_LOG"] = "false"
    # One key drives thousands of calls a second: rate limiting stays on (every call pays
    # for the check) but the bench key's limit is far above what the run reaches.
    env["RCOMMERCE_RATE_LIMITS__SECRET_KEY_PER_MINUTE"] = "1000000000"
    env["RCOMMERCE_RATE_LIMITS__SECRET_KEY_BURST"] = "1000000000"
    database = "SQLite (temporary file)" if not args.database_url else env["RCOMMERCE_DATABASE__URL"].split("+", 1)[0]
    run_id = f"{int(time.time()):x}{random.randrange(16**4):04x}"

    print(f"# migrating {database}", file=sys.stderr)
    run_cli(["migrate"], env, workdir)
    print(f"# starting rcommerce serve --workers {args.workers}", file=sys.stderr)
    server = start_server(env, workdir, args.workers)
    try:
        print(f"# ready in {server.startup_s:.2f} s", file=sys.stderr)
        time.sleep(1.0)
        rss_rest = rss_kib(server.proc.pid) / 1024
        processes = process_count(server.proc.pid)
        print(f"# RSS at rest {rss_rest:.1f} MB ({processes} processes)", file=sys.stderr)

        key = run_cli(["apikey", "create", "--name", f"bench-{run_id}", "--scopes", "admin"], env, workdir).strip()
        metadata = (("authorization", f"Bearer {key}"),)
        print(f"# seeding {products} products × {args.variants} variants over gRPC", file=sys.stderr)
        names, seed_s = asyncio.run(seed(server.grpc_target, metadata, run_id, products, args.variants))
        print(f"# seeded in {seed_s:.1f} s ({len(names) / seed_s:.0f} products/s)", file=sys.stderr)
        tokens = asyncio.run(list_page_tokens(server.grpc_target, metadata, LIST_PAGES))
        target = Target(server, metadata, names, tokens)

        results = []
        for workload in workloads:
            for transport in TRANSPORTS:
                for concurrency in CONCURRENCIES:
                    result = run_scenario(target, workload, transport, concurrency, warmup, duration)
                    results.append(result)
                    print(
                        f"# {workload:12} {transport:4} c={concurrency:<3} {result.rps:8,.0f} req/s "
                        f"p50 {result.percentile(0.5) * 1000:6.2f} ms p99 {result.percentile(0.99) * 1000:6.2f} ms"
                        + (f" errors {result.errors}: {result.first_error}" if result.errors else ""),
                        file=sys.stderr,
                    )
                    if server.proc.poll() is not None:
                        raise SystemExit(f"the server died:\n{server.log_tail()}")
        rss_after = rss_kib(server.proc.pid) / 1024
    finally:
        code = server.stop()
        if code not in (0, None):
            print(f"# rcommerce serve exited with {code}:\n{server.log_tail()}", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)

    report = Report(
        command=command,
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0),
        python=platform.python_version(),
        database=database,
        workers=args.workers,
        products=len(names),
        variants=args.variants,
        duration_s=duration,
        startup_s=server.startup_s,
        rss_rest_mb=rss_rest,
        rss_after_mb=rss_after,
        processes=processes,
        seed_s=seed_s,
        results=results,
    )
    body = report.markdown()
    print(body)
    output = args.output or (None if args.quick else DEFAULT_OUTPUT)
    if output and not args.no_write:
        write_doc(output, body)
        print(f"# wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
