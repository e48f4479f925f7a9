"""What the HTTP destinations share: one guarded session, secrets, and the error rules.

A transport error before the request left (connection refused, DNS) is a plain
retry; a timeout or a dropped connection after it left is *uncertain*: the post
may have arrived, so a destination without idempotency does not resend it
blindly. 429 and 5xx are retried (``Retry-After`` or the vendor's own field
honoured); any other 4xx is permanent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field

from newsbote import USER_AGENT
from newsbote.deliver.base import Destination, Options
from newsbote.errors import BlockedAddressError, DeliveryError
from newsbote.fetch.guard import GuardedResolver, is_public_address, literal_address

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpOptions(Options):
    timeout: float = Field(15.0, gt=0, description="seconds per request")
    allow_private: bool = Field(
        False, description="allow loopback and private addresses (a self-hosted server on the LAN)"
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A response, read whole."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        try:
            return json.loads(self.text) if self.text.strip() else None
        except json.JSONDecodeError:
            return None


HttpOptionsT = TypeVar("HttpOptionsT", bound=HttpOptions)


class HttpDestination(Destination[HttpOptionsT]):
    """A destination spoken to over HTTP(S)."""

    Options: ClassVar[type[HttpOptions]] = HttpOptions
    _session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self.options.allow_private else GuardedResolver()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32, resolver=resolver),
                timeout=aiohttp.ClientTimeout(total=self.options.timeout),
                headers={"User-Agent": USER_AGENT},
                cookie_jar=self.cookie_jar(),
            )
        return self._session

    def cookie_jar(self) -> aiohttp.abc.AbstractCookieJar:
        """Cookies are ignored unless a destination logs in with a session."""
        return aiohttp.DummyCookieJar()

    def retry_after(self, answer: Answer) -> float | None:
        """Seconds to wait after a 429 or 5xx: ``Retry-After``; vendors override for their field."""
        value = answer.headers.get("Retry-After", "")
        try:
            return max(0.0, float(value))
        except ValueError:
            return None

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
        address = literal_address(urlsplit(url).hostname or "")
        if address and not self.options.allow_private and not is_public_address(address):
            raise DeliveryError(
                self.name, f"refused to post to non-public address {address}", permanent=True
            )
        try:
            async with self._client().request(
                method,
                url,
                json=json_body,
                data=data,
                headers=headers,
                params=params,
                allow_redirects=False,
            ) as response:
                answer = Answer(response.status, dict(response.headers), await response.text())
        except BlockedAddressError as exc:
            raise DeliveryError(self.name, str(exc), permanent=True) from exc
        except TimeoutError as exc:
            raise DeliveryError(
                self.name, f"no answer within {self.options.timeout:g}s", uncertain=method != "GET"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise DeliveryError(self.name, f"cannot connect: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError(
                self.name, f"{type(exc).__name__}: {exc}", uncertain=method != "GET"
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


def secret_field(description: str, **default: Any) -> Any:
    """A config field holding a secret (a ``SecretStr``: never printed, never logged)."""
    return Field(description=description + ' (literal, "env:NAME" or "file:PATH")', **default)
