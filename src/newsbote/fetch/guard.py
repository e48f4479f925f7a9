"""The SSRF guard: no connections to loopback, private, link-local or multicast addresses.

Every HTTP connection newsbote opens (feeds, redirect hops, article pages,
HTTP destinations) goes through a connector built by :func:`connector`, which
checks at three points, each on the host exactly as the HTTP client reads it
(yarl's IDNA/UTS-46 normalization turns ``①②⑦.0.0.1`` and ``１２７．０．０．１``
into ``127.0.0.1``):

1. :meth:`Guard.check_url`, before a request: the scheme, and a host that is an
   IP address in any spelling (``2130706433`` and ``0x7f.1`` included). It gives
   the clear error; the client never asks a resolver about IP hosts.
2. :class:`GuardedResolver`: every address a name resolves to, so a name with
   one private address among public ones is refused whole.
3. :meth:`Guard.open_socket`, the connector's socket factory: the exact
   address of every TCP connect attempt, whatever the URL parsing or the
   resolver did. Nothing connects without passing it.

IPv6 forms that carry an IPv4 address (IPv4-mapped and -compatible, NAT64,
6to4, Teredo) are judged by the IPv4 address they carry. ``allow_private``
turns the address check off and nothing else.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from newsbote.errors import BlockedAddressError, FetchError

__all__ = [
    "Guard",
    "GuardedResolver",
    "RefusedAddress",
    "connector",
    "is_public_address",
    "literal_address",
    "refused_address",
]

AddrInfo = tuple[int, int, int, str, tuple[Any, ...]]
"""One ``getaddrinfo`` result: family, type, proto, canonical name, socket address."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_LEGACY_IPV4_CHARS = frozenset("0123456789abcdefxABCDEFX.")


def _carried(ip: ipaddress.IPv6Address) -> Iterator[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (what a connection to it may reach)."""
    if ip.ipv4_mapped is not None:
        yield ip.ipv4_mapped
    elif ip in _IPV4_COMPATIBLE or ip in _NAT64:
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    elif ip.sixtofour is not None:
        yield ip.sixtofour
    elif ip.teredo is not None:
        yield from ip.teredo  # the relay server and the client


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def is_public_address(address: str) -> bool:
    """True for globally routable unicast addresses; False for everything we refuse."""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv4Address):
        return _routable(ip)
    if ip in _NAT64_LOCAL:
        return False  # a local-use NAT64 prefix (RFC 8215): the network's own translator
    carried = list(_carried(ip))
    if carried:
        return all(_routable(inner) for inner in carried)
    return _routable(ip)


def literal_address(host: str) -> str | None:
    """The IP address ``host`` names when it is an IP address, else None.

    Besides the usual forms this knows the legacy IPv4 spellings the C library
    still accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``).
    """
    bare = host.strip("[]").removesuffix(".")
    with suppress(ValueError):
        return str(ipaddress.ip_address(bare.split("%", 1)[0]))
    if bare and set(bare) <= _LEGACY_IPV4_CHARS:
        try:
            return str(ipaddress.IPv4Address(socket.inet_aton(bare)))
        except OSError:
            return None
    return None


class RefusedAddress(OSError):
    """The socket factory refused an address.

    An ``OSError`` so that the connection code handles it like any failed
    connect; every instance has the same text, so a host whose addresses are
    all refused surfaces as this error, not as a merged one.
    """

    def __init__(self, address: str) -> None:
        super().__init__(errno.EACCES, "non-public address refused by the SSRF guard")
        self.address = address


def refused_address(exc: BaseException) -> str | None:
    """The address the socket factory refused, when that is what ``exc`` comes from."""
    seen: BaseException | None = exc
    for _depth in range(8):
        if seen is None:
            return None
        if isinstance(seen, RefusedAddress):
            return seen.address
        if isinstance(seen, aiohttp.ClientConnectorError) and isinstance(
            seen.os_error, RefusedAddress
        ):
            return seen.os_error.address
        seen = seen.__cause__
    return None


@dataclass(frozen=True, slots=True)
class Guard:
    """Which addresses a connection may go to.

    ``exempt`` holds (address, port) pairs let through although not public: a
    test's stand-in for a public server, so a redirect from it can be tested.
    """

    allow_private: bool = False
    exempt: frozenset[tuple[str, int]] = frozenset()

    def allows(self, address: str, port: int) -> bool:
        if self.allow_private or is_public_address(address):
            return True
        return (literal_address(address) or address, port) in self.exempt

    def check_url(
        self, url: str | URL, *, shown: str | None = None, hint: str | None = None
    ) -> URL:
        """``url`` parsed as the HTTP client parses it, if its scheme and IP host pass.

        Raises :class:`FetchError` (permanent) naming ``shown`` (default: ``url``)
        for a URL that is not http(s) or has no host, and
        :class:`BlockedAddressError` for a host that is a refused IP address.
        """
        name = shown if shown is not None else str(url)
        try:
            parsed = url if isinstance(url, URL) else URL(url)
            host = parsed.host
            port = parsed.port
        except (ValueError, UnicodeError) as exc:
            raise FetchError(name, f"not a valid URL: {exc}", permanent=True) from exc
        if parsed.scheme not in ("http", "https"):
            raise FetchError(
                name, f"not an http(s) URL: {parsed.scheme or 'no'} scheme", permanent=True
            )
        if not host:
            raise FetchError(name, "the URL has no host", permanent=True)
        address = literal_address(host)
        if address is not None and not self.allows(address, port or 0):
            raise BlockedAddressError(name, address, hint=hint)
        return parsed

    def open_socket(self, addr_info: AddrInfo) -> socket.socket:
        """The connector's socket factory: a socket only for an allowed address."""
        family, type_, proto, _, sockaddr = addr_info
        address, port = str(sockaddr[0]), int(sockaddr[1])
        if not self.allows(address, port):
            raise RefusedAddress(address)
        return socket.socket(family=family, type=type_, proto=proto)


class GuardedResolver(AbstractResolver):
    """A resolver that refuses a name when any of its addresses is refused."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            if not self.guard.allows(result["host"], result["port"]):
                raise BlockedAddressError(f"{host}:{port}", f"{result['host']} (from {host})")
        return results

    async def close(self) -> None:
        await self._inner.close()


def connector(
    guard: Guard, *, limit: int, limit_per_host: int = 0, ttl_dns_cache: int | None = 300
) -> aiohttp.TCPConnector:
    """The connector every HTTP session of newsbote uses: resolver and sockets guarded."""
    return aiohttp.TCPConnector(
        limit=limit,
        limit_per_host=limit_per_host,
        resolver=GuardedResolver(guard),
        ttl_dns_cache=ttl_dns_cache,
        socket_factory=guard.open_socket,
    )
