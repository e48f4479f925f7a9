"""Discord: a message per article through a channel webhook.

``POST {webhook}?wait=true`` with the bot's name and avatar, the article as
Discord Markdown in ``content`` and an embed carrying the title, the link and
the lead image; ``wait=true`` returns the message, whose id later edits use
(``PATCH {webhook}/messages/{id}``). In a forum channel each article opens a
thread (``thread_name``). Webhooks have no idempotency and no way to list
messages: a send with an unknown outcome waits as ``unknown`` for the operator.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, StrictBool

from newsbote.deliver.base import json_field, wait_seconds
from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class DiscordOptions(HttpOptions):
    webhook_url: SecretStr = secret_field(
        "the channel webhook, https://discord.com/api/webhooks/<id>/<token>"
    )
    avatar_url: str | None = Field(None, description="the bot's avatar image")
    forum: StrictBool = Field(
        False, description="the channel is a forum: each article opens a thread"
    )


class Discord(HttpDestination[DiscordOptions]):
    kind = "discord"
    markup = Markup.DISCORD
    max_length = 2000
    rate = (0.5, 5.0)  # webhooks: 30 messages a minute per channel, short bursts of 5
    Options = DiscordOptions

    def _webhook(self) -> str:
        return self.reveal(self.options.webhook_url, "webhook_url").rstrip("/")

    def retry_after(self, answer: Answer) -> float | None:
        """Discord's ``retry_after`` (seconds) in the JSON body, else ``Retry-After``."""
        wait = wait_seconds(json_field(answer, "retry_after"))
        return wait if wait is not None else super().retry_after(answer)

    def _payload(self, delivery: Delivery) -> dict[str, Any]:
        message = delivery.message
        embed: dict[str, Any] = {"title": message.title[:256]}
        if message.link:
            embed["url"] = message.link
        if message.image:
            embed["image"] = {"url": message.image}
        payload: dict[str, Any] = {
            "content": message.body,
            "username": self.context.bot.name[:80],
            "embeds": [embed],
            "allowed_mentions": {"parse": []},  # article text never pings anyone
        }
        if self.options.avatar_url:
            payload["avatar_url"] = self.options.avatar_url
        return payload

    def _receipt(self, answer: Answer) -> Receipt:
        body = answer.json()
        if not isinstance(body, dict) or "id" not in body:
            # a 2xx: the message is likely there, its id unknown; never resent blindly
            raise DeliveryError(
                self.name, f"no message in the answer: {answer.text[:200]}", uncertain=True
            )
        channel = body.get("channel_id", "")
        guild = body.get("guild_id") or "@me"
        url = f"https://discord.com/channels/{guild}/{channel}/{body['id']}" if channel else None
        return Receipt(remote_id=f"{channel}/{body['id']}", url=url)

    async def send(self, delivery: Delivery) -> Receipt:
        payload = self._payload(delivery)
        if self.options.forum:
            payload["thread_name"] = delivery.message.title[:100]
        answer = await self.request(
            "POST", self._webhook(), json_body=payload, params={"wait": "true"}
        )
        return self._receipt(answer)

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        channel, message_id = receipt.remote_id.rsplit("/", 1)
        params = {"thread_id": channel} if self.options.forum else None
        await self.request(
            "PATCH",
            f"{self._webhook()}/messages/{message_id}",
            json_body={
                k: v for k, v in self._payload(delivery).items() if k in ("content", "embeds")
            },
            params=params,
        )
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        """In a forum thread: a message in the article's thread; elsewhere a new message."""
        if not self.options.forum:
            return await self.send(delivery)
        channel = receipt.remote_id.rsplit("/", 1)[0]
        answer = await self.request(
            "POST",
            self._webhook(),
            json_body=self._payload(delivery),
            params={"wait": "true", "thread_id": channel},
        )
        return self._receipt(answer)

    async def check(self) -> str:
        answer = await self.request("GET", self._webhook())
        body = answer.json() or {}
        return f"discord webhook {body.get('name', '?')} in channel {body.get('channel_id', '?')}"
