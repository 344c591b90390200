"""Servicer of tax.proto: each method is one call into :class:`TaxService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.tax.service import TaxService
from rcommerce.gen.v1 import tax_pb2, tax_pb2_grpc

__all__ = ["TaxServicer"]

_EMPTY = empty_pb2.Empty()
T = tax_pb2


class TaxServicer(tax_pb2_grpc.TaxServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, tax: TaxService) -> None:
        self._tax = tax

    # -- zones ---------------------------------------------------------------------------
    async def CreateTaxZone(self, request: T.CreateTaxZoneRequest, call: Call) -> T.TaxZone:
        return await self._tax.create_zone(request.tax_zone)

    async def GetTaxZone(self, request: T.GetTaxZoneRequest, call: Call) -> T.TaxZone:
        return await self._tax.get_zone(request.name)

    async def ListTaxZones(self, request: T.ListTaxZonesRequest, call: Call) -> T.ListTaxZonesResponse:
        return await self._tax.list_zones(request)

    async def UpdateTaxZone(self, request: T.UpdateTaxZoneRequest, call: Call) -> T.TaxZone:
        return await self._tax.update_zone(request.tax_zone, request.update_mask)

    async def DeleteTaxZone(self, request: T.DeleteTaxZoneRequest, call: Call) -> empty_pb2.Empty:
        await self._tax.delete_zone(request.name)
        return _EMPTY

    # -- categories ----------------------------------------------------------------------
    async def CreateTaxCategory(self, request: T.CreateTaxCategoryRequest, call: Call) -> T.TaxCategory:
        return await self._tax.create_category(request.tax_category)

    async def ListTaxCategories(self, request: T.ListTaxCategoriesRequest, call: Call) -> T.ListTaxCategoriesResponse:
        return await self._tax.list_categories(request)

    async def UpdateTaxCategory(self, request: T.UpdateTaxCategoryRequest, call: Call) -> T.TaxCategory:
        return await self._tax.update_category(request.tax_category, request.update_mask)

    async def DeleteTaxCategory(self, request: T.DeleteTaxCategoryRequest, call: Call) -> empty_pb2.Empty:
        await self._tax.delete_category(request.name)
        return _EMPTY

    # -- rates ---------------------------------------------------------------------------
    async def CreateTaxRate(self, request: T.CreateTaxRateRequest, call: Call) -> T.TaxRate:
        return await self._tax.create_rate(request.tax_rate)

    async def GetTaxRate(self, request: T.GetTaxRateRequest, call: Call) -> T.TaxRate:
        return await self._tax.get_rate(request.name)

    async def ListTaxRates(self, request: T.ListTaxRatesRequest, call: Call) -> T.ListTaxRatesResponse:
        return await self._tax.list_rates(request)

    async def UpdateTaxRate(self, request: T.UpdateTaxRateRequest, call: Call) -> T.TaxRate:
        return await self._tax.update_rate(request.tax_rate, request.update_mask)

    async def DeleteTaxRate(self, request: T.DeleteTaxRateRequest, call: Call) -> empty_pb2.Empty:
        await self._tax.delete_rate(request.name)
        return _EMPTY

    # -- exemptions ----------------------------------------------------------------------
    async def CreateTaxExemption(self, request: T.CreateTaxExemptionRequest, call: Call) -> T.TaxExemption:
        return await self._tax.create_exemption(request.parent, request.tax_exemption)

    async def ListTaxExemptions(self, request: T.ListTaxExemptionsRequest, call: Call) -> T.ListTaxExemptionsResponse:
        return await self._tax.list_exemptions(request)

    async def DeleteTaxExemption(self, request: T.DeleteTaxExemptionRequest, call: Call) -> empty_pb2.Empty:
        await self._tax.delete_exemption(request.name)
        return _EMPTY

    # -- VAT ids, preview, reporting -----------------------------------------------------
    async def ValidateVatId(self, request: T.ValidateVatIdRequest, call: Call) -> T.VatIdValidation:
        return await self._tax.validate_vat_id(request.vat_id)

    async def CalculateTax(self, request: T.CalculateTaxRequest, call: Call) -> T.TaxCalculation:
        return await self._tax.calculate(request)

    async def ListTaxTransactions(
        self, request: T.ListTaxTransactionsRequest, call: Call
    ) -> T.ListTaxTransactionsResponse:
        return await self._tax.list_transactions(request)
