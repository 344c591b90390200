"""Authentication, scopes, API keys and the generic request handling, on both transports."""

from __future__ import annotations

import pytest
from google.protobuf import empty_pb2

from rcommerce.gen.v1 import admin_pb2, catalog_pb2
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer


async def test_ping_needs_no_credentials(client: ApiClient) -> None:
    anonymous = client.with_token(None)
    response = await anonymous.call("Ping", admin_pb2.PingRequest(message="hello"))
    assert response.message == "hello"


async def test_caller_describes_the_key(client: ApiClient) -> None:
    caller = await client.call("GetCaller", empty_pb2.Empty())
    assert caller.kind == "secret_key"
    assert caller.principal.startswith("apiKeys/key_")
    assert list(caller.scopes) == ["admin"]


async def test_missing_credentials_are_unauthenticated(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.with_token(None).call("ListApiKeys", admin_pb2.ListApiKeysRequest())
    assert (err.value.status, err.value.reason) == ("UNAUTHENTICATED", "MISSING_CREDENTIALS")
    if client.transport == "rest":
        assert err.value.http_status == 401


async def test_unknown_key_is_unauthenticated(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.with_token("sk_" + "x" * 32).call("Ping", admin_pb2.PingRequest())
    assert (err.value.status, err.value.reason) == ("UNAUTHENTICATED", "INVALID_API_KEY")


async def test_garbage_token_is_unauthenticated(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.with_token("not-a-key").call("Ping", admin_pb2.PingRequest())
    assert err.value.status == "UNAUTHENTICATED"


async def test_insufficient_scope_is_permission_denied(client: ApiClient, server: LiveServer) -> None:
    reader = client.with_token(await server.create_key(["products:read"]))
    with pytest.raises(ApiError) as err:
        await reader.call("CreateProduct", catalog_pb2.CreateProductRequest(product=catalog_pb2.Product(title="Nope")))
    assert (err.value.status, err.value.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS")
    assert err.value.metadata == {"method": "CreateProduct", "requiredScope": "products:write"}
    if client.transport == "rest":
        assert err.value.http_status == 403


async def test_resource_admin_is_not_global_admin(client: ApiClient, server: LiveServer) -> None:
    products_admin = client.with_token(await server.create_key(["products:admin"]))
    with pytest.raises(ApiError) as err:
        await products_admin.call("ListApiKeys", admin_pb2.ListApiKeysRequest())
    assert err.value.reason == "INSUFFICIENT_PERMISSIONS"


async def test_publishable_key_cannot_call_admin_rpcs(client: ApiClient, server: LiveServer) -> None:
    storefront = client.with_token(await server.create_key([], kind="publishable"))
    with pytest.raises(ApiError) as err:
        await storefront.call("ListApiKeys", admin_pb2.ListApiKeysRequest())
    assert (err.value.status, err.value.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS")


async def test_create_list_revoke_api_key(client: ApiClient) -> None:
    created = await client.call(
        "CreateApiKey",
        admin_pb2.CreateApiKeyRequest(
            api_key=admin_pb2.ApiKey(
                display_name="ERP sync", kind=admin_pb2.API_KEY_KIND_SECRET, scopes=["products:write", "orders:read"]
            )
        ),
    )
    assert created.key.startswith("sk_") and len(created.key) == 35
    assert created.api_key.prefix == created.key[:12]
    assert list(created.api_key.scopes) == ["orders:read", "products:write"]
    erp = client.with_token(created.key)
    assert (await erp.call("GetCaller", empty_pb2.Empty())).principal == created.api_key.name

    listed = await client.call("ListApiKeys", admin_pb2.ListApiKeysRequest(page_size=100))
    assert created.api_key.name in [k.name for k in listed.api_keys]
    assert all(not k.HasField("revoke_time") for k in listed.api_keys)

    revoked = await client.call(
        "RevokeApiKey", admin_pb2.RevokeApiKeyRequest(name=created.api_key.name, reason="rotated")
    )
    assert revoked.HasField("revoke_time") and revoked.revoke_reason == "rotated"
    with pytest.raises(ApiError) as err:
        await erp.call("GetCaller", empty_pb2.Empty())
    assert (err.value.status, err.value.reason) == ("UNAUTHENTICATED", "API_KEY_REVOKED")


async def test_invalid_scopes_are_refused(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call(
            "CreateApiKey",
            admin_pb2.CreateApiKeyRequest(
                api_key=admin_pb2.ApiKey(
                    display_name="x", kind=admin_pb2.API_KEY_KIND_SECRET, scopes=["bogus:read", "products:execute"]
                )
            ),
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")
    assert err.value.field_violations == ["api_key.scopes[0]", "api_key.scopes[1]"]


async def test_publishable_key_with_admin_scope_is_refused(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call(
            "CreateApiKey",
            admin_pb2.CreateApiKeyRequest(
                api_key=admin_pb2.ApiKey(
                    display_name="x", kind=admin_pb2.API_KEY_KIND_PUBLISHABLE, scopes=["orders:read"]
                )
            ),
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_SCOPE")


async def test_get_api_key_of_wrong_kind_is_invalid_name(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("GetApiKey", admin_pb2.GetApiKeyRequest(name="apiKeys/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_RESOURCE_NAME")


async def test_negative_page_size_is_invalid(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("ListApiKeys", admin_pb2.ListApiKeysRequest(page_size=-1))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_SIZE")


async def test_forged_page_token_is_invalid(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("ListApiKeys", admin_pb2.ListApiKeysRequest(page_token="b2Zmc2V0PTEw"))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_TOKEN")


async def test_unknown_enum_number_is_refused(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call(
            "CreateApiKey", admin_pb2.CreateApiKeyRequest(api_key=admin_pb2.ApiKey(display_name="x", kind=7))
        )
    assert err.value.status == "INVALID_ARGUMENT"
