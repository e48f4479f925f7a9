"""Discourse: a topic per article in a category, with tags.

``POST /posts.json`` with ``title``, ``raw`` (Markdown), ``category``, ``tags``
and ``external_id``: Discourse keeps one topic per external id, so a retry after
a crash finds the topic instead of opening a second one
(``GET /t/external_id/{id}.json``). Edits change the first post
(``PUT /posts/{id}.json``) and the title (``PUT /t/-/{topic}.json``); replies
post in the topic. Authentication: ``Api-Key`` and ``Api-Username`` headers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field, SecretStr

from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class DiscourseOptions(HttpOptions):
    url: str = Field(description="the forum's base URL, e.g. https://forum.example.org")
    api_key: SecretStr = secret_field("an API key (Admin → API) allowed to create topics")
    api_username: str = Field(description="the bot account that posts, e.g. News-Bote")
    category: int = Field(description="the category id topics go into")
    tags: list[str] = Field([], description="tags on every topic")


class Discourse(HttpDestination[DiscourseOptions]):
    kind = "discourse"
    markup = Markup.MARKDOWN
    max_length = 32_000  # Discourse's default max_post_length
    idempotent = True
    can_lookup = True
    rate = (1.0, 60.0)  # admin API keys: 60 requests a minute
    Options = DiscourseOptions

    def _url(self, path: str) -> str:
        return self.options.url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {
            "Api-Key": self.reveal(self.options.api_key, "api_key"),
            "Api-Username": self.options.api_username,
        }

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"])
        return super().describe(answer)

    @staticmethod
    def external_id(delivery: Delivery) -> str:
        return delivery.idempotency_key

    def _topic_receipt(self, topic_id: Any, slug: Any, post_id: Any) -> Receipt:
        return Receipt(
            remote_id=f"{topic_id}/{post_id}", url=self._url(f"/t/{slug or 'topic'}/{topic_id}")
        )

    async def send(self, delivery: Delivery) -> Receipt:
        payload = {
            "title": delivery.message.title,
            "raw": delivery.message.body,
            "category": self.options.category,
            "tags": self.options.tags,
            "external_id": self.external_id(delivery),
        }
        try:
            answer = await self.request(
                "POST", self._url("/posts.json"), json_body=payload, headers=self._headers()
            )
        except DeliveryError as exc:
            if "external" in str(exc).lower() and "taken" in str(exc).lower():
                found = await self.lookup(delivery)  # created by an earlier attempt
                if found is not None:
                    return found
            raise
        body = answer.json() or {}
        return self._topic_receipt(body.get("topic_id"), body.get("topic_slug"), body.get("id"))

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        answer = await self.request(
            "GET",
            self._url(f"/t/external_id/{self.external_id(delivery)}.json"),
            headers=self._headers(),
            ok=frozenset({301, 302, 404}),
        )
        if answer.status == 404:
            return None
        if answer.status in (301, 302):  # Discourse redirects to the topic's own URL
            location = urljoin(self._url("/"), answer.headers.get("Location", ""))
            if urlsplit(location).netloc != urlsplit(self._url("/")).netloc:
                raise DeliveryError(
                    self.name, f"lookup redirected off the forum: {location}", uncertain=True
                )
            answer = await self.request("GET", location, headers=self._headers())
        topic = answer.json() or {}
        posts = (topic.get("post_stream") or {}).get("posts") or [{}]
        return self._topic_receipt(topic.get("id"), topic.get("slug"), posts[0].get("id"))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        topic_id, post_id = receipt.remote_id.split("/", 1)
        await self.request(
            "PUT",
            self._url(f"/posts/{post_id}.json"),
            json_body={
                "post": {"raw": delivery.message.body, "edit_reason": "newsbote: article updated"}
            },
            headers=self._headers(),
        )
        await self.request(
            "PUT",
            self._url(f"/t/-/{topic_id}.json"),
            json_body={"title": delivery.message.title},
            headers=self._headers(),
        )
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        topic_id = receipt.remote_id.split("/", 1)[0]
        raw = f"**{delivery.message.title}**\n\n{delivery.message.body}"
        answer = await self.request(
            "POST",
            self._url("/posts.json"),
            json_body={"topic_id": int(topic_id), "raw": raw},
            headers=self._headers(),
        )
        body = answer.json() or {}
        return Receipt(remote_id=f"{topic_id}/{body.get('id')}", url=receipt.url)

    async def check(self) -> str:
        answer = await self.request(
            "GET", self._url(f"/u/{self.options.api_username}.json"), headers=self._headers()
        )
        user = (answer.json() or {}).get("user") or {}
        return f"discourse as {user.get('username', '?')} into category {self.options.category}"
