"""A database of its own for the tax tests (backend and API).

Tax zones are global: every zone containing a destination contributes its rates, so zones
left by other tests in a shared database would stack onto these tests' figures. The tax
tests run on a private database per backend and empty the tax tables before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import delete, make_url

from rcommerce.db import Database
from rcommerce.domain.tax.models import (
    TaxCategoryRow,
    TaxExemptionRow,
    TaxRateRow,
    TaxTransactionRow,
    TaxZoneRow,
    VatValidationRow,
)
from tests.conftest import database_url, fresh_database


@asynccontextmanager
async def tax_database(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A migrated, empty database beside the session's test database."""
    url = database_url(database_name, tmp_path_factory.mktemp(f"tax-{database_name}"))
    if database_name != "sqlite":
        base = make_url(url)
        name = f"{base.database}_tax"
        url = base.set(database=name).render_as_string(hide_password=False)
    database = await fresh_database(url)
    try:
        yield database
    finally:
        await database.dispose()


async def empty_tax_tables(db: Database) -> None:
    async with db.transaction() as s:
        for table in (TaxTransactionRow, VatValidationRow, TaxExemptionRow, TaxRateRow, TaxCategoryRow, TaxZoneRow):
            await s.execute(delete(table))
