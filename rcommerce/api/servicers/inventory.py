"""Servicer of inventory.proto: each method is one call into :class:`InventoryService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.inventory.service import InventoryService
from rcommerce.gen.v1 import inventory_pb2, inventory_pb2_grpc

__all__ = ["InventoryServicer"]

_EMPTY = empty_pb2.Empty()
I = inventory_pb2  # noqa: E741


class InventoryServicer(inventory_pb2_grpc.InventoryServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, inventory: InventoryService) -> None:
        self._inventory = inventory

    # -- locations -----------------------------------------------------------------
    async def CreateStockLocation(self, request: I.CreateStockLocationRequest, call: Call) -> I.StockLocation:
        return await self._inventory.create_location(request.stock_location)

    async def GetStockLocation(self, request: I.GetStockLocationRequest, call: Call) -> I.StockLocation:
        return await self._inventory.get_location(request.name)

    async def ListStockLocations(
        self, request: I.ListStockLocationsRequest, call: Call
    ) -> I.ListStockLocationsResponse:
        return await self._inventory.list_locations(request)

    async def UpdateStockLocation(self, request: I.UpdateStockLocationRequest, call: Call) -> I.StockLocation:
        return await self._inventory.update_location(request.stock_location, request.update_mask)

    async def DeleteStockLocation(self, request: I.DeleteStockLocationRequest, call: Call) -> empty_pb2.Empty:
        await self._inventory.delete_location(request.name)
        return _EMPTY

    # -- levels and the ledger -----------------------------------------------------
    async def GetInventoryLevel(self, request: I.GetInventoryLevelRequest, call: Call) -> I.InventoryLevel:
        return await self._inventory.get_level(request.name)

    async def ListInventoryLevels(
        self, request: I.ListInventoryLevelsRequest, call: Call
    ) -> I.ListInventoryLevelsResponse:
        return await self._inventory.list_levels(request)

    async def AdjustInventory(self, request: I.AdjustInventoryRequest, call: Call) -> I.InventoryChange:
        return await self._inventory.adjust(request, call.principal)

    async def SetInventory(self, request: I.SetInventoryRequest, call: Call) -> I.InventoryChange:
        return await self._inventory.set(request, call.principal)

    async def ReceiveInventory(self, request: I.ReceiveInventoryRequest, call: Call) -> I.InventoryChange:
        return await self._inventory.receive(request, call.principal)

    async def TransferInventory(self, request: I.TransferInventoryRequest, call: Call) -> I.InventoryChange:
        return await self._inventory.transfer(request, call.principal)

    async def ListStockMovements(
        self, request: I.ListStockMovementsRequest, call: Call
    ) -> I.ListStockMovementsResponse:
        return await self._inventory.list_movements(request)

    # -- reservations --------------------------------------------------------------
    async def CreateReservation(self, request: I.CreateReservationRequest, call: Call) -> I.CreateReservationResponse:
        return await self._inventory.create_reservation(request)

    async def ReleaseReservation(self, request: I.ReleaseReservationRequest, call: Call) -> I.Reservation:
        return await self._inventory.release_reservation(request)

    async def ConvertReservation(self, request: I.ConvertReservationRequest, call: Call) -> I.Reservation:
        return await self._inventory.convert_reservation(request, call.principal)

    async def ListReservations(self, request: I.ListReservationsRequest, call: Call) -> I.ListReservationsResponse:
        return await self._inventory.list_reservations(request)

    # -- alerts --------------------------------------------------------------------
    async def ListStockAlerts(self, request: I.ListStockAlertsRequest, call: Call) -> I.ListStockAlertsResponse:
        return await self._inventory.list_alerts(request)

    async def AcknowledgeStockAlert(self, request: I.AcknowledgeStockAlertRequest, call: Call) -> I.StockAlert:
        return await self._inventory.acknowledge_alert(request, call.principal)
