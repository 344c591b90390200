"""Builds the customers context for the composition root (``rcommerce/app.py``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc

from rcommerce.auth.customer_tokens import AccessTokens
from rcommerce.auth.passwords import PasswordHasher
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.domain.customers.addresses import AddressService
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.customers.groups import CustomerGroupService
from rcommerce.domain.customers.notification_preferences import NotificationPreferencesService, PreferenceLookup
from rcommerce.domain.customers.service import CustomerService, PasswordResetHook, SignInHook
from rcommerce.domain.customers.sessions import CustomerTokenVerifier
from rcommerce.pagination import PageTokens
from rcommerce.ratelimit import RateLimiter, create_rate_limiter

__all__ = ["CustomerServices", "build_customer_services"]


@dataclass
class CustomerServices:
    service: CustomerService
    addresses: AddressService
    groups: CustomerGroupService
    directory: CustomerDirectory
    #: Goes into the call pipeline's verifier list.
    verifier: CustomerTokenVerifier
    #: The GCRA limiter (memory, or Redis at the cache URL); sign-in uses it now.
    limiter: RateLimiter
    #: Notification preferences (RPCs) and the notification service's preference hook.
    preferences: NotificationPreferencesService
    preference_hook: PreferenceLookup

    def servicers(self) -> list[tuple[str, Any, Callable[[Any, grpc.aio.Server], None]]]:
        from rcommerce.api.servicers.customers import AuthServicer, CustomerGroupServicer, CustomerServicer
        from rcommerce.gen.v1 import customers_pb2_grpc as g

        return [
            ("rcommerce.v1.AuthService", AuthServicer(self.service), g.add_AuthServiceServicer_to_server),
            (
                "rcommerce.v1.CustomerService",
                CustomerServicer(self.service, self.addresses, self.preferences),
                g.add_CustomerServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.CustomerGroupService",
                CustomerGroupServicer(self.groups),
                g.add_CustomerGroupServiceServicer_to_server,
            ),
        ]

    async def close(self) -> None:
        await self.limiter.close()


def build_customer_services(
    db: Database,
    cache: Cache,
    clock: Clock,
    settings: Settings,
    secret: bytes,
    page_tokens: PageTokens,
    *,
    on_sign_in: Sequence[SignInHook] = (),
    on_password_reset: Sequence[PasswordResetHook] = (),
    passwords: PasswordHasher | None = None,
) -> CustomerServices:
    c = settings.customers
    access = AccessTokens(secret, timedelta(seconds=c.access_token_ttl_s))
    limiter = create_rate_limiter(settings.cache.url, retry_s=settings.cache.redis_retry_s, clock=clock)
    service = CustomerService(
        db, cache, clock, access=access, passwords=passwords or PasswordHasher(), limiter=limiter, settings=c,
        page_tokens=page_tokens, on_sign_in=on_sign_in, on_password_reset=on_password_reset,
    )  # fmt: skip
    return CustomerServices(
        service=service,
        addresses=AddressService(db, clock),
        groups=CustomerGroupService(db, clock, page_tokens),
        directory=CustomerDirectory(clock),
        verifier=CustomerTokenVerifier(db, cache, clock, access, settings.cache.auth_ttl_s),
        limiter=limiter,
        preferences=NotificationPreferencesService(db, clock),
        preference_hook=PreferenceLookup(clock),
    )
