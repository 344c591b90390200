"""The ``rcommerce`` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rcommerce import __version__
from rcommerce.config import ConfigError, Settings, load_settings


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    data: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is not None:
            section, name = key.split("__")
            data.setdefault(section, {})[name] = value
    return load_settings(args.config, overrides=data)


def cmd_serve(args: argparse.Namespace) -> int:
    from rcommerce.serve import serve

    settings = _settings(
        args,
        server__host=args.host,
        server__grpc_port=args.grpc_port,
        server__http_port=args.http_port,
        server__workers=args.workers,
    )
    return serve(settings)


def cmd_worker(args: argparse.Namespace) -> int:
    from rcommerce.serve import worker

    return worker(_settings(args))


def _run_db(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    from rcommerce.db.database import Database

    settings = _settings(args)

    async def main() -> int:
        db = Database(settings.database)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def cmd_migrate(args: argparse.Namespace) -> int:
    from rcommerce.db.migrate import current_revision, downgrade, head_revision, upgrade

    async def work(db: Any) -> int:
        before = await current_revision(db)
        if args.revision.startswith("-") or args.downgrade:
            await downgrade(db, args.revision)
        else:
            await upgrade(db, args.revision)
        after = await current_revision(db)
        print(f"database at revision {after} (was {before}; head is {head_revision()})")
        return 0

    return _run_db(args, work)


async def _with_app(args: argparse.Namespace, work: Callable[[Any], Awaitable[int]]) -> int:
    from rcommerce.app import App

    app = App(_settings(args))
    await app.build()
    try:
        return await work(app)
    finally:
        await app.cache.close()
        await app.db.dispose()


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    async def work(app: Any) -> int:
        expires = datetime.fromisoformat(args.expires).astimezone(UTC) if args.expires else None
        scopes = [s.strip() for s in (args.scopes or "").split(",") if s.strip()]
        created = await app.services.api_keys.create(args.name, args.kind, scopes, expires)
        print(created.key)
        print(
            f"# {created.api_key.name} ({args.kind}) scopes={','.join(created.api_key.scopes)}; shown once, store it now",
            file=sys.stderr,
        )
        return 0

    return asyncio.run(_with_app(args, work))


def cmd_apikey_list(args: argparse.Namespace) -> int:
    async def work(app: Any) -> int:
        keys, _ = await app.services.api_keys.list(0, 100, args.all)
        for key in keys:
            state = "revoked" if key.HasField("revoke_time") else "active"
            print(f"{key.name}\t{key.prefix}...\t{state}\t{','.join(key.scopes)}\t{key.display_name}")
        return 0

    return asyncio.run(_with_app(args, work))


def cmd_apikey_revoke(args: argparse.Namespace) -> int:
    async def work(app: Any) -> int:
        key_id = args.name.split("/", 1)[-1]
        key = await app.services.api_keys.revoke(key_id, args.reason)
        print(f"revoked {key.name}")
        return 0

    return asyncio.run(_with_app(args, work))


def cmd_plugins_list(args: argparse.Namespace) -> int:
    from rcommerce.plugins.manager import PluginHost

    host = PluginHost(_settings(args).plugins)
    host.load()
    for record in host.describe():
        print(json.dumps(record.as_dict(), default=str))
    return 0


def cmd_config_show(args: argparse.Namespace) -> int:
    print(json.dumps(_settings(args).redacted(), indent=2))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from rcommerce.api.methods import method_table
    from rcommerce.api.rest.openapi import build_openapi
    from rcommerce.api.rest.routes import RouteTable

    print(json.dumps(build_openapi(RouteTable(method_table()), version=__version__), indent=2))
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from rcommerce.demo import seed_demo

    async def work(app: Any) -> int:
        summary = await seed_demo(app, products=args.products, variants=args.variants)
        print(summary)
        return 0

    return asyncio.run(_with_app(args, work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rcommerce", description="Headless commerce platform: gRPC core, REST bridge, plugin host."
    )
    parser.add_argument("--version", action="version", version=f"rcommerce {__version__}")
    parser.add_argument("-c", "--config", help="settings file (default: $RCOMMERCE_CONFIG or ./rcommerce.toml)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the gRPC server and the REST bridge")
    p.add_argument("--host")
    p.add_argument("--grpc-port", type=int)
    p.add_argument("--http-port", type=int)
    p.add_argument("--workers", type=int, help="processes sharing both ports (default 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run only the event dispatcher and background jobs (no listeners)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("revision", nargs="?", default="head")
    p.add_argument("--downgrade", action="store_true", help="move down to REVISION ('base' for empty)")
    p.set_defaults(func=cmd_migrate)

    keys = sub.add_parser("apikey", help="manage API keys").add_subparsers(dest="apikey_command", required=True)
    p = keys.add_parser("create", help="create a key and print it once")
    p.add_argument("--name", required=True)
    p.add_argument("--scopes", default="", help="comma-separated, e.g. products:write,orders:read (default read)")
    p.add_argument("--kind", choices=["secret", "publishable"], default="secret")
    p.add_argument("--expires", help="ISO 8601 expiry, e.g. 2027-01-01T00:00:00Z")
    p.set_defaults(func=cmd_apikey_create)
    p = keys.add_parser("list", help="list keys")
    p.add_argument("--all", action="store_true", help="include revoked and expired keys")
    p.set_defaults(func=cmd_apikey_list)
    p = keys.add_parser("revoke", help="revoke a key")
    p.add_argument("name", help="apiKeys/key_... or key_...")
    p.add_argument("--reason", default="")
    p.set_defaults(func=cmd_apikey_revoke)

    plugins = sub.add_parser("plugins", help="inspect plugins").add_subparsers(dest="plugins_command", required=True)
    plugins.add_parser("list", help="name, version, hooks and providers of every plugin").set_defaults(
        func=cmd_plugins_list
    )

    config = sub.add_parser("config", help="inspect settings").add_subparsers(dest="config_command", required=True)
    config.add_parser("show", help="effective settings, secrets redacted").set_defaults(func=cmd_config_show)

    sub.add_parser("openapi", help="print the OpenAPI document").set_defaults(func=cmd_openapi)

    p = sub.add_parser("seed", help="load demo data (idempotent)")
    p.add_argument("--products", type=int, default=24)
    p.add_argument("--variants", type=int, default=3)
    p.set_defaults(func=cmd_seed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"rcommerce: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from rcommerce.db.database import DatabaseBehind
        from rcommerce.plugins.manager import PluginError

        if isinstance(exc, DatabaseBehind | PluginError):
            print(f"rcommerce: {exc}", file=sys.stderr)
            return 3
        raise


if __name__ == "__main__":
    sys.exit(main())
