"""Conversions between aware datetimes and ``google.protobuf.Timestamp``."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """``None`` stays ``None`` (an unset message field); otherwise the same instant."""
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
