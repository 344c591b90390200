"""Settings: file, environment overrides, validation, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcommerce.config import ConfigError, load_settings


def test_defaults_without_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert (settings.server.grpc_port, settings.server.http_port) == (50051, 8080)
    assert settings.database.embedded and settings.cache.url == "memory://"


def test_environment_overrides_file(tmp_path: Path) -> None:
    file = tmp_path / "rc.toml"
    file.write_text('[server]\nhttp_port = 9000\n[plugins.example]\ngreeting = "hi"\n')
    settings = load_settings(
        file, environ={"RCOMMERCE_SERVER__HTTP_PORT": "9100", "RCOMMERCE_PLUGINS__EXAMPLE__CURRENCY": "EUR"}
    )
    assert settings.server.http_port == 9100
    assert settings.plugins.table("example") == {"greeting": "hi", "currency": "EUR"}


def test_every_problem_is_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(
            environ={
                "RCOMMERCE_SERVER__HTTP_PORT": "abc",
                "RCOMMERCE_DATABASE__URL": "oracle://x",
                "RCOMMERCE_CACHE__BOGUS": "1",
            }
        )
    text = str(err.value)
    assert "server.http_port" in text and "database.url" in text and "cache.bogus" in text


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secrets_are_redacted() -> None:
    settings = load_settings(
        environ={
            "RCOMMERCE_SECURITY__SECRET_KEY": "s3cr3t",
            "RCOMMERCE_DATABASE__URL": "postgresql+asyncpg://shop:pw@db/shop",
        }
    )
    shown = settings.redacted()
    assert shown["security"]["secret_key"] == "**********"
    assert shown["database"]["url"] == "postgresql+asyncpg://shop:**********@db/shop"
    assert "s3cr3t" not in repr(shown) and "pw@" not in repr(shown)


def test_repo_default_file_loads_with_the_defaults() -> None:
    root = Path(__file__).resolve().parents[2]
    from_file = load_settings(root / "rcommerce.toml", environ={})
    defaults = load_settings(environ={}, overrides={})
    assert from_file.model_dump(exclude={"source_file"}) == defaults.model_dump(exclude={"source_file"})
