"""Catalog caching across processes with Redis, and Redis outages never taking the API down.

Needs RCOMMERCE_TEST_REDIS_URL (CI sets it); when set, an unreachable Redis fails."""

from __future__ import annotations

import os
import uuid

import pytest
from google.protobuf import field_mask_pb2

from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1.common_pb2 import Money
from rcommerce.testing.server import live_server

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="RCOMMERCE_TEST_REDIS_URL is not set")


def _product() -> C.Product:
    tag = uuid.uuid4().hex[:8]
    return C.Product(
        title=f"Cached {tag}",
        status=C.PRODUCT_STATUS_ACTIVE,
        variants=[C.Variant(sku=f"CACHE-{tag}", prices=[Money(currency_code="USD", amount=100)])],
    )


async def test_a_write_on_one_process_invalidates_reads_on_another(db: Database) -> None:
    async with (
        live_server(db.settings.url, cache={"url": REDIS_URL}) as a,
        live_server(db.settings.url, cache={"url": REDIS_URL}) as b,
    ):
        writer, reader = a.grpc_client(a.admin_key), b.rest_client(b.admin_key)
        created = await writer.call("CreateProduct", C.CreateProductRequest(product=_product()))
        first = await reader.call("GetProduct", C.GetProductRequest(name=created.name))
        assert first.title == created.title
        await reader.call("ListProducts", C.ListProductsRequest(query=created.title))
        patch = C.Product(name=created.name, title=created.title + " v2")
        await writer.call(
            "UpdateProduct",
            C.UpdateProductRequest(product=patch, update_mask=field_mask_pb2.FieldMask(paths=["title"])),
        )
        assert (await reader.call("GetProduct", C.GetProductRequest(name=created.name))).title == created.title + " v2"
        listed = await reader.call("ListProducts", C.ListProductsRequest(query=created.title))
        assert [p.title for p in listed.products] == [created.title + " v2"]
        await writer.close()
        await reader.close()


async def test_redis_down_degrades_to_memory_without_an_outage(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    async with live_server(db.settings.url, cache={"url": "redis://127.0.0.1:1/0", "redis_retry_s": 60}) as server:
        client = server.rest_client(server.admin_key)
        created = await client.call("CreateProduct", C.CreateProductRequest(product=_product()))
        assert (await client.call("GetProduct", C.GetProductRequest(name=created.name))).name == created.name
        assert (await client.call("GetProduct", C.GetProductRequest(name=created.name))).name == created.name
        await client.close()
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1
