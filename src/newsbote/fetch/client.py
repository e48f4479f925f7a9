"""The HTTP client every fetch goes through.

One shared connection pool per trust level, both built by the guard's
:func:`~newsbote.fetch.guard.connector` (the guarded pool refuses non-public
addresses; the open pool serves sources with ``allow_private``). Conditional
requests, manual redirects (each hop checked by the guard), a whole-request
timeout and a cap on the decoded body size.

Two entry points: :meth:`Fetcher.fetch` for a source's own configured URL (the
only one that may be a local file) and :meth:`Fetcher.fetch_page` for every
URL that comes out of a feed (http(s) only).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from newsbote import USER_AGENT
from newsbote.config.schema import ServiceConfig
from newsbote.errors import BlockedAddressError, FetchError
from newsbote.fetch.guard import Guard, connector, refused_address
from newsbote.fetch.headers import max_age, seconds_until
from newsbote.fetch.local import is_local, read_local_file
from newsbote.types import Fetched
from newsbote.urlmask import mask_url

log = logging.getLogger("newsbote.fetch")

MAX_REDIRECTS = 5
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PAGE_HINT = "set allow_private_pages = true on the source to allow article pages there"
_CHUNK = 65536


def _scrub(text: str, url: str) -> str:
    """``text`` (an error of another library) without the password of ``url``."""
    try:
        parsed = URL(url)
        secrets = {parsed.raw_password or "", parsed.password or ""}
        spellings = {url, str(parsed)}
    except (ValueError, UnicodeError):
        secrets, spellings = set(), {url}
    for spelling in spellings:
        text = text.replace(spelling, mask_url(spelling))
    for secret in secrets:
        if len(secret) >= 4:  # a shorter one is masked where the whole URL shows
            text = text.replace(secret, "***")
    return text


def _endpoint(host: str | None, port: int | None) -> str:
    host = host or "?"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def connection_problem(exc: BaseException, timeout: float | None = None) -> str:
    """A transport error of aiohttp (or a timeout) as a sentence an operator can act on:
    what failed, where, and what to check. No library's class name or repr."""
    if isinstance(exc, TimeoutError):
        after = f" after {timeout:g}s" if timeout else ""
        return f"timed out{after} without an answer (is the server overloaded? the address right?)"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
        reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
        return (
            f"the TLS certificate of {_endpoint(exc.host, exc.port)} is not accepted: "
            f"{reason or cause} (is the host name right? is its certificate valid and "
            "issued by a trusted authority?)"
        )
    if isinstance(exc, aiohttp.ClientConnectorSSLError):
        cause = exc.os_error
        reason = getattr(cause, "reason", None) or getattr(cause, "strerror", None) or cause
        return (
            f"the TLS handshake with {_endpoint(exc.host, exc.port)} failed: {reason} "
            "(does the server speak HTTPS on that port?)"
        )
    if isinstance(exc, aiohttp.ClientConnectorDNSError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror)
    ):
        return f"no such host {exc.host!r}: the name does not resolve (is it spelled right?)"
    if isinstance(exc, aiohttp.ClientConnectorError):
        where = _endpoint(exc.host, exc.port)
        if isinstance(exc.os_error, ConnectionRefusedError):
            return f"connection refused by {where} (is the server running? is the port right?)"
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return f"cannot connect to {where}: {reason}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without an answer"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer broke off before its end"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"the connection failed: {exc.strerror or type(exc).__name__}"
    return f"{type(exc).__name__}: {exc}"


