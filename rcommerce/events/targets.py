"""Which URLs webhooks may be sent to.

Only ``http``/``https``. A host that resolves to a private, loopback, link-local,
multicast, reserved or unspecified address is refused, at create and again at every
send (DNS can change), unless ``allow_private_targets`` is set: otherwise an API key
holder could make the server probe its own network (SSRF). The check resolves the name
and httpx resolves it again when connecting, so a DNS answer that flips between the two
(rebinding) is not stopped; pinning the checked address needs a custom transport.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

__all__ = ["Resolver", "TargetRefused", "check_target", "check_url_shape", "system_resolver"]

#: Returns every address ``host`` resolves to; raises OSError when it does not resolve.
Resolver = Callable[[str, int], Awaitable[list[str]]]
_RESOLVE_TIMEOUT_S = 5.0


class TargetRefused(Exception):
    """The URL may not be used as a webhook target; the message says why."""


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_url_shape(url: str) -> tuple[str, int]:
    """The (host, port) of an http(s) URL; raises :class:`TargetRefused` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"{url!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if len(url) > 2000:
        raise TargetRefused("the URL is longer than 2000 characters")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


async def check_target(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver, require_resolvable: bool = True
) -> None:
    """Raise :class:`TargetRefused` unless ``url`` may receive webhooks.

    ``require_resolvable=False`` (used at create) accepts a name that does not resolve
    yet; the check at send time still applies.
    """
    host, port = check_url_shape(url)
    if allow_private:
        return
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except (OSError, TimeoutError) as exc:
            if require_resolvable:
                raise TargetRefused(f"the host {host} does not resolve: {exc}") from exc
            return
    blocked = [a for a in addresses if not _is_public(a)]
    if blocked:
        raise TargetRefused(f"the host {host} resolves to a non-public address ({blocked[0]})")
