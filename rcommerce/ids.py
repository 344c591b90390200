"""Prefixed, time-sortable, opaque ids (DECISIONS 6): ``prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N``.

The part after the prefix is a ULID: 48 bits of milliseconds since the epoch and 80
random bits in Crockford base32, so ids sort by creation time and never collide in
practice. Clients must treat them as opaque strings.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Every 10-bit value as its two digits: 13 look-ups spell the 26 digits of an id.
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)
_SHIFTS = tuple(range(120, -1, -10))
_ID = re.compile(r"^([a-z]{2,5})_([0-9A-HJKMNP-TV-Z]{26})$")


def new_id(prefix: str, at: datetime) -> str:
    """A new id with ``prefix`` (``"prod"``, ``"var"``, ...) created at ``at``."""
    value = (int(at.timestamp() * 1000) << 80) | secrets.randbits(80)
    return f"{prefix}_{''.join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])}"


def id_prefix(value: str) -> str | None:
    """The prefix of a well-formed id, or ``None`` when ``value`` is not one."""
    match = _ID.match(value)
    return match.group(1) if match else None
