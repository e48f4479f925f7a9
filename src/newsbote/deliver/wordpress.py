"""WordPress: a post per article through the REST API (``/wp/v2/posts``).

Authentication is an application password (Users → Profile → Application
Passwords) sent as HTTP Basic. Each post's slug is the delivery's
idempotency key, which lets newsbote find a post whose send had an unknown
outcome (``?slug=…&status=any``) instead of posting it twice. Edits update
the post's title and content in place. Requests use ``/?rest_route=``, which
works with and without pretty permalinks.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import Field, SecretStr

from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class WordPressOptions(HttpOptions):
    url: str = Field(description="the site's base URL, e.g. https://blog.example.org")
    username: str = Field(description="the account that posts")
    application_password: SecretStr = secret_field("an application password of that account")
    status: Literal["publish", "draft", "pending", "private"] = Field(
        "publish", description="the new posts' status"
    )
    categories: list[int] = Field([], description="category ids for every post")
    tags: list[int] = Field([], description="tag ids for every post")


class WordPress(HttpDestination[WordPressOptions]):
    kind = "wordpress"
    markup = Markup.HTML
    can_lookup = True
    Options = WordPressOptions

    def _headers(self) -> dict[str, str]:
        password = self.reveal(self.options.application_password, "application_password")
        token = base64.b64encode(f"{self.options.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict) and "code" in body:
            return f"{body['code']}: {body.get('message', '')}"
        return super().describe(answer)

    @staticmethod
    def _receipt(post: Any) -> Receipt:
        if not isinstance(post, dict) or "id" not in post:
            raise DeliveryError(  # after a 2xx: the post may be there
                "wordpress", f"no post in the answer: {str(post)[:200]}", uncertain=True
            )
        return Receipt(remote_id=str(post["id"]), url=post.get("link"))

    async def _call(
        self, method: str, route: str, body: dict[str, Any] | None = None, **query: str
    ) -> Any:
        answer = await self.request(
            method,
            f"{self.options.url.rstrip('/')}/",
            params={"rest_route": route, **query},
            json_body=body,
            headers=self._headers(),
        )
        return answer.json()

    async def send(self, delivery: Delivery) -> Receipt:
        message = delivery.message
        post = {
            "title": message.title,
            "content": message.body,
            "status": self.options.status,
            "slug": delivery.idempotency_key,
            "categories": self.options.categories,
            "tags": self.options.tags,
        }
        return self._receipt(await self._call("POST", "/wp/v2/posts", post))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        update = {"title": delivery.message.title, "content": delivery.message.body}
        return self._receipt(await self._call("POST", f"/wp/v2/posts/{receipt.remote_id}", update))

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        found = await self._call(
            "GET", "/wp/v2/posts", slug=delivery.idempotency_key, status="any", context="edit"
        )
        return self._receipt(found[0]) if isinstance(found, list) and found else None

    async def check(self) -> str:
        me = await self._call("GET", "/wp/v2/users/me", context="edit")
        capabilities = (me or {}).get("capabilities") or {}
        if not capabilities.get("publish_posts"):
            raise DeliveryError(
                self.name, f"{self.options.username} may not publish posts", permanent=True
            )
        return f"wordpress as {self.options.username} on {self.options.url}"
