"""Servicer of promotions.proto: each method is one call into :class:`PromotionService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.gen.v1 import promotions_pb2_grpc

__all__ = ["PromotionServicer"]

_EMPTY = empty_pb2.Empty()


class PromotionServicer(promotions_pb2_grpc.PromotionServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, promotions: PromotionService) -> None:
        self._promotions = promotions

    async def CreatePromotion(self, request: P.CreatePromotionRequest, call: Call) -> P.Promotion:
        return await self._promotions.create_promotion(request.promotion)

    async def GetPromotion(self, request: P.GetPromotionRequest, call: Call) -> P.Promotion:
        return await self._promotions.get_promotion(request.name)

    async def LookupPromotion(self, request: P.LookupPromotionRequest, call: Call) -> P.Promotion:
        return await self._promotions.lookup_promotion(request.code)

    async def ListPromotions(self, request: P.ListPromotionsRequest, call: Call) -> P.ListPromotionsResponse:
        return await self._promotions.list_promotions(request)

    async def UpdatePromotion(self, request: P.UpdatePromotionRequest, call: Call) -> P.Promotion:
        return await self._promotions.update_promotion(request.promotion, request.update_mask)

    async def ArchivePromotion(self, request: P.ArchivePromotionRequest, call: Call) -> P.Promotion:
        return await self._promotions.archive_promotion(request.name)

    async def DeletePromotion(self, request: P.DeletePromotionRequest, call: Call) -> empty_pb2.Empty:
        await self._promotions.delete_promotion(request.name)
        return _EMPTY

    async def ValidateCoupon(self, request: P.ValidateCouponRequest, call: Call) -> P.ValidateCouponResponse:
        return await self._promotions.validate_coupon(request, call.principal)

    async def GetPromotionUsage(self, request: P.GetPromotionUsageRequest, call: Call) -> P.PromotionUsage:
        return await self._promotions.get_usage(request.name)
