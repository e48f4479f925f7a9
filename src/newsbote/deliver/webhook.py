"""Webhook: every post as a signed JSON ``POST`` to a URL of yours.

Body (``application/json``)::

    {"action": "post" | "edit", "id": "<idempotency key>", "remote_id": null | "...",
     "title": "...", "html": "...", "text": "...", "link": "...", "image": null | "...",
     "bot": {"name": "News-Bote", "title": "Ich bring die Post"}}

Headers: ``Idempotency-Key`` (the same for every retry of one delivery),
``X-Newsbote-Timestamp`` (Unix seconds) and, with a secret,
``X-Newsbote-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``.
``link`` and ``image`` are ``null`` unless they are safe http(s) URLs, and every
URL inside ``html`` and ``text`` passes the same policy (see ``newsbote.urls``).
A receiver answering 2xx may return ``{"id": ..., "url": ...}``; 429 and 5xx are
retried (``Retry-After`` honoured), other 4xx are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, SecretStr, field_validator

from newsbote.deliver.http import HttpDestination, HttpOptions
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.render.markup import convert
from newsbote.types import Markup, Receipt
from newsbote.urls import web_url

_ANY_STATUS = frozenset(range(100, 600))


class WebhookOptions(HttpOptions):
    url: str = Field(description="where to POST")
    secret_env: str | None = Field(None, description="environment variable holding the HMAC secret")
    secret_file: Path | None = Field(None, description="file holding the HMAC secret")
    timeout: float = Field(10.0, gt=0, description="seconds per request")
    body_template: Path | None = Field(
        None,
        description="a Jinja2 template that renders the JSON body (it sees the default body's keys)",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http(s) URL, found {value!r}")
        return value


def _undefined(value: object) -> object:
    """``tojson`` of a name the template got wrong: say which, as Jinja does elsewhere."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Newsbote-Signature`` value a receiver recomputes to verify a request."""
    return (
        "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )


class Webhook(HttpDestination[WebhookOptions]):
    """Idempotent by contract: retries carry the same ``Idempotency-Key``."""

    kind = "webhook"
    markup = Markup.HTML
    idempotent = True
    Options = WebhookOptions

    def _secret(self) -> bytes | None:
        options = self.options
        if options.secret_env:
            return self.reveal(SecretStr(f"env:{options.secret_env}"), "secret_env").encode()
        if options.secret_file:
            return self.reveal(SecretStr(f"file:{options.secret_file}"), "secret_file").encode()
        return None

    async def send(self, delivery: Delivery) -> Receipt:
        return await self._post(delivery, "post", None)

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        return await self._post(delivery, "edit", receipt)

    _template: Template | None = None

    def _render(self, payload: dict[str, Any]) -> bytes:
        """The request body: the payload as JSON, or as the configured template makes it."""
        path = self.options.body_template
        if path is None:
            return json.dumps(payload, ensure_ascii=False).encode()
        if not path.is_absolute() and self.context.base_dir is not None:
            path = self.context.base_dir / path
        try:
            if self._template is None:
                environment = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
                environment.policies["json.dumps_kwargs"] = {"default": _undefined}
                self._template = environment.from_string(path.read_text(encoding="utf-8"))
            rendered = self._template.render(payload)
            json.loads(rendered)
        except OSError as exc:
            raise DeliveryError(
                self.name, f"cannot read body_template {path}: {exc}", permanent=True
            ) from exc
        except TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else str(path)
            raise DeliveryError(self.name, f"body_template {where}: {exc}", permanent=True) from exc
        except json.JSONDecodeError as exc:
            raise DeliveryError(
                self.name,
                f"body_template {path} did not render JSON: {exc} (use the tojson filter)",
                permanent=True,
            ) from exc
        return rendered.encode()

    async def _post(self, delivery: Delivery, action: str, receipt: Receipt | None) -> Receipt:
        message = delivery.message
        body = self._render(
            {
                "action": action,
                "id": delivery.idempotency_key,
                "remote_id": receipt.remote_id if receipt else None,
                "title": message.title,
                # the URL policy again: a ledger row may predate it, a receiver may render the HTML
                "html": convert(message.body, Markup.HTML),
                "text": convert(message.body, Markup.TEXT),
                "link": web_url(message.link),
                "image": web_url(message.image),
                "bot": {"name": self.context.bot.name, "title": self.context.bot.title},
            }
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Newsbote-Timestamp": timestamp,
        }
        secret = self._secret()
        if secret is not None:
            headers["X-Newsbote-Signature"] = signature(secret, timestamp, body)
        answer = await self.request("POST", self.options.url, data=body, headers=headers)
        return self._receipt(answer.text, delivery, receipt)

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
        sample = {"action": "post", "id": "newsbote-check", "remote_id": None, "title": "Titel",
                  "html": "<p>Text</p>", "text": "Text", "link": "https://example.org/",
                  "image": None, "bot": {"name": self.context.bot.name, "title": self.context.bot.title}}  # fmt: skip
        self._render(sample)
        signed = "signed" if (self.options.secret_env or self.options.secret_file) else "unsigned"
        # reachable is any HTTP answer (a receiver that takes POST only says 405 to HEAD);
        # a refused connection, an unknown host, a bad certificate or no answer fails
        answer = await self.request("HEAD", self.options.url, ok=_ANY_STATUS)
        return f"webhook to {self.options.url} ({signed}; HEAD answered HTTP {answer.status})"
