"""XenForo 2: a thread per article in a forum node, in BBCode: the seed forum's own way.

``POST /api/threads/`` (form fields ``node_id``, ``title``, ``message``,
``prefix_id``, ``tags[]``) with ``XF-Api-Key`` and ``XF-Api-User`` (the bot
account's user id, for a super user key). Edits change the first post
(``POST /api/posts/{id}/``) and the title (``POST /api/threads/{id}/``);
replies are posts in the thread. XenForo has no idempotency: a send with an
unknown outcome is looked up among the node's newest threads (same title, same
author) before anything is resent.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class XenForoOptions(HttpOptions):
    url: str = Field(description="the forum's base URL, e.g. https://forum.example.org")
    api_key: SecretStr = secret_field("a super user API key with thread:write")
    api_user: int = Field(description="the bot account's user id (XF-Api-User)")
    node_id: int = Field(description="the forum node threads go into")
    prefix_id: int | None = Field(None, description="a thread prefix")
    tags: list[str] = Field([], description="tags on every thread")


class XenForo(HttpDestination[XenForoOptions]):
    kind = "xenforo"
    markup = Markup.BBCODE
    max_length = 60_000
    can_lookup = True
    Options = XenForoOptions

    def _url(self, path: str) -> str:
        return self.options.url.rstrip("/") + "/api" + path

    def _headers(self) -> dict[str, str]:
        return {
            "XF-Api-Key": self.reveal(self.options.api_key, "api_key"),
            "XF-Api-User": str(self.options.api_user),
        }

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            return "; ".join(
                f"{e.get('code')}: {e.get('message')}"
                for e in body["errors"]
                if isinstance(e, dict)
            )
        return super().describe(answer)

    async def _form(self, path: str, fields: list[tuple[str, Any]]) -> dict[str, Any]:
        answer = await self.request(
            "POST", self._url(path), data=[(k, str(v)) for k, v in fields], headers=self._headers()
        )
        body = answer.json()
        if not isinstance(body, dict) or not body.get("success", True):
            raise DeliveryError(self.name, f"{path}: {answer.text[:200]}")
        return body

    @staticmethod
    def _receipt(thread: dict[str, Any]) -> Receipt:
        return Receipt(
            remote_id=f"{thread.get('thread_id')}/{thread.get('first_post_id')}",
            url=thread.get("view_url"),
        )

    async def send(self, delivery: Delivery) -> Receipt:
        fields: list[tuple[str, Any]] = [
            ("node_id", self.options.node_id),
            ("title", delivery.message.title),
            ("message", delivery.message.body),
        ]
        if self.options.prefix_id is not None:
            fields.append(("prefix_id", self.options.prefix_id))
        fields += [("tags[]", tag) for tag in self.options.tags]
        body = await self._form("/threads/", fields)
        return self._receipt(body.get("thread") or {})

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        thread_id, post_id = receipt.remote_id.split("/", 1)
        await self._form(f"/posts/{post_id}/", [("message", delivery.message.body)])
        await self._form(f"/threads/{thread_id}/", [("title", delivery.message.title)])
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        thread_id = receipt.remote_id.split("/", 1)[0]
        message = f"[b]{delivery.message.title}[/b]\n\n{delivery.message.body}"
        body = await self._form("/posts/", [("thread_id", thread_id), ("message", message)])
        post = body.get("post") or {}
        return Receipt(remote_id=f"{thread_id}/{post.get('post_id')}", url=receipt.url)

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        self.first_version_only(delivery)
        answer = await self.request(
            "GET",
            self._url(f"/forums/{self.options.node_id}/threads"),
            headers=self._headers(),
            params={"order": "post_date", "direction": "desc"},
        )
        for thread in (answer.json() or {}).get("threads", []):
            if (
                thread.get("title") == delivery.message.title
                and thread.get("user_id") == self.options.api_user
            ):
                return self._receipt(thread)
        return None

    async def check(self) -> str:
        answer = await self.request("GET", self._url("/me/"), headers=self._headers())
        me = (answer.json() or {}).get("me") or {}
        return f"xenforo as {me.get('username', '?')} into node {self.options.node_id}"
