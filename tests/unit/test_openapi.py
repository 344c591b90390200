"""The generated OpenAPI document: valid 3.1, complete, consistent with the route table,
and committed up to date in docs/openapi.json."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from openapi_spec_validator import validate

from rcommerce import errors
from rcommerce.api.methods import method_table
from rcommerce.api.rest import openapi
from rcommerce.api.rest.routes import RouteTable
from rcommerce.codegen import comments
from rcommerce.gen.v1 import catalog_pb2, common_pb2

_VERBS = {"get", "post", "patch", "put", "delete"}


@pytest.fixture(scope="module")
def routes() -> RouteTable:
    return RouteTable(method_table())


@pytest.fixture(scope="module")
def doc(routes: RouteTable) -> dict[str, Any]:
    return openapi.build_openapi(routes, version="0.1.0", server_url="https://shop.example.com")


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for verb, op in item.items():
            if verb in _VERBS:
                yield path, verb, op


def _rpc_operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [o for o in _operations(doc) if "x-rcommerce-rpc" in o[2]]


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_valid_openapi_31(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    assert doc["servers"] == [{"url": "https://shop.example.com"}]
    validate(doc)


def test_deterministic(routes: RouteTable, doc: dict[str, Any]) -> None:
    again = openapi.build_openapi(routes, version="0.1.0", server_url="https://shop.example.com")
    assert openapi.render(again) == openapi.render(doc)


def test_every_route_is_an_operation(routes: RouteTable, doc: dict[str, Any]) -> None:
    by_template = {op["x-rcommerce-template"] + " " + verb.upper(): op for _, verb, op in _rpc_operations(doc)}
    for route in routes.routes:
        assert f"{route.template} {route.verb}" in by_template, route.template
    assert len(by_template) == len(routes.routes)
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert "CatalogService_ListProducts" in ids and "CatalogService_ListProducts_2" in ids


def test_operations_use_proto_comments_and_tags(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/v1/products/{product}"]["get"]
    assert op["summary"] == "Returns a product"
    assert "Publishable keys see active products only." in op["description"]
    assert op["tags"] == ["CatalogService"]
    assert {t["name"] for t in doc["tags"]} >= {"CatalogService", "ApiKeyService", "MetaService"}
    product = doc["components"]["schemas"]["rcommerce.v1.Product"]
    assert "Shown to shoppers" in product["properties"]["title"]["description"]
    assert product["properties"]["createTime"]["readOnly"] is True
    status = doc["components"]["schemas"]["rcommerce.v1.ProductStatus"]
    assert "PRODUCT_STATUS_ACTIVE" in status["enum"]
    assert "visible to storefronts" in status["description"]


def test_path_parameters_match_templates(doc: dict[str, Any]) -> None:
    for path, _, op in _rpc_operations(doc):
        names = re.findall(r"\{([^}]+)\}", path)
        params = [p for p in op["parameters"] if p["in"] == "path"]
        assert [p["name"] for p in params] == names, path
        assert all(p["required"] and p["x-rcommerce-field"] and p["x-rcommerce-pattern"] for p in params)
    variant = doc["paths"]["/v1/products/{product}/variants/{variant}"]["patch"]
    fields = {p["x-rcommerce-field"] for p in variant["parameters"] if p["in"] == "path"}
    assert fields == {"variant.name"}
    assert "/v1/products/{product}:archive" in doc["paths"]
    assert "/v1/collections/{collection}/products" in doc["paths"]


def test_query_parameters_follow_body_rules(doc: dict[str, Any]) -> None:
    listing = doc["paths"]["/v1/products"]["get"]
    query = {p["name"]: p for p in listing["parameters"] if p["in"] == "query"}
    assert {"pageSize", "pageToken", "status", "minPrice", "orderBy"} <= set(query)
    assert query["pageSize"]["schema"] == {"type": "integer", "format": "int32"}
    assert query["minPrice"]["schema"]["type"] == "string"
    assert query["status"]["schema"] == {"$ref": "#/components/schemas/rcommerce.v1.ProductStatus"}
    by_collection = doc["paths"]["/v1/collections/{collection}/products"]["get"]
    assert "collection" not in {p["name"] for p in by_collection["parameters"] if p["in"] == "query"}
    # body "*": no query parameters; body "field": the rest are query parameters.
    revoke = doc["paths"]["/v1/apiKeys/{apiKey}:revoke"]["post"]
    assert [p for p in revoke["parameters"] if p["in"] == "query"] == []
    assert set(revoke["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {"reason"}
    create = doc["paths"]["/v1/products"]["post"]
    assert [p["name"] for p in create["parameters"] if p["in"] == "query"] == ["requestId"]
    body = create["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"] == "#/components/schemas/rcommerce.v1.Product"
    assert isinstance(body["example"], dict) and "title" in body["example"]
    add = doc["paths"]["/v1/collections/{collection}:addProducts"]["post"]
    schema = add["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["products"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": comments()["rcommerce.v1.AddCollectionProductsRequest.products"],
    }


def test_patch_operations_document_the_mask(doc: dict[str, Any]) -> None:
    patches = [(path, op) for path, verb, op in _rpc_operations(doc) if verb == "patch"]
    from rcommerce.api.methods import method_table

    patch_bindings = [b for m in method_table().values() for b in m.bindings if b.verb == "PATCH"]
    assert len(patches) == len(patch_bindings) > 0
    for path, op in patches:
        assert op["x-rcommerce-update-mask"] == "updateMask", path
        mask = next(p for p in op["parameters"] if p["name"] == "updateMask")
        assert mask["in"] == "query"
        assert mask["schema"] == {"$ref": "#/components/schemas/google.protobuf.FieldMask"}
        assert "top-level keys of the JSON body" in mask["description"]
        assert "Partial update" in op["description"]
    assert doc["components"]["schemas"]["google.protobuf.FieldMask"]["type"] == "string"


def test_security_follows_auth_rules(doc: dict[str, Any]) -> None:
    table = method_table()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["secretKey"] == {**schemes["secretKey"], "type": "http", "scheme": "bearer"}
    assert schemes["publishableKeyHeader"]["name"] == "X-Publishable-Api-Key"
    for _, _, op in _rpc_operations(doc):
        auth = table[op["x-rcommerce-rpc"]].auth
        security = op["security"]
        names = {name for requirement in security for name in requirement}
        assert op["x-rcommerce-scope"] == auth.scope
        assert ({} in security) == auth.allow_anonymous
        assert ("publishableKey" in names) == auth.allow_publishable
        assert ("publishableKeyHeader" in names) == auth.allow_publishable
        assert ("customerAccessToken" in names) == auth.allow_customer
        assert "secretKey" in names
        if auth.scope:
            assert {"secretKey": [auth.scope]} in security
            assert f"`{auth.scope}`" in op["description"]
    create = doc["paths"]["/v1/apiKeys"]["post"]
    assert create["security"] == [{"secretKey": ["api_keys:admin"]}]


def test_every_rpc_has_error_responses_with_reasons(doc: dict[str, Any]) -> None:
    catalogue = {r.name: r for r in errors.catalogue()}
    table = method_table()
    for path, _verb, op in _rpc_operations(doc):
        statuses = {int(s) for s in op["responses"] if s != "200"}
        assert {400, 401, 500, 503} <= statuses, path
        auth = table[op["x-rcommerce-rpc"]].auth
        assert (403 in statuses) == (not auth.allow_anonymous), path
        if "requestBody" in op:
            assert {413, 415} <= statuses, path
        for status in statuses:
            response = op["responses"][str(status)]
            reasons = response["x-rcommerce-reasons"]
            assert reasons, (path, status)
            for name in reasons:
                assert catalogue[name].http_status == status
                assert f"`{name}`" in response["description"]
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/Error"}
            example = _resolve(doc, media["examples"][reasons[0]]["$ref"])["value"]["error"]
            assert example["code"] == status
            assert example["details"][0]["reason"] == reasons[0]
            assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}
    get_key = doc["paths"]["/v1/apiKeys/{apiKey}"]["get"]
    assert get_key["responses"]["404"]["x-rcommerce-reasons"] == ["API_KEY_NOT_FOUND"]
    assert "ETAG_MISMATCH" in doc["paths"]["/v1/products/{product}"]["patch"]["responses"]["409"]["x-rcommerce-reasons"]
    assert set(doc["components"]["examples"]) == set(catalogue)
    responses = doc["components"]["responses"]
    assert responses["NotFound"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_no_dangling_refs(doc: dict[str, Any]) -> None:
    refs = set(_refs(doc))
    assert refs
    for ref in refs:
        _resolve(doc, ref)


def test_int64_fields_are_strings(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    int64 = {FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64}
    checked = 0
    for message in (common_pb2.Money, common_pb2.Dimensions, catalog_pb2.Variant):
        descriptor = message.DESCRIPTOR
        for field in descriptor.fields:
            if field.type in int64:
                prop = schemas[descriptor.full_name]["properties"][field.json_name]
                assert prop["type"] == "string" and prop["format"] == "int64", field.full_name
                checked += 1
    assert checked >= 5
    money = openapi.example_message(common_pb2.Money.DESCRIPTOR, comments())
    assert money == {"currencyCode": "EUR", "amount": "1000"}


def test_well_known_types(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["google.protobuf.Timestamp"]["format"] == "date-time"
    assert schemas["google.protobuf.Struct"]["type"] == "object"
    assert schemas["google.protobuf.Empty"]["type"] == "object"
    options = schemas["rcommerce.v1.Variant"]["properties"]["optionValues"]
    assert options["type"] == "object" and options["additionalProperties"] == {"type": "string"}


def test_server_endpoints(doc: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        op = doc["paths"][path]["get"]
        assert op["security"] == [{}]
        assert "X-Request-Id" in op["responses"]["200"]["headers"]
    assert "text/plain; version=0.0.4" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


def test_committed_document_is_current() -> None:
    committed = openapi.DOCS_PATH.read_text(encoding="utf-8") if openapi.DOCS_PATH.exists() else ""
    fresh = openapi.render(openapi.default_document())
    assert committed == fresh, "docs/openapi.json is stale; run `python -m rcommerce.api.rest.openapi`"
    json.loads(committed)


def test_descriptor_set_carries_comments() -> None:
    docs = comments()
    assert docs["rcommerce.v1.CatalogService"].startswith("The catalog")
    assert (
        docs["rcommerce.v1.CatalogService.GetProduct"]
        == "Returns a product. Publishable keys see active products only."
    )
    assert docs["rcommerce.v1.Money.amount"].startswith("Amount in the currency's minor units")
    assert docs["rcommerce.v1.ProductKind.PRODUCT_KIND_DIGITAL"] == "Downloads and licences; never shipped."
