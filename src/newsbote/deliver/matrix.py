"""Matrix: a room message per article, over the client-server API.

Each post is ``PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}``
with an ``org.matrix.custom.html`` body and a plain-text fallback. The
transaction id is the delivery's idempotency key, so the homeserver drops a
retried send of the same delivery (per access token). Edits are ``m.replace``
events; replies quote the first post with ``m.in_reply_to``.

Article text never pings anyone: every message carries an empty ``m.mentions``
(intentional mentions, spec v1.7: a server or client that knows them ignores
user ids, display names and ``@room`` in the text), and for those that do not,
``@room`` is broken by a word joiner after its ``@`` in ``body`` and
``formatted_body`` (:func:`unping`).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr, StrictBool

from newsbote.deliver.base import json_field, wait_seconds
from newsbote.deliver.http import Answer, HttpDestination, HttpOptions, secret_field
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.render.markup import convert
from newsbote.types import Markup, Receipt

API = "/_matrix/client/v3"

# "@room" as the legacy push rule .m.rule.roomnotif finds it in a body: a whole word
# (case-insensitive), after anything; HTML may write the "@" as a character reference.
_ROOM = re.compile(r"(@|&#0*64;|&#x0*40;|&commat;)(room)(?!\w)", re.IGNORECASE)
_TAG = re.compile(r"(<[^>]*>)")


def unping(text: str, *, html: bool = False) -> str:
    """``text`` with every ``@room`` broken by a word joiner (U+2060) after the ``@``:
    it reads the same and notifies no one. In ``html``, only text is changed, never a
    tag or its attributes (a link to ``https://host/@room`` stays whole)."""
    if not html:
        return _ROOM.sub("\\1\u2060\\2", text)
    parts = _TAG.split(text)  # odd indexes: the tags
    return "".join(
        part if index % 2 else _ROOM.sub("\\1\u2060\\2", part) for index, part in enumerate(parts)
    )


class MatrixOptions(HttpOptions):
    homeserver: str = Field(
        description="the homeserver's base URL, e.g. https://matrix.example.org"
    )
    room: str = Field(description="room id (!abc:server) or alias (#news:server)")
    access_token: SecretStr = secret_field("the bot account's access token")
    msgtype: Literal["m.text", "m.notice"] = Field(
        "m.text", description='"m.notice" marks the posts as a bot\'s (clients show them muted)'
    )
    set_profile: StrictBool = Field(
        True, description="give the account the bot's name (and avatar_url) before posting"
    )
    avatar_url: str | None = Field(None, description="the bot's avatar as an mxc:// URI")


class Matrix(HttpDestination[MatrixOptions]):
    """Idempotent through transaction ids."""

    kind = "matrix"
    markup = Markup.MATRIX
    max_length = 30_000
    idempotent = True
    title_in_body = True
    rate = (0.2, 10.0)  # Synapse's default rc_message: 0.2/s with a burst of 10
    Options = MatrixOptions

    _room_id: str | None = None
    _profile_done = False

    def _url(self, path: str) -> str:
        return self.options.homeserver.rstrip("/") + API + path

    def _headers(self) -> dict[str, str]:
        token = self.reveal(self.options.access_token, "access_token")
        return {"Authorization": f"Bearer {token}"}

    def retry_after(self, answer: Answer) -> float | None:
        """The homeserver's ``retry_after_ms`` (M_LIMIT_EXCEEDED), else ``Retry-After``."""
        wait = wait_seconds(json_field(answer, "retry_after_ms"), unit=0.001)
        return wait if wait is not None else super().retry_after(answer)

    def describe(self, answer: Answer) -> str:
        body = answer.json()
        if isinstance(body, dict) and "errcode" in body:
            return f"{body['errcode']}: {body.get('error', '')}"
        return super().describe(answer)

    async def room_id(self) -> str:
        """The configured room's id, resolving an alias once."""
        if self._room_id is None:
            room = self.options.room
            if room.startswith("#"):
                answer = await self.request(
                    "GET",
                    self._url(f"/directory/room/{quote(room, safe='')}"),
                    headers=self._headers(),
                )
                room = str((answer.json() or {}).get("room_id") or "")
                if not room:
                    raise DeliveryError(
                        self.name, f"alias {self.options.room} has no room", permanent=True
                    )
            self._room_id = room
        return self._room_id

    def _content(self, delivery: Delivery) -> dict[str, Any]:
        html = delivery.message.body
        return {
            "msgtype": self.options.msgtype,
            "body": unping(convert(html, Markup.TEXT)),
            "format": "org.matrix.custom.html",
            "formatted_body": unping(html, html=True),
            "m.mentions": {},  # nobody: feed text mentions no one
        }

    async def _profile(self) -> None:
        """The account shows the bot's name ("News-Bote") and avatar: once per process."""
        if self._profile_done or not self.options.set_profile:
            return
        headers = self._headers()
        whoami = await self.request("GET", self._url("/account/whoami"), headers=headers)
        user = quote(str((whoami.json() or {}).get("user_id", "")), safe="")
        profile = await self.request(
            "GET", self._url(f"/profile/{user}"), headers=headers, ok=frozenset({404})
        )
        current = profile.json() if profile.status == 200 else {}
        wanted = {"displayname": self.context.bot.name, "avatar_url": self.options.avatar_url}
        for field, value in wanted.items():
            if value and (current or {}).get(field) != value:
                await self.request(
                    "PUT",
                    self._url(f"/profile/{user}/{field}"),
                    json_body={field: value},
                    headers=headers,
                )
        self._profile_done = True

    async def _put(self, delivery: Delivery, content: dict[str, Any]) -> Receipt:
        await self._profile()
        room = await self.room_id()
        url = self._url(
            f"/rooms/{quote(room, safe='')}/send/m.room.message/{delivery.idempotency_key}"
        )
        answer = await self.request("PUT", url, json_body=content, headers=self._headers())
        event = json_field(answer, "event_id")
        if not isinstance(event, str) or not event:
            raise DeliveryError(
                self.name, f"no event_id in the answer: {answer.text[:200]}", uncertain=True
            )
        return Receipt(remote_id=event, url=f"https://matrix.to/#/{room}/{event}")

    async def send(self, delivery: Delivery) -> Receipt:
        return await self._put(delivery, self._content(delivery))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        new = self._content(delivery)
        content = {
            **new,
            "body": "* " + new["body"],
            "formatted_body": "* " + new["formatted_body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": receipt.remote_id},
        }
        edited = await self._put(delivery, content)
        # the post is still the original event: edits point at it, not at each other
        return Receipt(remote_id=receipt.remote_id, url=receipt.url or edited.url)

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        content = self._content(delivery)  # the headline reads "Update: …"
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": receipt.remote_id}}
        return await self._put(delivery, content)

    async def check(self) -> str:
        answer = await self.request("GET", self._url("/account/whoami"), headers=self._headers())
        user = (answer.json() or {}).get("user_id", "?")
        room = await self.room_id()
        joined = await self.request("GET", self._url("/joined_rooms"), headers=self._headers())
        if room not in (joined.json() or {}).get("joined_rooms", []):
            raise DeliveryError(
                self.name,
                f"{user} is not in room {self.options.room}: invite and join it first",
                permanent=True,
            )
        return f"matrix as {user} in {self.options.room}"
