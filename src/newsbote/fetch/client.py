"""The HTTP client every fetch goes through.

One shared connection pool per trust level (the guarded pool refuses
non-public addresses; the open pool serves sources with ``allow_private``).
Conditional requests, manual redirects (each hop checked by the guard), a
whole-request timeout and a cap on the decoded body size.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from newsbote import USER_AGENT
from newsbote.config.schema import ServiceConfig
from newsbote.errors import BlockedAddressError, FetchError
from newsbote.fetch.guard import GuardedResolver, is_public_address, literal_address
from newsbote.types import Fetched

log = logging.getLogger("newsbote.fetch")

MAX_REDIRECTS = 5
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


def _seconds_until(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After / Expires value (delta seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _max_age(headers: Mapping[str, str], now: datetime) -> float | None:
    cache_control = headers.get("Cache-Control", "")
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() in ("no-store", "no-cache"):
            return None
        if name.lower() == "max-age" and value.strip().isdigit():
            return float(value.strip())
    return _seconds_until(headers.get("Expires"), now)


class Fetcher:
    """Fetches feed URLs and local files into :class:`Fetched`. Use as an async context."""

    def __init__(self, service: ServiceConfig) -> None:
        self.service = service
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
            connector = aiohttp.TCPConnector(
                limit=self.service.concurrency,
                limit_per_host=self.service.per_host,
                resolver=None if allow_private else GuardedResolver(),
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(
                connector=connector,
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
        """Fetch ``url`` (http(s) or a file path), conditionally when validators are given."""
        if "://" not in url or url.startswith("file://"):
            return await asyncio.to_thread(self._read_file, url, etag)
        try:
            return await self._fetch_http(url, etag, last_modified, allow_private)
        except FetchError:
            raise
        except TimeoutError as exc:
            raise FetchError(url, f"timed out after {self.service.timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            raise FetchError(url, f"{type(exc).__name__}: {exc}") from exc
        except OSError as exc:
            raise FetchError(url, f"connection failed: {exc}") from exc

    def _check_url(self, original: str, url: str, allow_private: bool) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(
                original, f"refusing to follow to non-http URL {url!r}", permanent=True
            )
        host = parts.hostname or ""
        address = literal_address(host)
        if not allow_private and address is not None and not is_public_address(address):
            raise BlockedAddressError(original, address)

    async def _fetch_http(
        self, url: str, etag: str | None, last_modified: str | None, allow_private: bool
    ) -> Fetched:
        session = self._session(allow_private)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        current = url
        moved_to: str | None = None
        permanent_chain = True
        deadline = time.monotonic() + self.service.timeout
        for _hop in range(MAX_REDIRECTS + 1):
            self._check_url(url, current, allow_private)
            remaining = max(0.1, deadline - time.monotonic())
            async with session.get(
                current,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=remaining),
            ) as response:
                now = datetime.now(UTC)
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(url, f"HTTP {response.status} without a Location header")
                    target = urljoin(current, location)
                    permanent_chain = permanent_chain and response.status in (301, 308)
                    if permanent_chain:
                        moved_to = target
                    current = target
                    continue
                retry_after = _seconds_until(response.headers.get("Retry-After"), now)
                if response.status == 304:
                    return Fetched(
                        url=url,
                        final_url=current,
                        status=304,
                        body=b"",
                        etag=response.headers.get("ETag") or etag,
                        last_modified=response.headers.get("Last-Modified") or last_modified,
                        max_age=_max_age(response.headers, now),
                        moved_to=moved_to,
                    )
                if response.status == 410:
                    raise FetchError(
                        url,
                        "gone (HTTP 410): the publisher removed this feed",
                        status=410,
                        permanent=True,
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
                    final_url=current,
                    status=response.status,
                    body=body,
                    content_type=response.headers.get("Content-Type", ""),
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                    max_age=_max_age(response.headers, now),
                    retry_after=retry_after,
                    moved_to=moved_to,
                )
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")

    async def _read_capped(self, url: str, response: aiohttp.ClientResponse) -> bytes:
        cap = self.service.max_bytes
        length = response.content_length
        if length is not None and length > cap and "Content-Encoding" not in response.headers:
            raise FetchError(url, f"response of {length} bytes exceeds the cap of {cap} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise FetchError(url, f"response exceeds the cap of {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_file(self, url: str, etag: str | None) -> Fetched:
        path = Path(url.removeprefix("file://"))
        try:
            stat = path.stat()
            if stat.st_size > self.service.max_bytes:
                raise FetchError(url, f"file of {stat.st_size} bytes exceeds the cap")
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(url, f"cannot read file: {exc.strerror or exc}") from exc
        tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        if etag == tag:
            return Fetched(url=url, final_url=url, status=304, body=b"", etag=tag)
        return Fetched(url=url, final_url=url, status=200, body=body, etag=tag)
