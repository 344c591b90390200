"""Promotions through the public API, each test on gRPC and on REST."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer

PRODUCT = "products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"


def code(prefix: str = "API") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}".upper()


async def error_of(client: ApiClient, method: str, request: object) -> ApiError:
    with pytest.raises(ApiError) as err:
        await client.call(method, request)
    return err.value


async def test_promotion_crud(client: ApiClient) -> None:
    c = code()
    created = await client.call(
        "CreatePromotion",
        P.CreatePromotionRequest(
            promotion=P.Promotion(
                code=c.lower(), title="Ten", type=P.PROMOTION_TYPE_PERCENTAGE, percent="10",
                currencies=[P.PromotionCurrency(currency_code="USD", max_discount=5000)],
            )
        ),
    )  # fmt: skip
    assert created.code == c and created.id.startswith("promo_") and created.etag == "1"
    assert await client.call("GetPromotion", P.GetPromotionRequest(name=created.name)) == created
    assert await client.call("LookupPromotion", P.LookupPromotionRequest(code=c.lower())) == created
    listed = await client.call("ListPromotions", P.ListPromotionsRequest(code_contains=c))
    assert [p.name for p in listed.promotions] == [created.name]
    updated = await client.call(
        "UpdatePromotion",
        P.UpdatePromotionRequest(
            promotion=P.Promotion(name=created.name, title="Eleven", percent="11"),
            update_mask=FieldMask(paths=["title", "percent"]),
        ),
    )
    assert (updated.title, updated.percent, updated.etag) == ("Eleven", "11", "2")
    archived = await client.call("ArchivePromotion", P.ArchivePromotionRequest(name=created.name))
    assert archived.status == P.PROMOTION_STATUS_ARCHIVED
    usage = await client.call("GetPromotionUsage", P.GetPromotionUsageRequest(name=created.name))
    assert usage.name == f"{created.name}/usage" and usage.usage_count == 0 and not usage.HasField("usage_limit")
    await client.call("DeletePromotion", P.DeletePromotionRequest(name=created.name))
    gone = await error_of(client, "GetPromotion", P.GetPromotionRequest(name=created.name))
    assert (gone.reason, gone.status) == ("PROMOTION_NOT_FOUND", "NOT_FOUND")


async def test_errors_are_typed(client: ApiClient) -> None:
    c = code()
    await client.call(
        "CreatePromotion",
        P.CreatePromotionRequest(promotion=P.Promotion(code=c, title="Free", type=P.PROMOTION_TYPE_FREE_SHIPPING)),
    )
    taken = await error_of(
        client,
        "CreatePromotion",
        P.CreatePromotionRequest(
            promotion=P.Promotion(code=c.lower(), title="Again", type=P.PROMOTION_TYPE_FREE_SHIPPING)
        ),
    )
    assert (taken.reason, taken.status) == ("COUPON_CODE_EXISTS", "ALREADY_EXISTS")
    assert taken.http_status in (None, 409)
    invalid = await error_of(
        client,
        "CreatePromotion",
        P.CreatePromotionRequest(promotion=P.Promotion(title="x", type=P.PROMOTION_TYPE_FIXED_AMOUNT)),
    )
    assert (invalid.reason, invalid.status) == ("VALIDATION_FAILED", "INVALID_ARGUMENT")
    assert invalid.http_status in (None, 400)
    missing = await error_of(client, "LookupPromotion", P.LookupPromotionRequest(code="NOPE" + c))
    assert (missing.reason, missing.http_status in (None, 404)) == ("COUPON_NOT_FOUND", True)
    name = await error_of(client, "GetPromotion", P.GetPromotionRequest(name="promotions/nope"))
    assert name.reason == "INVALID_RESOURCE_NAME"


async def test_validate_coupon_from_a_storefront(client: ApiClient, server: LiveServer) -> None:
    c, minimum = code(), code("MIN")
    await client.call(
        "CreatePromotion",
        P.CreatePromotionRequest(
            promotion=P.Promotion(code=c, title="Summer 20", type=P.PROMOTION_TYPE_PERCENTAGE, percent="20")
        ),
    )
    await client.call(
        "CreatePromotion",
        P.CreatePromotionRequest(
            promotion=P.Promotion(
                code=minimum, title="Min 50", type=P.PROMOTION_TYPE_FIXED_AMOUNT,
                currencies=[P.PromotionCurrency(currency_code="USD", amount=1000, minimum_subtotal=5000)],
            )
        ),
    )  # fmt: skip
    storefront = client.with_token(await server.create_key([], kind="publishable"))
    lines = [P.CouponLine(line_id="l1", product=PRODUCT, quantity=1, unit_price=15000)]
    ok = await storefront.call(
        "ValidateCoupon", P.ValidateCouponRequest(code=c.lower(), currency_code="USD", lines=lines)
    )
    assert ok.valid and ok.code == c
    # Ex3 j: 30.00 off 150.00 leaves 120.00. (The shared database may hold other tests'
    # automatic promotions, so the code's own discount is what is asserted.)
    assert (ok.original_amount.amount, ok.code_discount_amount.amount) == (15000, 3000)
    assert ok.final_amount.amount == ok.original_amount.amount - ok.discount_amount.amount
    small = [P.CouponLine(product=PRODUCT, quantity=1, unit_price=3500)]
    refused = await storefront.call(
        "ValidateCoupon", P.ValidateCouponRequest(code=minimum, currency_code="USD", lines=small)
    )
    assert (refused.valid, refused.reason) == (False, "COUPON_MINIMUM_NOT_MET")  # Ex3 g
    assert (refused.metadata["minimumRequired"], refused.metadata["currentAmount"]) == ("5000", "3500")
    combined = await storefront.call(
        "ValidateCoupon", P.ValidateCouponRequest(code=minimum, currency_code="USD", lines=lines, applied_codes=[c])
    )
    assert (combined.valid, combined.reason) == (False, "COUPON_CANNOT_COMBINE")
    twice = await storefront.call(
        "ValidateCoupon", P.ValidateCouponRequest(code=c, currency_code="USD", lines=lines, applied_codes=[c.lower()])
    )
    assert (twice.valid, twice.reason) == (False, "COUPON_ALREADY_APPLIED")
    bad = await error_of(
        storefront, "ValidateCoupon", P.ValidateCouponRequest(code="", currency_code="USD", lines=lines)
    )
    assert (bad.reason, bad.http_status in (None, 400)) == ("VALIDATION_FAILED", True)
    denied = await error_of(storefront, "ListPromotions", P.ListPromotionsRequest())
    assert denied.reason == "INSUFFICIENT_PERMISSIONS"
