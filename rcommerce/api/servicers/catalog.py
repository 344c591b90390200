"""Servicer of catalog.proto: each method is one call into :class:`CatalogService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.gen.v1 import catalog_pb2, catalog_pb2_grpc

__all__ = ["CatalogServicer"]

_EMPTY = empty_pb2.Empty()
C = catalog_pb2


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, catalog: CatalogService) -> None:
        self._catalog = catalog

    # -- products ------------------------------------------------------------------------
    async def CreateProduct(self, request: C.CreateProductRequest, call: Call) -> C.Product:
        return await self._catalog.create_product(request.product, request.request_id)

    async def GetProduct(self, request: C.GetProductRequest, call: Call) -> C.Product:
        return await self._catalog.get_product(request.name, call.principal)

    async def LookupProduct(self, request: C.LookupProductRequest, call: Call) -> C.Product:
        return await self._catalog.lookup_product(request.slug, call.principal)

    async def ListProducts(self, request: C.ListProductsRequest, call: Call) -> C.ListProductsResponse:
        return await self._catalog.list_products(request, call.principal)

    async def UpdateProduct(self, request: C.UpdateProductRequest, call: Call) -> C.Product:
        return await self._catalog.update_product(request.product, request.update_mask)

    async def ArchiveProduct(self, request: C.ArchiveProductRequest, call: Call) -> C.Product:
        return await self._catalog.archive_product(request.name)

    async def DeleteProduct(self, request: C.DeleteProductRequest, call: Call) -> empty_pb2.Empty:
        await self._catalog.delete_product(request.name)
        return _EMPTY

    # -- variants ------------------------------------------------------------------------
    async def CreateVariant(self, request: C.CreateVariantRequest, call: Call) -> C.Variant:
        return await self._catalog.create_variant(request.parent, request.variant)

    async def UpdateVariant(self, request: C.UpdateVariantRequest, call: Call) -> C.Variant:
        return await self._catalog.update_variant(request.variant, request.update_mask)

    async def DeleteVariant(self, request: C.DeleteVariantRequest, call: Call) -> empty_pb2.Empty:
        await self._catalog.delete_variant(request.name)
        return _EMPTY

    # -- categories ----------------------------------------------------------------------
    async def CreateCategory(self, request: C.CreateCategoryRequest, call: Call) -> C.Category:
        return await self._catalog.create_category(request.category)

    async def GetCategory(self, request: C.GetCategoryRequest, call: Call) -> C.Category:
        return await self._catalog.get_category(request.name)

    async def ListCategories(self, request: C.ListCategoriesRequest, call: Call) -> C.ListCategoriesResponse:
        return await self._catalog.list_categories(request.parent, request.page_size, request.page_token)

    async def GetCategoryTree(self, request: C.GetCategoryTreeRequest, call: Call) -> C.CategoryTree:
        return await self._catalog.get_category_tree(request.root)

    async def UpdateCategory(self, request: C.UpdateCategoryRequest, call: Call) -> C.Category:
        return await self._catalog.update_category(request.category, request.update_mask)

    async def DeleteCategory(self, request: C.DeleteCategoryRequest, call: Call) -> empty_pb2.Empty:
        await self._catalog.delete_category(request.name)
        return _EMPTY

    # -- collections ---------------------------------------------------------------------
    async def CreateCollection(self, request: C.CreateCollectionRequest, call: Call) -> C.Collection:
        return await self._catalog.create_collection(request.collection)

    async def GetCollection(self, request: C.GetCollectionRequest, call: Call) -> C.Collection:
        return await self._catalog.get_collection(request.name)

    async def ListCollections(self, request: C.ListCollectionsRequest, call: Call) -> C.ListCollectionsResponse:
        return await self._catalog.list_collections(request.page_size, request.page_token)

    async def UpdateCollection(self, request: C.UpdateCollectionRequest, call: Call) -> C.Collection:
        return await self._catalog.update_collection(request.collection, request.update_mask)

    async def DeleteCollection(self, request: C.DeleteCollectionRequest, call: Call) -> empty_pb2.Empty:
        await self._catalog.delete_collection(request.name)
        return _EMPTY

    async def AddCollectionProducts(self, request: C.AddCollectionProductsRequest, call: Call) -> C.Collection:
        position = request.position if request.HasField("position") else None
        return await self._catalog.add_collection_products(request.collection, request.products, position)

    async def RemoveCollectionProducts(self, request: C.RemoveCollectionProductsRequest, call: Call) -> C.Collection:
        return await self._catalog.remove_collection_products(request.collection, request.products)

    async def ReorderCollectionProducts(self, request: C.ReorderCollectionProductsRequest, call: Call) -> C.Collection:
        return await self._catalog.reorder_collection_products(request.collection, request.products)
