"""Slack: a message per article from a bot, in mrkdwn.

``chat.postMessage`` with a bot token (``chat:write``), edits with
``chat.update``, replies in the message's thread. Slack answers HTTP 200 with
``"ok": false`` for most errors; ``rate_limited`` comes as 429 with
``Retry-After``. Slack has no idempotency, but a bot can read its channel
(``channels:history``): a send with an unknown outcome is looked up by the
article's link among the bot's recent messages before anything is resent.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, StrictBool

from newsbote.deliver.http import HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt

RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    }
)


class SlackOptions(HttpOptions):
    bot_token: SecretStr = secret_field("the bot token (xoxb-…) with chat:write")
    channel: str = Field(description="the channel id, e.g. C0123456789")
    unfurl_links: StrictBool = Field(True, description="let Slack preview the article link")
    customize: StrictBool = Field(
        False, description="post as the bot's name and icon_url (needs chat:write.customize)"
    )
    icon_url: str | None = Field(None, description="the bot's avatar, with customize")
    api_url: str = Field("https://slack.com/api", description="the Web API base URL")


class Slack(HttpDestination[SlackOptions]):
    kind = "slack"
    markup = Markup.SLACK
    max_length = 40_000
    title_in_body = True
    can_lookup = True
    rate = (1.0, 3.0)  # chat.postMessage: about one message a second per channel
    Options = SlackOptions

    async def _call(
        self, method: str, payload: dict[str, Any], *, http: str = "POST"
    ) -> dict[str, Any]:
        token = self.reveal(self.options.bot_token, "bot_token")
        url = f"{self.options.api_url.rstrip('/')}/{method}"
        headers = {"Authorization": f"Bearer {token}"}
        if http == "GET":
            answer = await self.request("GET", url, params=payload, headers=headers)
        else:
            answer = await self.request("POST", url, json_body=payload, headers=headers)
        body = answer.json()
        if not isinstance(body, dict):
            raise DeliveryError(self.name, f"{method}: not JSON: {answer.text[:200]}")
        if not body.get("ok"):
            error = str(body.get("error", "unknown_error"))
            raise DeliveryError(
                self.name, f"{method}: {error}", permanent=error not in RETRYABLE_ERRORS
            )
        return body

    def _message(self, delivery: Delivery) -> dict[str, Any]:
        message: dict[str, Any] = {
            "channel": self.options.channel,
            "text": delivery.message.body,
            "mrkdwn": True,
            "unfurl_links": self.options.unfurl_links,
        }
        if self.options.customize:
            message["username"] = self.context.bot.name
            if self.options.icon_url:
                message["icon_url"] = self.options.icon_url
        return message

    def _receipt(self, body: dict[str, Any]) -> Receipt:
        return Receipt(
            remote_id=f"{body.get('channel', self.options.channel)}/{body['ts']}", url=None
        )

    async def send(self, delivery: Delivery) -> Receipt:
        return self._receipt(await self._call("chat.postMessage", self._message(delivery)))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        channel, ts = receipt.remote_id.split("/", 1)
        await self._call("chat.update", self._message(delivery) | {"channel": channel, "ts": ts})
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        ts = receipt.remote_id.split("/", 1)[1]
        return self._receipt(
            await self._call("chat.postMessage", self._message(delivery) | {"thread_ts": ts})
        )

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        """The bot's message carrying this article's link among the channel's last 200."""
        self.first_version_only(delivery)
        link = delivery.message.link
        if not link:
            raise DeliveryError(self.name, "no link to look the message up by", uncertain=True)
        me = await self._call("auth.test", {})
        history = await self._call(
            "conversations.history", {"channel": self.options.channel, "limit": "200"}, http="GET"
        )
        for message in history.get("messages", []):
            if message.get("user") == me.get("user_id") and link in message.get("text", ""):
                return Receipt(remote_id=f"{self.options.channel}/{message['ts']}", url=None)
        return None

    async def check(self) -> str:
        me = await self._call("auth.test", {})
        return f"slack as {me.get('user', '?')} in {me.get('team', '?')}, channel {self.options.channel}"
