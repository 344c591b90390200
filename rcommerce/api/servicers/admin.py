"""Servicers of admin.proto: API keys and the meta service."""

from __future__ import annotations

from datetime import UTC

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.admin.keys import ApiKeys
from rcommerce.gen.v1 import admin_pb2, admin_pb2_grpc
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, page_size

_KINDS = {admin_pb2.API_KEY_KIND_SECRET: "secret", admin_pb2.API_KEY_KIND_PUBLISHABLE: "publishable"}


class ApiKeyServicer(admin_pb2_grpc.ApiKeyServiceServicer):
    def __init__(self, keys: ApiKeys, page_tokens: PageTokens) -> None:
        self._keys = keys
        self._tokens = page_tokens

    async def CreateApiKey(self, request: admin_pb2.CreateApiKeyRequest, call: Call) -> admin_pb2.CreateApiKeyResponse:
        key = request.api_key
        expires = key.expire_time.ToDatetime(tzinfo=UTC) if key.HasField("expire_time") else None
        created = await self._keys.create(key.display_name, _KINDS.get(key.kind, "invalid"), list(key.scopes), expires)
        return admin_pb2.CreateApiKeyResponse(api_key=created.api_key, key=created.key)

    async def GetApiKey(self, request: admin_pb2.GetApiKeyRequest, call: Call) -> admin_pb2.ApiKey:
        return await self._keys.get(parse_name(request.name, "apiKeys", "key"))

    async def ListApiKeys(self, request: admin_pb2.ListApiKeysRequest, call: Call) -> admin_pb2.ListApiKeysResponse:
        size = page_size(request.page_size)
        fingerprint = f"show_inactive={request.show_inactive}"
        offset = self._tokens.decode(request.page_token, fingerprint)
        keys, more = await self._keys.list(offset, size, request.show_inactive)
        token = self._tokens.encode(offset + size, fingerprint) if more else ""
        return admin_pb2.ListApiKeysResponse(api_keys=keys, next_page_token=token)

    async def RevokeApiKey(self, request: admin_pb2.RevokeApiKeyRequest, call: Call) -> admin_pb2.ApiKey:
        return await self._keys.revoke(parse_name(request.name, "apiKeys", "key"), request.reason)


class MetaServicer(admin_pb2_grpc.MetaServiceServicer):
    async def Ping(self, request: admin_pb2.PingRequest, call: Call) -> admin_pb2.PingResponse:
        return admin_pb2.PingResponse(message=request.message)

    async def GetCaller(self, request: empty_pb2.Empty, call: Call) -> admin_pb2.Caller:
        principal = call.principal
        return admin_pb2.Caller(kind=principal.kind.value, principal=principal.subject, scopes=list(principal.scopes))
