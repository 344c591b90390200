"""Update masks (AIP-134) resolved the same way by every Update RPC."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from rcommerce.errors import INVALID_FIELD_MASK, FieldViolation, RequestError, invalid

__all__ = ["populated", "resolve_mask"]


def populated(message: Message, path: str) -> bool:
    """Whether ``message`` sets the top-level field ``path``: ListFields holds exactly the
    non-default scalars, non-empty lists and maps, and set messages or optionals."""
    return any(descriptor.name == path for descriptor, _ in message.ListFields())


def resolve_mask(
    mask: FieldMask, message: Message, allowed: Sequence[str], field: str = "update_mask", *, require_some: bool = False
) -> list[str]:
    """The paths to update: ``"*"`` is every allowed path, an empty mask the populated
    fields of ``message`` (the REST bridge fills the mask from the body's keys for PATCH);
    an unknown path raises INVALID_FIELD_MASK. ``require_some`` refuses an update that
    would change nothing."""
    paths = list(mask.paths)
    if paths == ["*"]:
        return list(allowed)
    if not paths:
        paths = [p for p in allowed if populated(message, p)]
        if require_some and not paths:
            raise invalid(field, f"name at least one of {', '.join(allowed)}")
        return paths
    unknown = [p for p in paths if p not in allowed]
    if unknown:
        raise RequestError(
            INVALID_FIELD_MASK,
            f"{field} names {', '.join(unknown)}, which cannot be updated; use any of {', '.join(allowed)} or '*'.",
            violations=[FieldViolation(field, f"unknown path {p!r}") for p in unknown],
            field=field,
            paths=",".join(unknown),
        )
    return list(dict.fromkeys(paths))