class Fetcher:
    """Fetches feed URLs, article pages and local feed files into :class:`Fetched`.

    Use as an async context. ``exempt`` passes to the guard: (address, port)
    pairs let through although not public, for tests that stand in a local
    server for a public one.
    """

    def __init__(
        self, service: ServiceConfig, *, exempt: frozenset[tuple[str, int]] = frozenset()
    ) -> None:
        self.service = service
        self._guards = {
            False: Guard(allow_private=False, exempt=exempt),
            True: Guard(allow_private=True),
        }
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def _session(self, allow_private: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(allow_private)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=connector(
                    self._guards[allow_private],
                    limit=self.service.concurrency,
                    limit_per_host=self.service.per_host,
                ),
                timeout=aiohttp.ClientTimeout(total=self.service.timeout),
                headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
                auto_decompress=True,
            )
            self._sessions[allow_private] = session
        return session

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        allow_private: bool = False,
    ) -> Fetched:
        """Fetch a source's own URL (http(s), or a local file path or ``file://`` URL),
        conditionally when validators are given.

        Only for URLs the operator configured: a URL from a feed goes to
        :meth:`fetch_page`, which never opens a file.
        """
        if is_local(url):
            return await asyncio.to_thread(read_local_file, url, etag, self.service.max_bytes)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return await self._get(url, headers, allow_private, hint=None)

    async def fetch_page(self, url: str, *, allow_private: bool = False) -> Fetched:
        """Fetch a URL that came out of a feed (an article page): http(s) only.

        Anything else (``file:``, a bare path, ``ftp:``, ``data:``, ``javascript:``)
        is a permanent :class:`FetchError` naming the URL, before any I/O; the
        guard refuses non-public addresses unless ``allow_private``.
        """
        self._guards[allow_private].check_url(url, shown=url, hint=PAGE_HINT)
        return await self._get(url, {"Accept": PAGE_ACCEPT}, allow_private, hint=PAGE_HINT)

    async def _get(
        self, url: str, headers: dict[str, str], allow_private: bool, hint: str | None
    ) -> Fetched:
        try:
            return await self._fetch_http(url, headers, allow_private, hint)
        except BlockedAddressError as exc:
            log.debug("fetch url=%s blocked address=%s", mask_url(url), exc.address)
            if exc.url == mask_url(url):
                raise
            raise BlockedAddressError(url, exc.address, hint=hint) from exc
        except FetchError:
            raise
        except TimeoutError as exc:
            raise FetchError(url, connection_problem(exc, self.service.timeout)) from exc
        except aiohttp.ClientConnectorError as exc:
            address = refused_address(exc)
            if address is not None:
                log.debug("fetch url=%s blocked address=%s", mask_url(url), address)
                raise BlockedAddressError(url, address, hint=hint) from exc
            raise FetchError(url, _scrub(connection_problem(exc), url)) from exc
        except aiohttp.ClientError as exc:
            raise FetchError(url, _scrub(connection_problem(exc), url)) from exc
        except OSError as exc:
            raise FetchError(url, f"connection failed: {_scrub(str(exc), url)}") from exc

    async def _fetch_http(
        self,
        url: str,
        headers: dict[str, str],
        allow_private: bool,
        hint: str | None,
    ) -> Fetched:
        guard = self._guards[allow_private]
        session = self._session(allow_private)
        here = url
        moved_to: str | None = None
        permanent_chain = True
        deadline = time.monotonic() + self.service.timeout
        for _hop in range(MAX_REDIRECTS + 1):
            checked = guard.check_url(here, shown=url, hint=hint)
            remaining = max(0.1, deadline - time.monotonic())
            async with session.get(
                checked,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as response:
                now = datetime.now(UTC)
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(url, f"HTTP {response.status} without a Location header")
                    target = urljoin(here, location)
                    log.debug(
                        "fetch url=%s redirect status=%d to=%s",
                        mask_url(url),
                        response.status,
                        mask_url(target),
                    )
                    permanent_chain = permanent_chain and response.status in (301, 308)
                    if permanent_chain:
                        moved_to = target
                    here = target
                    continue
                log.debug("fetch url=%s status=%d", mask_url(url), response.status)
                return await self._answer(url, here, response, headers, now, moved_to)
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

    async def _answer(
        self,
        url: str,
        final_url: str,
        response: aiohttp.ClientResponse,
        sent: dict[str, str],
        now: datetime,
        moved_to: str | None,
    ) -> Fetched:
        retry_after = seconds_until(response.headers.get("Retry-After"), now)
        if response.status == 304:
            return Fetched(
                url=url,
                final_url=final_url,
                status=304,
                body=b"",
                etag=response.headers.get("ETag") or sent.get("If-None-Match"),
                last_modified=response.headers.get("Last-Modified")
                or sent.get("If-Modified-Since"),
                max_age=max_age(response.headers, now),
                moved_to=moved_to,
            )
        if response.status == 410:
            raise FetchError(
                url, "gone (HTTP 410): the publisher removed this feed", status=410, permanent=True
            )
        if response.status >= 400:
            raise FetchError(
                url,
                f"HTTP {response.status} {response.reason or ''}".strip(),
                status=response.status,
                retry_after=retry_after,
            )
        body = await self._read_capped(url, response)
        return Fetched(
            url=url,
            final_url=final_url,
            status=response.status,
            body=body,
            content_type=response.headers.get("Content-Type", ""),
            content_location=response.headers.get("Content-Location"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            max_age=max_age(response.headers, now),
            retry_after=retry_after,
            moved_to=moved_to,
        )

    async def _read_capped(self, url: str, response: aiohttp.ClientResponse) -> bytes:
        """The body, decoded of its Content-Encoding, refused past ``max_bytes`` decoded."""
        cap = self.service.max_bytes
        length = response.content_length
        if length is not None and length > cap and "Content-Encoding" not in response.headers:
            raise FetchError(url, f"response of {length} bytes exceeds the cap of {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise FetchError(url, f"response exceeds the cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
