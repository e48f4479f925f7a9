"""Mastodon: a status per article, at most 500 characters with links counted as 23.

``POST /api/v1/statuses`` with an ``Idempotency-Key`` (Mastodon keeps it for an
hour, so a retry after a crash does not toot twice); edits are
``PUT /api/v1/statuses/:id``; replies thread under the first toot. Visibility,
an optional content warning and the language are per destination, never from a feed.

An ``@name`` or ``@name@host`` in an article would become a mention: a notification
to a stranger, and on a ``direct`` or ``private`` destination a copy of the toot in
their inbox. A zero-width space after each such ``@`` keeps the text as it reads and
takes the mention away (:func:`unmention`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, SecretStr

from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.render.limits import mastodon_length
from newsbote.types import Markup, Receipt

# Mastodon's own mention pattern (Account::MENTION_RE): an "@" not after a word character,
# "/" or "=", followed by a username. One fixed-width lookbehind and lookahead: linear.
_MENTION = re.compile(r"(?<![\w/=])@(?=\w)")
_LINK = re.compile(r"(https?://[^\s<>\"')\]]+)")  # as render.limits counts links


def unmention(text: str) -> str:
    """``text`` with no ``@name`` / ``@name@host`` Mastodon would turn into a mention: a
    zero-width space follows each such ``@``. Links (``https://host/@name``) and mail
    addresses stay as they are; applying it twice changes nothing."""
    parts = _LINK.split(text)  # odd indexes: the links, kept whole
    return "".join(
        part if index % 2 else _MENTION.sub("@\u200b", part) for index, part in enumerate(parts)
    )


class MastodonOptions(HttpOptions):
    instance: str = Field(description="the instance's base URL, e.g. https://chaos.social")
    access_token: SecretStr = secret_field("an access token with the write:statuses scope")
    visibility: Literal["public", "unlisted", "private", "direct"] = Field(
        "public", description="who sees the toots"
    )
    spoiler_text: str | None = Field(None, description="a content warning on every toot")
    max_characters: int = Field(500, ge=100, description="the instance's limit")


class Mastodon(HttpDestination[MastodonOptions]):
    kind = "mastodon"
    markup = Markup.TEXT
    max_length = 500
    idempotent = True
    title_in_body = True
    rate = (300 / 10_800, 30.0)  # 300 statuses per 3 hours per account
    Options = MastodonOptions

    @staticmethod
    def measure(text: str) -> int:
        """The length Mastodon counts for the toot as sent (mentions taken away)."""
        return mastodon_length(unmention(text))

    def _url(self, path: str) -> str:
        return self.options.instance.rstrip("/") + path

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        token = self.reveal(self.options.access_token, "access_token")
        return {"Authorization": f"Bearer {token}", "Idempotency-Key": delivery.idempotency_key}

    def retry_after(self, answer: Answer) -> float | None:
        """On a 429: when the rate limit resets (``X-RateLimit-Reset``, an ISO 8601 time;
        Mastodon sends it on every answer, it says nothing about a 5xx); else ``Retry-After``."""
        reset = answer.headers.get("X-RateLimit-Reset", "") if answer.status == 429 else ""
        try:
            when = datetime.fromisoformat(reset.replace("Z", "+00:00")[:64])
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (ValueError, OverflowError):  # absent or no time: the generic Retry-After
            return super().retry_after(answer)

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        return (
            str(body.get("error"))
            if isinstance(body, dict) and "error" in body
            else super().describe(answer)
        )

    def _status(self, delivery: Delivery) -> dict[str, Any]:
        text = unmention(delivery.message.body)
        if mastodon_length(text) > self.options.max_characters:
            raise DeliveryError(
                self.name,
                f"the toot has {mastodon_length(text)} characters, the instance takes {self.options.max_characters}",
                permanent=True,
            )
        status: dict[str, Any] = {"status": text, "visibility": self.options.visibility}
        if self.options.spoiler_text:
            status["spoiler_text"] = self.options.spoiler_text
        status["language"] = self.context.language
        return status

    def _receipt(self, answer: Answer) -> Receipt:
        body = answer.json()
        if not isinstance(body, dict) or "id" not in body:
            raise DeliveryError(
                self.name, f"no status in the answer: {answer.text[:200]}", uncertain=True
            )
        return Receipt(remote_id=str(body["id"]), url=body.get("url"))

    async def send(self, delivery: Delivery) -> Receipt:
        answer = await self.request(
            "POST",
            self._url("/api/v1/statuses"),
            json_body=self._status(delivery),
            headers=self._headers(delivery),
        )
        return self._receipt(answer)

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        status = {
            k: v
            for k, v in self._status(delivery).items()
            if k in ("status", "spoiler_text", "language")
        }
        answer = await self.request(
            "PUT",
            self._url(f"/api/v1/statuses/{receipt.remote_id}"),
            json_body=status,
            headers=self._headers(delivery),
        )
        return self._receipt(answer)

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        status = self._status(delivery) | {"in_reply_to_id": receipt.remote_id}
        answer = await self.request(
            "POST", self._url("/api/v1/statuses"), json_body=status, headers=self._headers(delivery)
        )
        return self._receipt(answer)

    async def check(self) -> str:
        token = self.reveal(self.options.access_token, "access_token")
        answer = await self.request(
            "GET",
            self._url("/api/v1/accounts/verify_credentials"),
            headers={"Authorization": f"Bearer {token}"},
        )
        body = answer.json() or {}
        return f"mastodon as @{body.get('acct', '?')} on {self.options.instance}"
