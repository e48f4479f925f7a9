"""Misago: a thread per article, through the forum's own JSON API.

Misago has no API keys: newsbote signs in as the bot account (``POST /api/auth/``
with Django's CSRF token) and keeps the session. Threads are
``POST /api/threads/`` in a category, in Misago's Markdown; edits change the
first post (``PUT /api/threads/{id}/posts/{post}/``) and the title (``PATCH``);
replies are posts in the thread. Misago refuses posts less than 3 seconds apart
unless the account's role may "omit flood protection": the default rate keeps
to that. No idempotency: a send with an unknown outcome is looked up among the
category's threads (same title, started by the bot) before anything is resent.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import Field, SecretStr

from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.types import Markup, Receipt


class MisagoOptions(HttpOptions):
    url: str = Field(description="the forum's base URL, e.g. https://forum.example.org")
    username: str = Field(description="the bot account")
    password: SecretStr = secret_field("the bot account's password")
    category: int = Field(description="the category id threads go into")


class Misago(HttpDestination[MisagoOptions]):
    kind = "misago"
    markup = Markup.MARKDOWN
    max_length = 60_000  # Misago's default post_length_max
    can_lookup = True
    rate = (1 / 3.5, 1.0)  # Misago refuses posts less than 3 s apart (flood protection)
    Options = MisagoOptions

    _signed_in = False

    def cookie_jar(self) -> aiohttp.abc.AbstractCookieJar:
        return aiohttp.CookieJar(unsafe=True)  # the session and CSRF cookies, also on an IP host

    def _url(self, path: str) -> str:
        return self.options.url.rstrip("/") + path

    def _csrf(self) -> dict[str, str]:
        jar = self._client().cookie_jar
        token = next((c.value for c in jar if c.key == "csrftoken"), "")
        return {"X-CSRFToken": token, "Referer": self._url("/")}

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict):
            return "; ".join(f"{k}: {v}" for k, v in body.items())
        return super().describe(answer)

    async def _sign_in(self) -> None:
        if self._signed_in:
            return
        self._client().cookie_jar.clear()  # a fresh session: Misago refuses sign-in to a signed-in one
        await self.request("GET", self._url("/"))  # sets Django's csrftoken cookie
        credentials = {
            "username": self.options.username,
            "password": self.reveal(self.options.password, "password"),
        }
        try:
            await self.request(
                "POST", self._url("/api/auth/"), json_body=credentials, headers=self._csrf()
            )
        except DeliveryError as exc:
            raise DeliveryError(
                self.name,
                f"sign-in as {self.options.username} failed: {exc}",
                permanent=exc.permanent,
            ) from exc
        self._signed_in = True

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        await self._sign_in()
        try:
            answer = await self.request(
                method, self._url(path), json_body=body, headers=self._csrf()
            )
        except DeliveryError as exc:
            if "HTTP 403" in str(exc):
                self._signed_in = False  # the session may have ended: sign in again next time
            if method == "POST" and "HTTP 403" in str(exc):
                # Misago's flood protection answers 403 (another worker posted as the bot just
                # now); a real lack of permission shows in `newsbote check`
                raise DeliveryError(self.name, str(exc), retry_after=3.5) from exc
            raise
        return answer.json()

    def _receipt(self, thread: Any) -> Receipt:
        if not isinstance(thread, dict) or "id" not in thread:
            raise DeliveryError(  # after a 2xx: the thread may be there
                self.name, f"no thread in the answer: {str(thread)[:200]}", uncertain=True
            )
        url = thread.get("url")
        return Receipt(
            remote_id=str(thread["id"]), url=self._url(url) if isinstance(url, str) else None
        )

    async def send(self, delivery: Delivery) -> Receipt:
        thread = {
            "category": self.options.category,
            "title": delivery.message.title,
            "post": delivery.message.body,
        }
        return self._receipt(await self._call("POST", "/api/threads/", thread))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        thread = await self._call("GET", f"/api/threads/{receipt.remote_id}/posts/")
        posts = ((thread or {}).get("post_set") or {}).get("results") or []
        if not posts:
            raise DeliveryError(
                self.name, f"thread {receipt.remote_id} has no posts", permanent=True
            )
        await self._call(
            "PUT",
            f"/api/threads/{receipt.remote_id}/posts/{posts[0]['id']}/",
            {"post": delivery.message.body},
        )
        await self._call(
            "PATCH",
            f"/api/threads/{receipt.remote_id}/",
            [{"op": "replace", "path": "title", "value": delivery.message.title}],
        )
        return receipt

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        post = f"**{delivery.message.title}**\n\n{delivery.message.body}"
        await self._call("POST", f"/api/threads/{receipt.remote_id}/posts/", {"post": post})
        return receipt

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        self.first_version_only(delivery)
        listing = await self._call("GET", f"/api/threads/?category={self.options.category}")
        for thread in (listing or {}).get("results", []):
            if (
                thread.get("title") == delivery.message.title
                and thread.get("starter_name") == self.options.username
            ):
                return self._receipt(thread)
        return None

    async def check(self) -> str:
        editor = await self._call("GET", "/api/threads/editor/")
        allowed = {c.get("id") for c in editor or [] if isinstance(c, dict) and c.get("post")}
        if self.options.category not in allowed:
            raise DeliveryError(
                self.name,
                f"{self.options.username} may not start threads in category {self.options.category}",
                permanent=True,
            )
        return f"misago as {self.options.username} into category {self.options.category}"
