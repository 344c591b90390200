"""A database of its own for the dispatcher and delivery tests.

A live server in the same test session (tests/api) runs its own dispatcher and worker
against the shared ``db``: it would consume these tests' events and claim their
delivery jobs. A second database per backend keeps them apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import make_url

from rcommerce.db import Database
from tests.conftest import database_url, fresh_database


@asynccontextmanager
async def isolated_database(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A migrated, empty database beside the session's test database."""
    url = database_url(database_name, tmp_path_factory.mktemp(f"events-{database_name}"))
    if database_name != "sqlite":
        base = make_url(url)
        name = f"{base.database}_events"
        url = base.set(database=name).render_as_string(hide_password=False)
    database = await fresh_database(url)
    try:
        yield database
    finally:
        await database.dispose()
