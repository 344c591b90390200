"""REST-only behaviour of the bridge: raw HTTP in, the documented error shape out."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from rcommerce.testing.server import LiveServer


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"authorization": f"Bearer {server.admin_key}"}
    ) as client:
        yield client


def _reason(response: httpx.Response) -> str:
    details = response.json()["error"]["details"]
    return next(d["reason"] for d in details if d["@type"].endswith("ErrorInfo"))


async def test_every_response_has_a_request_id(http: httpx.AsyncClient) -> None:
    ok = await http.get("/v1/ping")
    missing = await http.get("/v1/nowhere")
    assert ok.headers["x-request-id"].startswith("req_")
    assert missing.headers["x-request-id"].startswith("req_")
    echoed = await http.get("/v1/ping", headers={"x-request-id": "client-abc-123"})
    assert echoed.headers["x-request-id"] == "client-abc-123"


async def test_error_shape_is_google_json(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/apiKeys/key_01JA9ZQ3K8M0Q4XH7D2V5C6B8N")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert error["details"][0] == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_NOT_FOUND",
        "domain": "rcommerce",
        "metadata": {"name": "apiKeys/key_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"},
    }


async def test_unknown_route_and_wrong_method(http: httpx.AsyncClient) -> None:
    missing = await http.get("/v1/nowhere")
    assert (missing.status_code, _reason(missing)) == (404, "ROUTE_NOT_FOUND")
    wrong = await http.put("/v1/ping")
    assert (wrong.status_code, _reason(wrong)) == (405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["allow"] == "GET"


async def test_malformed_json_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/apiKeys", content=b'{"displayName": ', headers={"content-type": "application/json"})
    assert (response.status_code, _reason(response)) == (400, "MALFORMED_REQUEST")


async def test_unknown_enum_name_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/apiKeys", json={"displayName": "x", "kind": "API_KEY_KIND_ROOT"})
    assert (response.status_code, _reason(response)) == (400, "MALFORMED_REQUEST")


async def test_body_on_get_is_refused(http: httpx.AsyncClient) -> None:
    response = await http.request(
        "GET", "/v1/apiKeys", content=b'{"pageSize": 5}', headers={"content-type": "application/json"}
    )
    assert (response.status_code, _reason(response)) == (400, "BODY_NOT_ALLOWED")


async def test_ten_megabyte_body_is_refused(http: httpx.AsyncClient, server: LiveServer) -> None:
    before = await server.app.services.api_keys.list(0, 100, True)
    body = b'{"displayName":"' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = await http.post("/v1/apiKeys", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, _reason(response)) == (413, "REQUEST_TOO_LARGE")
    after = await server.app.services.api_keys.list(0, 100, True)
    assert len(after[0]) == len(before[0])


async def test_wrong_content_type_is_415(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/apiKeys", content=b"displayName=x", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert (response.status_code, _reason(response)) == (415, "UNSUPPORTED_MEDIA_TYPE")


async def test_json_names_and_proto_names_both_accepted(http: httpx.AsyncClient) -> None:
    camel = await http.post(
        "/v1/apiKeys", json={"displayName": "camel", "kind": "API_KEY_KIND_SECRET", "scopes": ["read"]}
    )
    snake = await http.post(
        "/v1/apiKeys", json={"display_name": "snake", "kind": "API_KEY_KIND_SECRET", "scopes": ["read"]}
    )
    assert camel.status_code == snake.status_code == 200
    assert camel.json()["apiKey"]["displayName"] == "camel"
    assert snake.json()["apiKey"]["displayName"] == "snake"


async def test_query_parameters_parse_by_type(http: httpx.AsyncClient) -> None:
    ok = await http.get("/v1/apiKeys", params={"pageSize": "2", "showInactive": "true", "unknownParam": "x"})
    assert ok.status_code == 200
    bad = await http.get("/v1/apiKeys", params={"pageSize": "abc"})
    assert (bad.status_code, _reason(bad)) == (400, "MALFORMED_REQUEST")


async def test_operational_endpoints(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        await anonymous.get("/v1/ping")
        metrics = await anonymous.get("/metrics")
        assert 'rcommerce_requests_total{code="OK",method="Ping",transport="rest"}' in metrics.text
        openapi = await anonymous.get("/openapi.json")
        assert openapi.json()["openapi"].startswith("3.1")


async def test_additional_binding_lists_a_collection(http: httpx.AsyncClient) -> None:
    collection = (await http.post("/v1/collections", json={"title": "Binding test"})).json()
    product = (await http.post("/v1/products", json={"title": "Bound", "status": "PRODUCT_STATUS_ACTIVE"})).json()
    added = await http.post(f"/v1/{collection['name']}:addProducts", json={"products": [product["name"]]})
    assert added.status_code == 200 and added.json()["productCount"] == 1
    listed = await http.get(f"/v1/{collection['name']}/products")
    assert [p["name"] for p in listed.json()["products"]] == [product["name"]]


async def test_money_is_minor_units_as_a_string(http: httpx.AsyncClient) -> None:
    body = {"title": "Yen", "variants": [{"prices": [{"currencyCode": "JPY", "amount": "500"}]}]}
    created = await http.post("/v1/products", json=body)
    assert created.json()["variants"][0]["prices"] == [{"currencyCode": "JPY", "amount": "500"}]


async def test_access_log_has_one_structured_line_per_request(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, server: LiveServer
) -> None:
    import logging

    server.app.pipeline._access_log = True
    try:
        with caplog.at_level(logging.INFO, logger="rcommerce.access"):
            response = await http.get("/v1/ping", headers={"x-request-id": "log-check-1"})
    finally:
        server.app.pipeline._access_log = False
    assert response.status_code == 200
    lines = [
        r for r in caplog.records if r.name == "rcommerce.access" and getattr(r, "request_id", "") == "log-check-1"
    ]
    assert len(lines) == 1
    record = lines[0]
    assert (record.transport, record.method, record.code) == ("rest", "/rcommerce.v1.MetaService/Ping", "OK")  # type: ignore[attr-defined]
    assert record.latency_ms >= 0  # type: ignore[attr-defined]
    assert server.admin_key not in caplog.text


async def test_grpc_message_over_the_limit_is_resource_exhausted(server: LiveServer) -> None:
    from rcommerce.gen.v1 import admin_pb2
    from rcommerce.testing.client import ApiError

    client = server.grpc_client(server.admin_key)
    try:
        with pytest.raises(ApiError) as err:
            await client.call(
                "CreateApiKey",
                admin_pb2.CreateApiKeyRequest(api_key=admin_pb2.ApiKey(display_name="x" * (10 * 1024 * 1024))),
            )
        assert err.value.status == "RESOURCE_EXHAUSTED"
    finally:
        await client.close()
