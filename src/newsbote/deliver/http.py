"""What the HTTP destinations share: one guarded session, secrets, and the error rules.

The session's connector is the fetcher's SSRF guard (``fetch.guard.connector``);
``allow_private`` lifts its address check and nothing else. A reply is read up
to :data:`MAX_ANSWER` bytes and decoded with replacement: its status is what
counts, and a stranger's bytes never crash a delivery round.

A transport error before the request left (connection refused, DNS) is a plain
retry; a timeout or a dropped connection after it left is *uncertain*: the post
may have arrived, so a destination without idempotency does not resend it
blindly. 429 and 5xx are retried (``Retry-After`` or the vendor's own field
honoured); any other 4xx is permanent.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, StrictBool

from newsbote import USER_AGENT
from newsbote.deliver.base import Destination, Options
from newsbote.errors import BlockedAddressError, DeliveryError, FetchError
from newsbote.fetch.client import connection_problem
from newsbote.fetch.guard import Guard, connector, refused_address
from newsbote.fetch.headers import seconds_until

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_ANSWER = 1024 * 1024
"""Bytes of a reply read at most; the rest is not read (the status is already known)."""
_CHUNK = 65536


class HttpOptions(Options):
    timeout: float = Field(15.0, gt=0, description="seconds per request")
    allow_private: StrictBool = Field(
        False, description="allow loopback and private addresses (a self-hosted server on the LAN)"
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A response: its status, headers and up to :data:`MAX_ANSWER` bytes of its body as text."""

    status: int
    headers: dict[str, str]
    text: str
    truncated: bool = False
    """True when the body was longer than :data:`MAX_ANSWER` and cut there."""

    def json(self) -> Any:
        """The body as JSON, or None where it is none (or too deep to read)."""
        try:
            return json.loads(self.text) if self.text.strip() else None
        except (ValueError, RecursionError):
            return None


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or "utf-8").name
    except LookupError:
        return "utf-8"


async def read_answer(response: aiohttp.ClientResponse, limit: int = MAX_ANSWER) -> Answer:
    """``response`` as an :class:`Answer`: at most ``limit`` bytes read, in chunks, and
    decoded by its charset (UTF-8 by default) with replacement characters, never an error."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    async for chunk in response.content.iter_chunked(_CHUNK):
        if size + len(chunk) > limit:
            chunks.append(chunk[: limit - size])
            truncated = True
            break
        chunks.append(chunk)
        size += len(chunk)
    text = b"".join(chunks).decode(_codec(response.charset), errors="replace")
    return Answer(response.status, dict(response.headers), text, truncated)


HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


class HttpDestination(Destination[HttpOptionsT]):
    """A destination spoken to over HTTP(S)."""

    Options: ClassVar[type[HttpOptions]] = HttpOptions
    _session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=connector(self._guard(), limit=32),
                timeout=aiohttp.ClientTimeout(total=self.options.timeout),
                headers={"User-Agent": USER_AGENT},
                cookie_jar=self.cookie_jar(),
            )
        return self._session

    def _guard(self) -> Guard:
        return Guard(allow_private=self.options.allow_private)

    def cookie_jar(self) -> aiohttp.abc.AbstractCookieJar:
        """Cookies are ignored unless a destination logs in with a session."""
        return aiohttp.DummyCookieJar()

    def retry_after(self, answer: Answer) -> float | None:
        """Seconds to wait after a 429 or 5xx: ``Retry-After`` (delta seconds or an HTTP
        date; finite, never negative, None where malformed; never raises). Vendors
        override for their own field."""
        return seconds_until(answer.headers.get("Retry-After"))

    def describe(self, answer: Answer) -> str:
        """The error text worth keeping from a failed answer."""
        return answer.text[:300]

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        ok: frozenset[int] = frozenset(),
    ) -> Answer:
        """Send one request; a non-2xx status not in ``ok`` raises :class:`DeliveryError`."""
        try:
            checked = self._guard().check_url(url, shown=urlsplit(url).path or "/")
        except FetchError as exc:
            raise DeliveryError(self.name, _refusal(exc), permanent=True) from exc
        try:
            async with self._client().request(
                method,
                checked,
                json=json_body,
                data=data,
                headers=headers,
                params=params,
                allow_redirects=False,
            ) as response:
                answer = await read_answer(response)
        except BlockedAddressError as exc:
            raise DeliveryError(self.name, _refusal(exc), permanent=True) from exc
        except TimeoutError as exc:
            raise DeliveryError(
                self.name,
                f"{_origin(url)}: {connection_problem(exc, self.options.timeout)}",
                uncertain=method != "GET",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            address = refused_address(exc)
            if address is not None:
                raise DeliveryError(self.name, _refusal_of(address), permanent=True) from exc
            raise DeliveryError(self.name, f"{_origin(url)}: {connection_problem(exc)}") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError(
                self.name, f"{_origin(url)}: {connection_problem(exc)}", uncertain=method != "GET"
            ) from exc
        if 200 <= answer.status < 300 or answer.status in ok:
            return answer
        raise DeliveryError(
            self.name,
            f"HTTP {answer.status} from {method} {urlsplit(url).path}: {self.describe(answer)}",
            permanent=answer.status not in RETRYABLE,
            retry_after=self.retry_after(answer),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _origin(url: str) -> str:
    """Where a request went, for its error: scheme, host and port. Not the path nor the
    query (a webhook's token is often there), nor the user's password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _refusal_of(address: str) -> str:
    return (
        f"refused to connect to non-public address {address} "
        "(set allow_private = true on the destination to allow it)"
    )


def _refusal(exc: FetchError) -> str:
    """The guard's refusal of a URL, told as a destination's error."""
    if isinstance(exc, BlockedAddressError):
        return _refusal_of(exc.address)
    return exc.message


def secret_field(description: str, **default: Any) -> Any:
    """A config field holding a secret (a ``SecretStr``: never printed, never logged)."""
    return Field(description=description + ' (literal, "env:NAME" or "file:PATH")', **default)
