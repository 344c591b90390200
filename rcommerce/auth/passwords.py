"""Customer password hashing: Argon2id for every new hash; bcrypt and PHPass hashes
brought in by imports (WooCommerce/WordPress, Magento, Medusa ...) are verified and
flagged for re-hashing, so they turn into Argon2id at the customer's first sign-in
(DECISIONS 7).

Every comparison is constant-time. Hashing is CPU-bound by design; call the async
helpers from request handlers so the event loop keeps serving other calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from dataclasses import dataclass

import bcrypt
from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordHasher", "Verification", "phpass_hash", "phpass_verify"]

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _encode64(data: bytes, count: int) -> str:
    """PHPass's own base-64 (little-endian, ``_ITOA64`` alphabet)."""
    out: list[str] = []
    i = 0
    while True:
        value = data[i]
        i += 1
        out.append(_ITOA64[value & 0x3F])
        if i < count:
            value |= data[i] << 8
        out.append(_ITOA64[(value >> 6) & 0x3F])
        if i >= count:
            break
        i += 1
        if i < count:
            value |= data[i] << 16
        out.append(_ITOA64[(value >> 12) & 0x3F])
        if i >= count:
            break
        i += 1
        out.append(_ITOA64[(value >> 18) & 0x3F])
        if i >= count:
            break
    return "".join(out)


def phpass_hash(password: str, setting: str) -> str | None:
    """The PHPass portable hash of ``password`` with the salt and cost of ``setting``
    (``$P$`` or ``$H$``, a cost character, 8 salt characters), or ``None`` when the
    setting is malformed (cost outside 2^7..2^30, short salt)."""
    if len(setting) < 12 or setting[:3] not in ("$P$", "$H$"):
        return None
    count_log2 = _ITOA64.find(setting[3])
    if count_log2 < 7 or count_log2 > 30:
        return None
    salt = setting[4:12].encode()
    secret = password.encode()
    digest = hashlib.md5(salt + secret).digest()  # noqa: S324 - the legacy format, verified only
    for _ in range(1 << count_log2):
        digest = hashlib.md5(digest + secret).digest()  # noqa: S324
    return setting[:12] + _encode64(digest, 16)


def phpass_verify(password: str, stored: str) -> bool:
    """Whether ``password`` matches a PHPass portable hash (constant-time compare)."""
    computed = phpass_hash(password, stored)
    return computed is not None and len(stored) == 34 and hmac.compare_digest(computed.encode(), stored.encode())


def _is_bcrypt(stored: str) -> bool:
    return stored.startswith(("$2a$", "$2b$", "$2y$", "$2x$"))


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking a password against a stored hash."""

    ok: bool
    #: The password was right but the hash is a legacy scheme or has outdated Argon2
    #: parameters: store :meth:`PasswordHasher.hash` of it now.
    needs_rehash: bool = False


class PasswordHasher:
    """Hashes with Argon2id and verifies Argon2, bcrypt and PHPass hashes.

    The defaults are argon2-cffi's (RFC 9106 "low memory": t=3, m=64 MiB, p=4). Tests
    may pass cheaper parameters; hashes record their parameters, so changing them
    later re-hashes each customer at their next sign-in.
    """

    def __init__(
        self, *, time_cost: int | None = None, memory_cost_kib: int | None = None, parallelism: int | None = None
    ) -> None:
        kwargs = {
            k: v
            for k, v in (("time_cost", time_cost), ("memory_cost", memory_cost_kib), ("parallelism", parallelism))
            if v is not None
        }
        self._argon2 = _Argon2(**kwargs)  # type: ignore[arg-type]
        # A real hash to verify against when the account does not exist, so a wrong email
        # costs as much time as a wrong password (no account enumeration by timing).
        self._dummy = self._argon2.hash("rcommerce-no-such-account")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify(self, stored: str | None, password: str) -> Verification:
        """Check ``password``; a missing or unknown hash never matches (but still costs
        one Argon2 verification)."""
        if not stored:
            self._burn(password)
            return Verification(False)
        if stored.startswith("$argon2"):
            try:
                self._argon2.verify(stored, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return Verification(False)
            return Verification(True, self._argon2.check_needs_rehash(stored))
        if _is_bcrypt(stored):
            try:
                ok = bcrypt.checkpw(password.encode()[:72], stored.replace("$2y$", "$2b$", 1).encode())
            except ValueError:
                ok = False
            return Verification(ok, ok)
        if stored.startswith(("$P$", "$H$")):
            ok = phpass_verify(password, stored)
            return Verification(ok, ok)
        self._burn(password)
        return Verification(False)

    def _burn(self, password: str) -> None:
        with contextlib.suppress(VerificationError):
            self._argon2.verify(self._dummy, password)

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, stored: str | None, password: str) -> Verification:
        return await asyncio.to_thread(self.verify, stored, password)
