"""The ``local`` storage backend: files under one directory.

Keys are relative "/"-separated paths; anything that would resolve outside the root
(``..``, absolute paths, backslashes, NUL) is refused with ``ValueError`` before any I/O.
File operations run in a thread so the event loop never blocks (house rule 16).
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from rcommerce.plugins.providers import StoredObject

__all__ = ["LocalStorage"]


class LocalStorage:
    """Stores objects as files below ``root``; ``url`` is ``base_url`` + the key."""

    code = "local"
    display_name = "Local directory"

    def __init__(self, root: str | Path, *, base_url: str = "/media/") -> None:
        self.root = Path(root)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"

    @staticmethod
    def _check(key: str) -> PurePosixPath:
        """Lexical check, no I/O."""
        pure = PurePosixPath(key)
        if (
            not key
            or "\\" in key
            or "\0" in key
            or pure.is_absolute()
            or any(part in ("..", "") for part in key.split("/"))
        ):
            raise ValueError(f"invalid storage key {key!r}: use a relative path without '..'")
        return pure

    def _path(self, key: str) -> Path:
        """The file for ``key``; touches the file system, so call it in a thread."""
        pure = self._check(key)
        root = self.root.resolve()
        path = (root / pure).resolve()
        if not path.is_relative_to(root):  # a symlink inside the root pointing out of it
            raise ValueError(f"invalid storage key {key!r}: resolves outside the storage root")
        return path

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject:
        self._check(key)

        def write() -> None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)

        await asyncio.to_thread(write)
        return StoredObject(key=key, size_bytes=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        self._check(key)
        try:
            return await asyncio.to_thread(lambda: self._path(key).read_bytes())
        except FileNotFoundError:
            raise KeyError(key) from None

    async def delete(self, key: str) -> None:
        self._check(key)
        await asyncio.to_thread(lambda: self._path(key).unlink(missing_ok=True))

    def url(self, key: str) -> str:
        self._check(key)
        return self.base_url + quote(key)
