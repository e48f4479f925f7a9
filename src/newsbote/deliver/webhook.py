"""Webhook: every post as a signed JSON ``POST`` to a URL of yours.

Body (``application/json``)::

    {"action": "post" | "edit", "id": "<idempotency key>", "remote_id": null | "...",
     "title": "...", "html": "...", "text": "...", "link": "...", "image": null | "...",
     "bot": {"name": "News-Bote", "title": "Ich bring die Post"}}

Headers: ``Idempotency-Key`` (the same for every retry of one delivery),
``X-Newsbote-Timestamp`` (Unix seconds) and, with a secret,
``X-Newsbote-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``.
A receiver answering 2xx may return ``{"id": ..., "url": ...}``; 429 and 5xx are
retried (``Retry-After`` honoured), other 4xx are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from pydantic import Field, field_validator

from newsbote import USER_AGENT
from newsbote.deliver.base import Destination, Options
from newsbote.errors import BlockedAddressError, DeliveryError
from newsbote.fetch.guard import GuardedResolver, is_public_address, literal_address
from newsbote.outbox import Delivery
from newsbote.render.markup import convert
from newsbote.types import Markup, Receipt

RETRYABLE = {408, 425, 429, 500, 502, 503, 504}


class WebhookOptions(Options):
    url: str = Field(description="where to POST")
    secret_env: str | None = Field(None, description="environment variable holding the HMAC secret")
    secret_file: Path | None = Field(None, description="file holding the HMAC secret")
    timeout: float = Field(10.0, gt=0, description="seconds per request")
    allow_private: bool = Field(False, description="allow loopback and private addresses")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, found {value!r}")
        return value


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Newsbote-Signature`` value a receiver recomputes to verify a request."""
    return (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


class Webhook(Destination):
    """Idempotent by contract: retries carry the same ``Idempotency-Key``."""

    kind = "webhook"
    markup = Markup.HTML
    idempotent = True
    Options = WebhookOptions

    _session: aiohttp.ClientSession | None = None

    @property
    def settings(self) -> WebhookOptions:
        assert isinstance(self.options, WebhookOptions)
        return self.options

    def _secret(self) -> bytes | None:
        options = self.settings
        if options.secret_env:
            value = os.environ.get(options.secret_env)
            if not value:
                raise DeliveryError(
                    self.name,
                    f"environment variable {options.secret_env} is not set",
                    permanent=True,
                )
            return value.encode()
        if options.secret_file:
            try:
                return options.secret_file.read_text(encoding="utf-8").strip().encode()
            except OSError as exc:
                raise DeliveryError(
                    self.name, f"cannot read secret file: {exc}", permanent=True
                ) from exc
        return None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver = None if self.settings.allow_private else GuardedResolver()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32, resolver=resolver),
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                headers={"User-Agent": USER_AGENT},
            )
        return self._session

    async def send(self, delivery: Delivery) -> Receipt:
        return await self._post(delivery, "post", None)

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        return await self._post(delivery, "edit", receipt)

    async def _post(self, delivery: Delivery, action: str, receipt: Receipt | None) -> Receipt:
        url = self.settings.url
        address = literal_address(urlsplit(url).hostname or "")
        if address and not self.settings.allow_private and not is_public_address(address):
            raise DeliveryError(
                self.name, f"refused to post to non-public address {address}", permanent=True
            )
        message = delivery.message
        body = json.dumps(
            {
                "action": action,
                "id": delivery.idempotency_key,
                "remote_id": receipt.remote_id if receipt else None,
                "title": message.title,
                "html": message.body,
                "text": convert(message.body, Markup.TEXT),
                "link": message.link,
                "image": message.image,
                "bot": {"name": self.context.bot.name, "title": self.context.bot.title},
            },
            ensure_ascii=False,
        ).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Newsbote-Timestamp": timestamp,
        }
        secret = self._secret()
        if secret is not None:
            headers["X-Newsbote-Signature"] = signature(secret, timestamp, body)
        try:
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except BlockedAddressError as exc:
            raise DeliveryError(self.name, str(exc), permanent=True) from exc
        except TimeoutError as exc:
            raise DeliveryError(self.name, f"no answer within {self.settings.timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError(self.name, f"{type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return self._receipt(text, delivery, receipt)
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        raise DeliveryError(
            self.name,
            f"HTTP {status}: {text[:200]}",
            permanent=status not in RETRYABLE,
            retry_after=wait,
        )

    def _receipt(self, text: str, delivery: Delivery, receipt: Receipt | None) -> Receipt:
        try:
            answer = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        remote = answer.get("id") or (receipt.remote_id if receipt else delivery.idempotency_key)
        url = answer.get("url") or (receipt.url if receipt else None)
        return Receipt(remote_id=str(remote), url=str(url) if url else None)

    async def check(self) -> str:
        self._secret()
        signed = "signed" if (self.settings.secret_env or self.settings.secret_file) else "unsigned"
        return f"webhook to {self.settings.url} ({signed})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
