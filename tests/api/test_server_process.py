"""The `rcommerce` command as an operator runs it: serve, drain on SIGTERM, workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rcommerce.gen.v1 import admin_pb2, admin_pb2_grpc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCOMMERCE_")}
    env["RCOMMERCE_DATABASE__URL"] = f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}"
    env["RCOMMERCE_PLUGINS__AUTOLOAD"] = "false"
    return env | settings


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become ready")


def _serve(tmp_path: Path, *extra: str, **settings: str) -> tuple[subprocess.Popen[bytes], int, int]:
    grpc_port, http_port = _free_port(), _free_port()
    cmd = [
        sys.executable,
        "-m",
        "rcommerce.cli",
        "serve",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        *extra,
    ]
    env = _env(tmp_path, **settings)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    _wait_ready(f"http://127.0.0.1:{http_port}/readyz", proc)
    return proc, grpc_port, http_port


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_serve_answers_both_transports_and_drains_on_sigterm(tmp_path: Path, event_loop: str) -> None:
    import grpc

    proc, grpc_port, http_port = _serve(tmp_path, RCOMMERCE_SERVER__EVENT_LOOP=event_loop)
    try:
        assert httpx.get(f"http://127.0.0.1:{http_port}/v1/ping?message=hi").json() == {"message": "hi"}
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            assert (
                admin_pb2_grpc.MetaServiceStub(channel).Ping(admin_pb2.PingRequest(message="yo"), timeout=5).message
                == "yo"
            )
            from grpc_health.v1 import health_pb2, health_pb2_grpc

            health = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="rcommerce.v1.CatalogService"), timeout=5
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

            answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
            )
            listed = {s.name for a in answers for s in a.list_services_response.service}
            assert {"rcommerce.v1.CatalogService", "rcommerce.v1.ApiKeyService", "grpc.health.v1.Health"} <= listed
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert f"(event loop: {event_loop})".encode() in err
    assert b"rcommerce stopped" in err


def test_embedded_database_is_migrated_on_first_start(tmp_path: Path) -> None:
    proc, _, _ = _serve(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=20)
    assert (tmp_path / "serve.db").exists()


def test_two_workers_share_both_ports(tmp_path: Path) -> None:
    proc, _, http_port = _serve(tmp_path, "--workers", "2")
    try:
        for _ in range(20):
            assert httpx.get(f"http://127.0.0.1:{http_port}/v1/ping").status_code == 200
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(children) >= 2
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()


def test_apikey_create_prints_the_key_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "apikey", "create", "--name", "ops", "--scopes", "products:write"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    key = result.stdout.strip()
    assert key.startswith("sk_") and len(key) == 35
    listed = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "apikey", "list"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert key[:12] in listed.stdout and key not in listed.stdout


def test_invalid_config_stops_with_every_problem(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"RCOMMERCE_SERVER__HTTP_PORT": "nope"}
    result = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "config", "show"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "server.http_port" in result.stderr


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"RCOMMERCE_SECURITY__SECRET_KEY": "do-not-print-me"}
    result = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "config", "show"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert "do-not-print-me" not in result.stdout and "**********" in result.stdout


@pytest.mark.parametrize("command", [["plugins", "list"], ["openapi"]])
def test_introspection_commands_run(tmp_path: Path, command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", *command],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_a_plugin_that_cannot_load_stops_start_up(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"RCOMMERCE_PLUGINS__AUTOLOAD": "true", "RCOMMERCE_PLUGINS__ENABLED": '["not-installed"]'}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rcommerce.cli",
            "serve",
            "--grpc-port",
            str(_free_port()),
            "--http-port",
            str(_free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 3
    assert "not-installed" in result.stderr


def test_worker_runs_without_listeners_and_stops_on_sigterm(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "rcommerce.cli", "migrate"],
        env=_env(tmp_path),
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcommerce.cli", "worker"], env=_env(tmp_path), cwd=tmp_path, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    seen = b""
    while b"worker running" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert b"worker running" in seen
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert b"worker stopped" in err


def test_seed_loads_the_demo_catalog_once(tmp_path: Path) -> None:
    def seed() -> str:
        return subprocess.run(
            [sys.executable, "-m", "rcommerce.cli", "seed", "--products", "6"],
            env=_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert "6 products created, 0 already present" in seed()
    assert "0 products created, 6 already present" in seed()
