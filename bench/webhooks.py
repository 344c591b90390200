#!/usr/bin/env python3
"""rcommerce webhook benchmark: events delivered per second to a local receiver.

    python bench/webhooks.py [--events N] [--quick] [--database-url URL] [--output PATH]

For each setup it starts ``rcommerce serve`` on free ports (a fresh temporary SQLite
database unless ``--database-url`` is given; that database must be empty or migrated),
with ``[webhooks] allow_private_targets`` on, a local receiver (a threaded stdlib HTTP
server answering 204) and one endpoint subscribed to ``product.created``. It creates
``--events`` products over REST with 8 client threads and records when each delivery
arrives. Setups:

- ``serve``: the in-process dispatcher and worker of ``rcommerce serve``.
- ``serve + 1 worker``: the same plus one ``rcommerce worker`` process.

Reported per setup: the product (event) creation rate, the end-to-end rate (events /
time from the first create to the last delivery) and the drain rate (deliveries after
the last create / time they took). The markdown table is written into
``docs/benchmarks.md`` between ``<!-- webhooks:begin -->`` and ``<!-- webhooks:end -->``
(``--quick`` runs do not write unless ``--output`` is given).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import free_port, http_status, rcommerce_command, stop_process

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- webhooks:begin -->", "<!-- webhooks:end -->"
CLIENT_THREADS = 8


class Receiver:
    """Counts webhook deliveries and remembers when each distinct event first arrived."""

    def __init__(self) -> None:
        self.first_seen: dict[str, float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.first_seen.setdefault(self.headers["webhook-id"], time.monotonic())
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.first_seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def api(base: str, key: str, path: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read()))


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], cwd: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop_process(proc, timeout_s=30)


@dataclass
class Result:
    setup: str
    events: int
    create_s: float
    total_s: float
    delivered_at_create_end: int

    @property
    def drain_rate(self) -> float:
        drain_s = self.total_s - self.create_s
        remaining = self.events - self.delivered_at_create_end
        return remaining / drain_s if drain_s > 0 and remaining > 0 else float("nan")


def run_setup(setup: str, extra_workers: int, events: int, database_url: str | None) -> Result:
    with tempfile.TemporaryDirectory(prefix="rc-webhook-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCOMMERCE_")} | {
            "RCOMMERCE_DATABASE__URL": database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
            "RCOMMERCE_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
            "RCOMMERCE_LOGGING__ACCESS_LOG": "false",
            "RCOMMERCE_LOGGING__LEVEL": "WARNING",
            "RCOMMERCE_PLUGINS__AUTOLOAD": "false",
        }
        cli = rcommerce_command()
        subprocess.run([*cli, "migrate"], env=env, cwd=tmp, check=True, capture_output=True)
        key = subprocess.run(
            [*cli, "apikey", "create", "--name", "bench", "--scopes", "admin"],
            env=env, cwd=tmp, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        http_port = free_port()
        base = f"http://127.0.0.1:{http_port}"
        receiver = Receiver()
        serve = [*cli, "serve", "--grpc-port", str(free_port()), "--http-port", str(http_port)]
        with contextlib.ExitStack() as stack:
            stack.callback(receiver.close)
            stack.enter_context(process(serve, env, tmp))
            for _ in range(extra_workers):
                stack.enter_context(process([*cli, "worker"], env, tmp))
            deadline = time.monotonic() + 30
            while http_status(f"{base}/readyz") != 200:
                if time.monotonic() > deadline:
                    raise SystemExit("server did not become ready")
                time.sleep(0.05)
            api(
                base,
                key,
                "/v1/webhookEndpoints",
                {"webhookEndpoint": {"url": receiver.url, "eventTypes": ["product.created"]}},
            )
            started = time.monotonic()
            with ThreadPoolExecutor(CLIENT_THREADS) as pool:
                list(pool.map(lambda i: api(base, key, "/v1/products", {"title": f"Bench {i}"}), range(events)))
            created = time.monotonic()
            at_create_end = receiver.count()
            deadline = created + 600
            while receiver.count() < events:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{setup}: only {receiver.count()} of {events} delivered after 600 s")
                time.sleep(0.01)
            with receiver.lock:
                last = max(receiver.first_seen.values())
        return Result(setup, events, created - started, last - started, at_create_end)


def report(results: list[Result], args: argparse.Namespace) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    database = "the given database URL" if args.database_url else "SQLite (temporary file)"
    lines = [
        f"Command: `python bench/webhooks.py{' --events ' + str(args.events) if args.events != 1000 else ''}`  ",
        f"Date: {now}  ",
        f"Machine: {os.cpu_count()} CPUs (`nproc`), Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}; receiver, client and server share the CPUs  ",
        f"Database: {database}; one endpoint (`product.created`), receiver answers 204 at once  ",
        f"Events: products created over REST by {CLIENT_THREADS} client threads",
        "",
        "| setup | events | create/s | end-to-end delivered/s | drain delivered/s | delivered when creates ended |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.setup} | {r.events:,} | {r.events / r.create_s:,.0f} | {r.events / r.total_s:,.0f} | "
            f"{r.drain_rate:,.0f} | {r.delivered_at_create_end:,} |"
        )
    return "\n".join(lines) + "\n"


def write(path: Path, table: str) -> None:
    doc = path.read_text()
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        doc = f"{head}{BEGIN}\n{table}{END}{tail}"
    else:
        doc = doc.rstrip("\n") + f"\n\n## Webhook delivery\n\n{BEGIN}\n{table}{END}\n"
    path.write_text(doc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 events; do not write the report")
    parser.add_argument("--database-url", help="an empty or migrated database (default: temporary SQLite)")
    parser.add_argument("--output", type=Path, help=f"markdown file to update (default {DEFAULT_OUTPUT})")
    args = parser.parse_args()
    if args.quick:
        args.events = min(args.events, 200)
    results = []
    for setup, extra in (("serve", 0), ("serve + 1 worker", 1)):
        print(f"running {setup} with {args.events} events...", file=sys.stderr)
        results.append(run_setup(setup, extra, args.events, args.database_url))
    table = report(results, args)
    print(table)
    if args.output or not args.quick:
        write(args.output or DEFAULT_OUTPUT, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
