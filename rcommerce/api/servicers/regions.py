"""Servicers of regions.proto: each method is one call into the region or price list service."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.price_lists.service import PriceListService
from rcommerce.domain.regions.service import RegionService
from rcommerce.gen.v1 import regions_pb2, regions_pb2_grpc

__all__ = ["PriceListServicer", "RegionServicer"]

_EMPTY = empty_pb2.Empty()
R = regions_pb2


class RegionServicer(regions_pb2_grpc.RegionServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, regions: RegionService) -> None:
        self._regions = regions

    async def CreateRegion(self, request: R.CreateRegionRequest, call: Call) -> R.Region:
        return await self._regions.create_region(request.region)

    async def GetRegion(self, request: R.GetRegionRequest, call: Call) -> R.Region:
        return await self._regions.get_region(request.name)

    async def ListRegions(self, request: R.ListRegionsRequest, call: Call) -> R.ListRegionsResponse:
        return await self._regions.list_regions(request)

    async def UpdateRegion(self, request: R.UpdateRegionRequest, call: Call) -> R.Region:
        return await self._regions.update_region(request.region, request.update_mask)

    async def DeleteRegion(self, request: R.DeleteRegionRequest, call: Call) -> empty_pb2.Empty:
        await self._regions.delete_region(request.name)
        return _EMPTY


class PriceListServicer(regions_pb2_grpc.PriceListServiceServicer):
    """Thin adapter over :class:`PriceListService`."""

    def __init__(self, price_lists: PriceListService) -> None:
        self._lists = price_lists

    async def CreatePriceList(self, request: R.CreatePriceListRequest, call: Call) -> R.PriceList:
        return await self._lists.create_price_list(request.price_list)

    async def GetPriceList(self, request: R.GetPriceListRequest, call: Call) -> R.PriceList:
        return await self._lists.get_price_list(request.name)

    async def ListPriceLists(self, request: R.ListPriceListsRequest, call: Call) -> R.ListPriceListsResponse:
        return await self._lists.list_price_lists(request)

    async def UpdatePriceList(self, request: R.UpdatePriceListRequest, call: Call) -> R.PriceList:
        return await self._lists.update_price_list(request.price_list, request.update_mask)

    async def DeletePriceList(self, request: R.DeletePriceListRequest, call: Call) -> empty_pb2.Empty:
        await self._lists.delete_price_list(request.name)
        return _EMPTY

    async def AddPriceListPrices(self, request: R.AddPriceListPricesRequest, call: Call) -> R.PriceList:
        return await self._lists.add_prices(request.price_list, request.prices)

    async def RemovePriceListPrices(self, request: R.RemovePriceListPricesRequest, call: Call) -> R.PriceList:
        return await self._lists.remove_prices(request.price_list, request.prices)
