"""Servicer of shipping.proto: each method is one call into :class:`ShippingService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.shipping.service import ShippingService
from rcommerce.gen.v1 import shipping_pb2, shipping_pb2_grpc

__all__ = ["ShippingServicer"]

_EMPTY = empty_pb2.Empty()
S = shipping_pb2


class ShippingServicer(shipping_pb2_grpc.ShippingServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, shipping: ShippingService) -> None:
        self._shipping = shipping

    # -- profiles -----------------------------------------------------------------------------
    async def CreateShippingProfile(self, request: S.CreateShippingProfileRequest, call: Call) -> S.ShippingProfile:
        return await self._shipping.create_profile(request.shipping_profile, request.request_id)

    async def GetShippingProfile(self, request: S.GetShippingProfileRequest, call: Call) -> S.ShippingProfile:
        return await self._shipping.get_profile(request.name)

    async def ListShippingProfiles(
        self, request: S.ListShippingProfilesRequest, call: Call
    ) -> S.ListShippingProfilesResponse:
        return await self._shipping.list_profiles(request)

    async def UpdateShippingProfile(self, request: S.UpdateShippingProfileRequest, call: Call) -> S.ShippingProfile:
        return await self._shipping.update_profile(request)

    async def DeleteShippingProfile(self, request: S.DeleteShippingProfileRequest, call: Call) -> empty_pb2.Empty:
        await self._shipping.delete_profile(request.name)
        return _EMPTY

    # -- zones --------------------------------------------------------------------------------
    async def CreateShippingZone(self, request: S.CreateShippingZoneRequest, call: Call) -> S.ShippingZone:
        return await self._shipping.create_zone(request.shipping_zone, request.request_id)

    async def GetShippingZone(self, request: S.GetShippingZoneRequest, call: Call) -> S.ShippingZone:
        return await self._shipping.get_zone(request.name)

    async def ListShippingZones(self, request: S.ListShippingZonesRequest, call: Call) -> S.ListShippingZonesResponse:
        return await self._shipping.list_zones(request)

    async def UpdateShippingZone(self, request: S.UpdateShippingZoneRequest, call: Call) -> S.ShippingZone:
        return await self._shipping.update_zone(request)

    async def DeleteShippingZone(self, request: S.DeleteShippingZoneRequest, call: Call) -> empty_pb2.Empty:
        await self._shipping.delete_zone(request.name)
        return _EMPTY

    # -- rates --------------------------------------------------------------------------------
    async def CreateShippingRate(self, request: S.CreateShippingRateRequest, call: Call) -> S.ShippingRate:
        return await self._shipping.create_rate(request.parent, request.shipping_rate, request.request_id)

    async def GetShippingRate(self, request: S.GetShippingRateRequest, call: Call) -> S.ShippingRate:
        return await self._shipping.get_rate(request.name)

    async def ListShippingRates(self, request: S.ListShippingRatesRequest, call: Call) -> S.ListShippingRatesResponse:
        return await self._shipping.list_rates(request)

    async def UpdateShippingRate(self, request: S.UpdateShippingRateRequest, call: Call) -> S.ShippingRate:
        return await self._shipping.update_rate(request)

    async def DeleteShippingRate(self, request: S.DeleteShippingRateRequest, call: Call) -> empty_pb2.Empty:
        await self._shipping.delete_rate(request.name)
        return _EMPTY

    # -- rules --------------------------------------------------------------------------------
    async def CreateShippingRule(self, request: S.CreateShippingRuleRequest, call: Call) -> S.ShippingRule:
        return await self._shipping.create_rule(request.shipping_rule, request.request_id)

    async def GetShippingRule(self, request: S.GetShippingRuleRequest, call: Call) -> S.ShippingRule:
        return await self._shipping.get_rule(request.name)

    async def ListShippingRules(self, request: S.ListShippingRulesRequest, call: Call) -> S.ListShippingRulesResponse:
        return await self._shipping.list_rules(request)

    async def UpdateShippingRule(self, request: S.UpdateShippingRuleRequest, call: Call) -> S.ShippingRule:
        return await self._shipping.update_rule(request)

    async def DeleteShippingRule(self, request: S.DeleteShippingRuleRequest, call: Call) -> empty_pb2.Empty:
        await self._shipping.delete_rule(request.name)
        return _EMPTY

    # -- quotes -------------------------------------------------------------------------------
    async def QuoteShipping(self, request: S.QuoteShippingRequest, call: Call) -> S.QuoteShippingResponse:
        return await self._shipping.quote(request)

    async def GetShippingQuote(self, request: S.GetShippingQuoteRequest, call: Call) -> S.ShippingQuote:
        return await self._shipping.get_quote(request.name)
