"""The SSRF guard: no connections to loopback, private, link-local or multicast addresses.

The check runs on every address a host name resolves to (so DNS tricks do not
help) and on IP literals in URLs (which the resolver never sees), including
every redirect hop.
"""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from newsbote.errors import BlockedAddressError


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; False for everything we refuse."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The IP address when ``host`` is an IP literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """A resolver that refuses names resolving to any non-public address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not is_public_address(result["host"]):
                raise BlockedAddressError(f"{host}:{port}", f"{result['host']} (from {host})")
        return results

    async def close(self) -> None:
        await self._inner.close()
