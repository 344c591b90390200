"""Password hashing: Argon2id for new hashes; bcrypt and PHPass imports verified and
flagged for re-hashing (DECISIONS 7)."""

from __future__ import annotations

import bcrypt
import pytest

from rcommerce.auth.passwords import PasswordHasher, phpass_hash, phpass_verify

# Cheap parameters keep the tests fast; the production defaults are argon2-cffi's.
FAST = {"time_cost": 1, "memory_cost_kib": 1024, "parallelism": 1}


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(**FAST)


def test_new_hashes_are_argon2id_and_verify(hasher: PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert hasher.verify(stored, "correct horse battery").ok
    assert not hasher.verify(stored, "correct horse batterY").ok
    assert hasher.hash("correct horse battery") != stored  # salted


def test_argon2_with_outdated_parameters_asks_for_a_rehash(hasher: PasswordHasher) -> None:
    stored = hasher.hash("pw-12345678")
    stronger = PasswordHasher(time_cost=2, memory_cost_kib=2048, parallelism=1)
    verdict = stronger.verify(stored, "pw-12345678")
    assert verdict.ok and verdict.needs_rehash
    assert not hasher.verify(stored, "pw-12345678").needs_rehash


@pytest.mark.parametrize("prefix", ["$2b$", "$2a$", "$2y$"])
def test_bcrypt_imports_verify_and_need_a_rehash(hasher: PasswordHasher, prefix: str) -> None:
    stored = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(4)).decode().replace("$2b$", prefix, 1)
    verdict = hasher.verify(stored, "s3cret-pass")
    assert verdict.ok and verdict.needs_rehash
    assert hasher.verify(stored, "s3cret-pasS").ok is False


def test_bcrypt_compares_the_first_72_bytes_like_the_systems_it_came_from(hasher: PasswordHasher) -> None:
    long = "x" * 80
    stored = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert hasher.verify(stored, long).ok


# Published PHPass portable hashes (WordPress): "test" and hashcat's mode-400 example.
@pytest.mark.parametrize(
    ("password", "stored"),
    [("test", "$P$B55D6LjfHDkINU5wF.v2BuuzO0/XPk/"), ("hashcat", "$P$984478476IagS59wHZvyQMArzfx58u.")],
)
def test_phpass_known_vectors(hasher: PasswordHasher, password: str, stored: str) -> None:
    assert phpass_verify(password, stored)
    assert not phpass_verify(password + "x", stored)
    verdict = hasher.verify(stored, password)
    assert verdict.ok and verdict.needs_rehash


def test_phpass_h_prefix_is_the_same_algorithm(hasher: PasswordHasher) -> None:
    portable = phpass_hash("test", "$P$B55D6LjfH")
    assert portable == "$P$B55D6LjfHDkINU5wF.v2BuuzO0/XPk/"
    phpbb = phpass_hash("test", "$H$B55D6LjfH")
    assert phpbb is not None and phpbb[3:] == portable[3:]
    assert hasher.verify(phpbb, "test").ok


@pytest.mark.parametrize(
    "setting",
    [
        "$P$",
        "$P$B55D6L",
        "$P$!55D6LjfH",
        "$P$355D6LjfH",
        "$X$B55D6LjfH",
    ],  # short, bad cost char, cost 2^5 < 2^7, scheme
)
def test_malformed_phpass_settings_never_match(setting: str) -> None:
    assert phpass_hash("test", setting) is None
    assert not phpass_verify("test", setting + "x" * 22)


def test_truncated_phpass_hash_does_not_match() -> None:
    assert not phpass_verify("test", "$P$B55D6LjfHDkINU5wF.v2BuuzO0/XPk")


@pytest.mark.parametrize("stored", [None, "", "plaintext", "$argon2id$garbage", "$2b$04$short", "$1$md5crypt$abc"])
def test_missing_unknown_or_broken_hashes_never_match(hasher: PasswordHasher, stored: str | None) -> None:
    verdict = hasher.verify(stored, "plaintext")
    assert not verdict.ok and not verdict.needs_rehash


async def test_async_helpers_run_off_the_loop(hasher: PasswordHasher) -> None:
    stored = await hasher.hash_async("async-password")
    assert (await hasher.verify_async(stored, "async-password")).ok
