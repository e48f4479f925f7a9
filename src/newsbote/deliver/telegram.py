"""Telegram: a message per article from a bot, in Telegram's HTML subset.

``sendMessage`` with ``parse_mode = "HTML"`` (4,096 characters), edits with
``editMessageText``, replies with ``reply_parameters``. Flood control answers
429 with ``parameters.retry_after``, which is honoured. The Bot API has neither
idempotency nor a history for bots: a send with an unknown outcome waits as
``unknown`` for the operator.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, StrictBool

from newsbote.deliver.base import json_field, wait_seconds
from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class TelegramOptions(HttpOptions):
    bot_token: SecretStr = secret_field("the bot's token from @BotFather")
    chat_id: str = Field(
        description='the chat: "@channelname" or a numeric id such as "-1001234567890"'
    )
    link_preview: StrictBool = Field(
        True, description="let Telegram show a preview of the article link"
    )
    api_url: str = Field("https://api.telegram.org", description="the Bot API server")


class Telegram(HttpDestination[TelegramOptions]):
    kind = "telegram"
    markup = Markup.TELEGRAM
    max_length = 4096
    title_in_body = True
    rate = (1 / 3, 20.0)  # 20 messages a minute into one group
    Options = TelegramOptions

    def _method(self, name: str) -> str:
        token = self.reveal(self.options.bot_token, "bot_token")
        return f"{self.options.api_url.rstrip('/')}/bot{token}/{name}"

    def retry_after(self, answer: Answer) -> float | None:
        """The Bot API's ``parameters.retry_after`` (seconds), else ``Retry-After``."""
        wait = wait_seconds(json_field(answer, "parameters", "retry_after"))
        return wait if wait is not None else super().retry_after(answer)

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict) and "description" in body:
            return str(body["description"])
        return super().describe(answer)

    async def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = await self.request("POST", self._method(method), json_body=payload)
        body = answer.json()
        if not isinstance(body, dict):  # a 2xx no one can read: the message may be there
            raise DeliveryError(
                self.name, f"{method}: unreadable answer: {answer.text[:200]}", uncertain=True
            )
        if not body.get("ok"):
            raise DeliveryError(self.name, f"{method} failed: {answer.text[:200]}", permanent=True)
        result = body.get("result")
        return result if isinstance(result, dict) else {}

    def _text(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "chat_id": self.options.chat_id,
            "text": delivery.message.body,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": not self.options.link_preview},
        }

    def _receipt(self, result: dict[str, Any]) -> Receipt:
        if "message_id" not in result:
            raise DeliveryError(self.name, "no message_id in the answer", uncertain=True)
        chat = result.get("chat") or {}
        message_id = result["message_id"]
        username = chat.get("username")
        url = f"https://t.me/{username}/{message_id}" if username else None
        return Receipt(remote_id=f"{chat.get('id', self.options.chat_id)}/{message_id}", url=url)

    async def send(self, delivery: Delivery) -> Receipt:
        return self._receipt(await self._call("sendMessage", self._text(delivery)))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        chat, message_id = receipt.remote_id.rsplit("/", 1)
        payload = self._text(delivery) | {"chat_id": chat, "message_id": int(message_id)}
        await self._call("editMessageText", payload)
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        message_id = int(receipt.remote_id.rsplit("/", 1)[1])
        payload = self._text(delivery) | {"reply_parameters": {"message_id": message_id}}
        return self._receipt(await self._call("sendMessage", payload))

    async def check(self) -> str:
        me = await self._call("getMe", {})
        chat = await self._call("getChat", {"chat_id": self.options.chat_id})
        return f"telegram as @{me.get('username', '?')} into {chat.get('title') or self.options.chat_id}"
