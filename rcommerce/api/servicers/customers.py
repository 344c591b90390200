"""Servicers of customers.proto: each method is one call into the customers services."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.customers.addresses import AddressService
from rcommerce.domain.customers.groups import CustomerGroupService
from rcommerce.domain.customers.notification_preferences import NotificationPreferencesService
from rcommerce.domain.customers.service import CustomerService
from rcommerce.gen.v1 import customers_pb2, customers_pb2_grpc

__all__ = ["AuthServicer", "CustomerGroupServicer", "CustomerServicer"]

_EMPTY = empty_pb2.Empty()
C = customers_pb2


class AuthServicer(customers_pb2_grpc.AuthServiceServicer):
    """Thin adapter; the client address and rate-limit headers travel through ``call``."""

    def __init__(self, customers: CustomerService) -> None:
        self._customers = customers

    async def Register(self, request: C.RegisterRequest, call: Call) -> C.AuthSession:
        return await self._customers.register(request, peer=call.peer, headers=call.response_headers)

    async def SignIn(self, request: C.SignInRequest, call: Call) -> C.AuthSession:
        return await self._customers.sign_in(request, peer=call.peer, headers=call.response_headers)

    async def RefreshSession(self, request: C.RefreshSessionRequest, call: Call) -> C.AuthSession:
        return await self._customers.refresh(request.refresh_token)

    async def SignOut(self, request: C.SignOutRequest, call: Call) -> empty_pb2.Empty:
        await self._customers.sign_out(call.principal, request.refresh_token, request.all_sessions)
        return _EMPTY

    async def RequestPasswordReset(self, request: C.RequestPasswordResetRequest, call: Call) -> empty_pb2.Empty:
        await self._customers.request_password_reset(request.email, peer=call.peer, headers=call.response_headers)
        return _EMPTY

    async def ResetPassword(self, request: C.ResetPasswordRequest, call: Call) -> empty_pb2.Empty:
        await self._customers.reset_password(request.token, request.new_password)
        return _EMPTY

    async def ChangePassword(self, request: C.ChangePasswordRequest, call: Call) -> empty_pb2.Empty:
        await self._customers.change_password(call.principal, request.current_password, request.new_password)
        return _EMPTY


class CustomerServicer(customers_pb2_grpc.CustomerServiceServicer):
    def __init__(
        self, customers: CustomerService, addresses: AddressService, preferences: NotificationPreferencesService
    ) -> None:
        self._customers = customers
        self._addresses = addresses
        self._preferences = preferences

    async def CreateCustomer(self, request: C.CreateCustomerRequest, call: Call) -> C.Customer:
        return await self._customers.create(request.customer, request.password)

    async def GetCustomer(self, request: C.GetCustomerRequest, call: Call) -> C.Customer:
        return await self._customers.get(call.principal, request.name)

    async def ListCustomers(self, request: C.ListCustomersRequest, call: Call) -> C.ListCustomersResponse:
        return await self._customers.list(request)

    async def UpdateCustomer(self, request: C.UpdateCustomerRequest, call: Call) -> C.Customer:
        return await self._customers.update(call.principal, request.customer, request.update_mask)

    async def DeleteCustomer(self, request: C.DeleteCustomerRequest, call: Call) -> empty_pb2.Empty:
        await self._customers.delete(call.principal, request.name)
        return _EMPTY

    async def FindOrCreateGuest(self, request: C.FindOrCreateGuestRequest, call: Call) -> C.Customer:
        return await self._customers.find_or_create_guest(request.email)

    async def CreateAddress(self, request: C.CreateAddressRequest, call: Call) -> C.CustomerAddress:
        return await self._addresses.create(call.principal, request.parent, request.address)

    async def GetAddress(self, request: C.GetAddressRequest, call: Call) -> C.CustomerAddress:
        return await self._addresses.get(call.principal, request.name)

    async def ListAddresses(self, request: C.ListAddressesRequest, call: Call) -> C.ListAddressesResponse:
        return await self._addresses.list(call.principal, request.parent)

    async def UpdateAddress(self, request: C.UpdateAddressRequest, call: Call) -> C.CustomerAddress:
        return await self._addresses.update(call.principal, request.address, request.update_mask)

    async def DeleteAddress(self, request: C.DeleteAddressRequest, call: Call) -> empty_pb2.Empty:
        await self._addresses.delete(call.principal, request.name)
        return _EMPTY

    async def GetNotificationPreferences(
        self, request: C.GetNotificationPreferencesRequest, call: Call
    ) -> C.NotificationPreferences:
        return await self._preferences.get(call.principal, request.name)

    async def UpdateNotificationPreferences(
        self, request: C.UpdateNotificationPreferencesRequest, call: Call
    ) -> C.NotificationPreferences:
        return await self._preferences.update(call.principal, request.notification_preferences, request.update_mask)


class CustomerGroupServicer(customers_pb2_grpc.CustomerGroupServiceServicer):
    def __init__(self, groups: CustomerGroupService) -> None:
        self._groups = groups

    async def CreateCustomerGroup(self, request: C.CreateCustomerGroupRequest, call: Call) -> C.CustomerGroup:
        return await self._groups.create(request.customer_group)

    async def GetCustomerGroup(self, request: C.GetCustomerGroupRequest, call: Call) -> C.CustomerGroup:
        return await self._groups.get(request.name)

    async def ListCustomerGroups(
        self, request: C.ListCustomerGroupsRequest, call: Call
    ) -> C.ListCustomerGroupsResponse:
        return await self._groups.list(request)

    async def UpdateCustomerGroup(self, request: C.UpdateCustomerGroupRequest, call: Call) -> C.CustomerGroup:
        return await self._groups.update(request.customer_group, request.update_mask)

    async def DeleteCustomerGroup(self, request: C.DeleteCustomerGroupRequest, call: Call) -> empty_pb2.Empty:
        await self._groups.delete(request.name)
        return _EMPTY

    async def AddCustomerGroupMembers(self, request: C.AddCustomerGroupMembersRequest, call: Call) -> C.CustomerGroup:
        return await self._groups.add_members(request.customer_group, request.customers)

    async def RemoveCustomerGroupMembers(
        self, request: C.RemoveCustomerGroupMembersRequest, call: Call
    ) -> C.CustomerGroup:
        return await self._groups.remove_members(request.customer_group, request.customers)
