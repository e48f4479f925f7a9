"""Local fakes of the platforms that cannot run here, faithful to their published APIs.

Each fake accepts what the vendor documents and rejects what a real server
rejects: a missing or wrong credential, unknown or missing fields, text over the
platform's limit, markup the platform cannot parse. Faults (500, 502, 429, a
reply slower than the client's timeout after the post was made) can be injected
at a rate, for the fault suite.

- Discord: https://discord.com/developers/docs/resources/webhook
- Mastodon: https://docs.joinmastodon.org/methods/statuses/
- Telegram: https://core.telegram.org/bots/api
- Slack: https://api.slack.com/methods/chat.postMessage
- Discourse: https://docs.discourse.org/
- XenForo 2: https://xenforo.com/community/pages/api-endpoints/
"""

from __future__ import annotations

import asyncio
import html.parser
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web

from tests.servers import FeedServer

TOKEN = "test-token-123"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
# Mastodon's Account::MENTION_RE (app/models/account.rb), in Python's dialect
_MASTODON_MENTION = re.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?)", re.IGNORECASE
)


def mastodon_mentions(text: str) -> list[str]:
    """The accounts Mastodon notifies for a status of ``text`` (mentions outside links)."""
    return [m[1] for m in _MASTODON_MENTION.finditer(_URL.sub(" ", text))]


@dataclass
class Faults:
    """Inject failures into ``rate`` of the requests that post something."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("500", "502", "429", "timeout")
    timeout: float = 2.0
    rng: random.Random = field(default_factory=lambda: random.Random(4))
    injected: Counter[str] = field(default_factory=Counter)

    def pick(self) -> str | None:
        if self.rate and self.rng.random() < self.rate:
            kind = self.rng.choice(self.kinds)
            self.injected[kind] += 1
            return kind
        return None


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class TelegramHTML(html.parser.HTMLParser):
    """Telegram's parse_mode=HTML: only its tags, entities resolved, text length counted."""

    ALLOWED: ClassVar[set[str]] = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
               "blockquote", "tg-spoiler", "span", "tg-emoji"}  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.error: str | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.ALLOWED:
            self.error = f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"'
        if tag == "a":
            self.links += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


class Vendors(FeedServer):
    """Every fake on one local server, each under its own path prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.faults = Faults()
        self.discord: dict[str, dict[str, Any]] = {}
        self.mastodon: dict[str, dict[str, Any]] = {}
        self.mastodon_keys: dict[str, str] = {}
        self.mastodon_mentions: dict[str, list[str]] = {}
        """Per status: the accounts Mastodon would notify (its ``mentions``)."""
        self.telegram: dict[int, dict[str, Any]] = {}
        self.slack: dict[str, dict[str, Any]] = {}
        self.discourse: dict[int, dict[str, Any]] = {}
        self.discourse_posts: dict[int, dict[str, Any]] = {}
        self.xenforo: dict[int, dict[str, Any]] = {}
        self.xenforo_posts: dict[int, dict[str, Any]] = {}
        self.apprise: list[dict[str, Any]] = []
        self.attempts = 0
        self._ids = itertools.count(1001)

    def reset(self) -> None:
        super().reset()
        self.faults = Faults()
        self.apprise.clear()
        for store in (self.discord, self.mastodon, self.mastodon_keys, self.mastodon_mentions, self.telegram, self.slack,
                      self.discourse, self.discourse_posts, self.xenforo, self.xenforo_posts):  # fmt: skip
            store.clear()
        self.attempts = 0

    def _add_routes(self, app: web.Application) -> None:
        route = app.router.add_route
        route("*", "/discord/api/webhooks/{id}/{token}", self._discord_execute)
        route("PATCH", "/discord/api/webhooks/{id}/{token}/messages/{message}", self._discord_edit)
        route("*", "/mastodon/api/v1/statuses", self._mastodon_post)
        route("PUT", "/mastodon/api/v1/statuses/{id}", self._mastodon_edit)
        route("GET", "/mastodon/api/v1/accounts/verify_credentials", self._mastodon_me)
        route("POST", "/telegram/bot{token}/{method}", self._telegram)
        route("*", "/slack/api/{method}", self._slack)
        route("POST", "/discourse/posts.json", self._discourse_post)
        route("PUT", "/discourse/posts/{id}.json", self._discourse_edit_post)
        route("PUT", "/discourse/t/-/{id}.json", self._discourse_edit_topic)
        route("GET", "/discourse/t/external_id/{external}.json", self._discourse_external)
        route("GET", "/discourse/t/{slug}/{id}.json", self._discourse_topic)
        route("GET", "/discourse/u/{username}.json", self._discourse_user)
        route("POST", "/xenforo/api/threads/", self._xenforo_thread)
        route("POST", "/xenforo/api/threads/{id}/", self._xenforo_thread_edit)
        route("POST", "/xenforo/api/posts/", self._xenforo_reply)
        route("POST", "/xenforo/api/posts/{id}/", self._xenforo_post_edit)
        route("GET", "/xenforo/api/forums/{node}/threads", self._xenforo_list)
        route("GET", "/xenforo/api/me/", self._xenforo_me)
        route("POST", "/apprise/notify", self._apprise)
        super()._add_routes(app)  # feeds on every other path

    async def _fault(
        self, kind: str | None, retry: dict[str, Any] | None = None
    ) -> web.Response | None:
        """The injected failure's answer, before the post is made (timeouts come after)."""
        if kind in ("500", "502"):
            return web.Response(status=int(kind), text="upstream trouble")
        if kind == "429":
            return _json(429, retry or {"error": "rate limited"}, {"Retry-After": "0"})
        return None

    async def _after(self, kind: str | None) -> None:
        """A reply slower than the client waits: the post was made, the client cannot know."""
        if kind == "timeout":
            await asyncio.sleep(self.faults.timeout)

    # Apprise's json:// target: any JSON endpoint ---------------------------------------
    async def _apprise(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        fault = await self._fault(self.faults.pick())
        if fault:
            return fault
        self.apprise.append(await request.json())
        return _json(200, {"ok": True})

    # Discord ---------------------------------------------------------------------------
    DISCORD_FIELDS: ClassVar[set[str]] = {"content", "username", "avatar_url", "tts", "embeds", "allowed_mentions",
                      "components", "thread_name", "flags", "applied_tags"}  # fmt: skip

    async def _discord_execute(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return _json(401, {"message": "Invalid Webhook Token", "code": 50027})
        if request.method == "GET":
            return _json(200, {"name": "News", "channel_id": "42", "id": request.match_info["id"]})
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(
            kind, {"message": "You are being rate limited.", "retry_after": 0.01, "global": False}
        )
        if fault:
            return fault
        body = await request.json()
        problem = self._discord_invalid(body)
        if problem:
            return _json(400, {"message": "Invalid Form Body", "code": 50035, "errors": problem})
        message_id = str(next(self._ids))
        channel = (
            str(next(self._ids))
            if body.get("thread_name")
            else request.query.get("thread_id", "42")
        )
        self.discord[message_id] = body | {"channel_id": channel}
        await self._after(kind)
        if request.query.get("wait") != "true":
            return web.Response(status=204)
        return _json(
            200, {"id": message_id, "channel_id": channel, "content": body.get("content", "")}
        )

    def _discord_invalid(self, body: dict[str, Any]) -> str | None:
        unknown = set(body) - self.DISCORD_FIELDS
        if unknown:
            return f"unknown fields {sorted(unknown)}"
        if not body.get("content") and not body.get("embeds"):
            return "Cannot send an empty message"
        if len(body.get("content", "")) > 2000:
            return "content: Must be 2000 or fewer in length."
        if len(body.get("username", "")) > 80 or "discord" in body.get("username", "").lower():
            return "username invalid"
        embeds = body.get("embeds", [])
        if len(embeds) > 10 or any(len(e.get("title", "")) > 256 for e in embeds):
            return "embeds invalid"
        if len(body.get("thread_name", "")) > 100:
            return "thread_name too long"
        return None

    async def _discord_edit(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return _json(401, {"message": "Invalid Webhook Token", "code": 50027})
        message = self.discord.get(request.match_info["message"])
        if message is None:
            return _json(404, {"message": "Unknown Message", "code": 10008})
        body = await request.json()
        problem = self._discord_invalid(body | {"content": body.get("content", "x")})
        if problem:
            return _json(400, {"message": "Invalid Form Body", "code": 50035, "errors": problem})
        message.update(body, edited=True)
        return _json(
            200, {"id": request.match_info["message"], "channel_id": message["channel_id"]}
        )

    # Mastodon --------------------------------------------------------------------------
    def _mastodon_auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json(401, {"error": "The access token is invalid"})
        return None

    async def _mastodon_post(self, request: web.Request) -> web.StreamResponse:
        denied = self._mastodon_auth(request)
        if denied:
            return denied
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(kind, {"error": "Too many requests"})
        if fault:
            return fault
        key = request.headers.get("Idempotency-Key")
        if (
            key and key in self.mastodon_keys
        ):  # Mastodon answers a repeated key with the first status
            status_id = self.mastodon_keys[key]
            await self._after(kind)
            return _json(200, self._mastodon_status(status_id))
        body = await request.json()
        problem = self._mastodon_invalid(body)
        if problem:
            return _json(422, {"error": f"Validation failed: {problem}"})
        if body.get("in_reply_to_id") and body["in_reply_to_id"] not in self.mastodon:
            return _json(404, {"error": "Record not found"})
        status_id = str(next(self._ids))
        self.mastodon[status_id] = dict(body)
        if key:
            self.mastodon_keys[key] = status_id
        await self._after(kind)
        return _json(200, self._mastodon_status(status_id))

    @staticmethod
    def _mastodon_invalid(body: dict[str, Any]) -> str | None:
        unknown = set(body) - {"status", "visibility", "spoiler_text", "language", "in_reply_to_id",
                               "sensitive", "media_ids", "poll", "scheduled_at"}  # fmt: skip
        if unknown:
            return f"unknown parameters {sorted(unknown)}"
        text = body.get("status", "")
        if not text:
            return "Text can't be blank"
        if len(_URL.sub("x" * 23, text)) + len(body.get("spoiler_text") or "") > 500:
            return "Text character limit of 500 exceeded"
        if body.get("visibility", "public") not in {"public", "unlisted", "private", "direct"}:
            return "Visibility is not included in the list"
        return None

    def _mastodon_status(self, status_id: str) -> dict[str, Any]:
        status = self.mastodon[status_id]
        self.mastodon_mentions[status_id] = mastodon_mentions(status["status"])
        return {
            "id": status_id,
            "url": f"https://social.example/@bote/{status_id}",
            "content": status["status"],
            "visibility": status.get("visibility", "public"),
            "mentions": [{"acct": acct} for acct in self.mastodon_mentions[status_id]],
        }

    async def _mastodon_edit(self, request: web.Request) -> web.StreamResponse:
        denied = self._mastodon_auth(request)
        if denied:
            return denied
        status_id = request.match_info["id"]
        if status_id not in self.mastodon:
            return _json(404, {"error": "Record not found"})
        body = await request.json()
        problem = self._mastodon_invalid(body)
        if problem:
            return _json(422, {"error": f"Validation failed: {problem}"})
        self.mastodon[status_id].update(body, edited=True)
        return _json(200, self._mastodon_status(status_id))

    async def _mastodon_me(self, request: web.Request) -> web.StreamResponse:
        return self._mastodon_auth(request) or _json(200, {"acct": "bote", "id": "1"})

    # Telegram --------------------------------------------------------------------------
    async def _telegram(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.match_info["method"]
        body = await request.json() if request.can_read_body else {}
        if method == "getMe":
            return _json(
                200, {"ok": True, "result": {"id": 7, "is_bot": True, "username": "news_bote_bot"}}
            )
        if method == "getChat":
            return _json(
                200,
                {
                    "ok": True,
                    "result": {"id": -100123, "title": "Newskanal", "username": "newskanal"},
                },
            )
        if method not in ("sendMessage", "editMessageText"):
            return _json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(
            kind,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 0",
                "parameters": {"retry_after": 0},
            },
        )
        if fault:
            return fault
        problem = self._telegram_invalid(body)
        if problem:
            return _json(400, {"ok": False, "error_code": 400, "description": problem})
        if method == "editMessageText":
            message = self.telegram.get(int(body.get("message_id", 0)))
            if message is None:
                return _json(
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: message to edit not found",
                    },
                )
            message.update(body, edited=True)
            result = {
                "message_id": body["message_id"],
                "chat": {"id": -100123, "username": "newskanal"},
            }
            return _json(200, {"ok": True, "result": result})
        message_id = next(self._ids)
        self.telegram[message_id] = dict(body)
        await self._after(kind)
        result = {"message_id": message_id, "chat": {"id": -100123, "username": "newskanal"}}
        return _json(200, {"ok": True, "result": result})

    @staticmethod
    def _telegram_invalid(body: dict[str, Any]) -> str | None:
        if "chat_id" not in body:
            return "Bad Request: chat_id is empty"
        if not body.get("text"):
            return "Bad Request: message text is empty"
        if body.get("parse_mode") != "HTML":
            return None
        parser = TelegramHTML()
        parser.feed(body["text"])
        parser.close()
        if parser.error:
            return parser.error
        if len("".join(parser.text)) > 4096:
            return "Bad Request: message is too long"
        return None

    # Slack -----------------------------------------------------------------------------
    async def _slack(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return _json(200, {"ok": False, "error": "not_authed"})
        if auth != f"Bearer xoxb-{TOKEN}":
            return _json(200, {"ok": False, "error": "invalid_auth"})
        method = request.match_info["method"]
        if method == "auth.test":
            return _json(
                200, {"ok": True, "user": "news-bote", "user_id": "U0BOT", "team": "Forum"}
            )
        if method == "conversations.history":
            messages = [m | {"ts": ts} for ts, m in sorted(self.slack.items(), reverse=True)]
            limit = int(request.query.get("limit", "100"))
            return _json(200, {"ok": True, "messages": messages[:limit]})
        if method not in ("chat.postMessage", "chat.update"):
            return _json(200, {"ok": False, "error": "unknown_method"})
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(kind)
        if fault:
            return fault
        body = await request.json()
        if body.get("channel") != "C0NEWS":
            return _json(200, {"ok": False, "error": "channel_not_found"})
        if not body.get("text") and not body.get("blocks"):
            return _json(200, {"ok": False, "error": "no_text"})
        if len(body.get("text", "")) > 40_000:
            return _json(200, {"ok": False, "error": "msg_too_long"})
        if method == "chat.update":
            message = self.slack.get(body.get("ts", ""))
            if message is None:
                return _json(200, {"ok": False, "error": "message_not_found"})
            message.update(text=body["text"], edited=True)
            return _json(200, {"ok": True, "channel": "C0NEWS", "ts": body["ts"]})
        unknown = set(body) - {"channel", "text", "blocks", "mrkdwn", "unfurl_links", "unfurl_media",
                               "thread_ts", "username", "icon_url", "icon_emoji", "ts"}  # fmt: skip
        if unknown:
            return _json(
                200, {"ok": False, "error": "invalid_arguments", "unknown": sorted(unknown)}
            )
        ts = f"1700000000.{next(self._ids):06d}"
        self.slack[ts] = {
            "type": "message",
            "user": "U0BOT",
            "text": body["text"],
            "thread_ts": body.get("thread_ts"),
            "username": body.get("username"),
        }
        await self._after(kind)
        return _json(200, {"ok": True, "channel": "C0NEWS", "ts": ts, "message": self.slack[ts]})

    # Discourse -------------------------------------------------------------------------
    def _discourse_auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Api-Key") != TOKEN or not request.headers.get("Api-Username"):
            return _json(
                403,
                {
                    "errors": ["You are not permitted to view the requested resource."],
                    "error_type": "invalid_access",
                },
            )
        return None

    async def _discourse_post(self, request: web.Request) -> web.StreamResponse:
        denied = self._discourse_auth(request)
        if denied:
            return denied
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(
            kind,
            {
                "errors": ["You've performed this action too many times."],
                "error_type": "rate_limit",
            },
        )
        if fault:
            return fault
        body = await request.json()
        raw = body.get("raw", "")
        if len(raw) < 20:
            return _json(422, {"errors": ["Body is too short (minimum is 20 characters)"]})
        post_id = next(self._ids)
        if "topic_id" in body:
            topic = self.discourse.get(int(body["topic_id"]))
            if topic is None:
                return _json(404, {"errors": ["The requested URL or resource could not be found."]})
            topic["posts"].append(post_id)
            self.discourse_posts[post_id] = {"raw": raw, "topic_id": topic["id"]}
            await self._after(kind)
            return _json(200, {"id": post_id, "topic_id": topic["id"], "topic_slug": topic["slug"]})
        title = body.get("title", "")
        if len(title) < 15:
            return _json(422, {"errors": ["Title is too short (minimum is 15 characters)"]})
        external = body.get("external_id")
        if external is not None and (len(external) > 50 or not re.fullmatch(r"[\w-]+", external)):
            return _json(422, {"errors": ["External ID is invalid"]})
        if external and any(t["external_id"] == external for t in self.discourse.values()):
            return _json(422, {"errors": ["External ID has already been taken"]})
        topic_id = next(self._ids)
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "topic"
        self.discourse[topic_id] = {"id": topic_id, "slug": slug, "title": title, "external_id": external,
                                    "category": body.get("category"), "tags": body.get("tags", []), "posts": [post_id]}  # fmt: skip
        self.discourse_posts[post_id] = {"raw": raw, "topic_id": topic_id}
        await self._after(kind)
        return _json(200, {"id": post_id, "topic_id": topic_id, "topic_slug": slug})

    async def _discourse_edit_post(self, request: web.Request) -> web.StreamResponse:
        denied = self._discourse_auth(request)
        if denied:
            return denied
        post = self.discourse_posts.get(int(request.match_info["id"]))
        body = await request.json()
        if post is None:
            return _json(404, {"errors": ["The requested URL or resource could not be found."]})
        if not isinstance(body.get("post"), dict) or "raw" not in body["post"]:
            return _json(400, {"errors": ["param is missing or the value is empty: post"]})
        post.update(raw=body["post"]["raw"], edited=True)
        return _json(200, {"post": {"id": int(request.match_info["id"])}})

    async def _discourse_edit_topic(self, request: web.Request) -> web.StreamResponse:
        denied = self._discourse_auth(request)
        if denied:
            return denied
        topic = self.discourse.get(int(request.match_info["id"]))
        if topic is None:
            return _json(404, {"errors": ["The requested URL or resource could not be found."]})
        topic["title"] = (await request.json())["title"]
        return _json(200, {"basic_topic": {"id": topic["id"], "title": topic["title"]}})

    async def _discourse_external(self, request: web.Request) -> web.StreamResponse:
        denied = self._discourse_auth(request)
        if denied:
            return denied
        for topic in self.discourse.values():
            if topic["external_id"] == request.match_info["external"]:
                raise web.HTTPMovedPermanently(f"/discourse/t/{topic['slug']}/{topic['id']}.json")
        return _json(404, {"errors": ["The requested URL or resource could not be found."]})

    async def _discourse_topic(self, request: web.Request) -> web.StreamResponse:
        topic = self.discourse.get(int(request.match_info["id"]))
        if topic is None:
            return _json(404, {"errors": ["not found"]})
        posts = [{"id": p, "raw": self.discourse_posts[p]["raw"]} for p in topic["posts"]]
        return _json(
            200,
            {
                "id": topic["id"],
                "slug": topic["slug"],
                "title": topic["title"],
                "post_stream": {"posts": posts},
            },
        )

    async def _discourse_user(self, request: web.Request) -> web.StreamResponse:
        denied = self._discourse_auth(request)
        if denied:
            return denied
        return _json(200, {"user": {"id": 2, "username": request.match_info["username"]}})

    # XenForo ---------------------------------------------------------------------------
    def _xenforo_auth(self, request: web.Request) -> web.Response | None:
        if request.headers.get("XF-Api-Key") != TOKEN:
            return _json(
                401,
                {
                    "errors": [
                        {
                            "code": "api_key_not_found",
                            "message": "API key provided in request was not found.",
                            "params": [],
                        }
                    ]
                },
            )
        if request.headers.get("XF-Api-User") != "7":
            return _json(
                403,
                {
                    "errors": [
                        {
                            "code": "no_permission",
                            "message": "You do not have permission to view this page or perform this action.",
                            "params": [],
                        }
                    ]
                },
            )
        return None

    async def _xenforo_thread(self, request: web.Request) -> web.StreamResponse:
        denied = self._xenforo_auth(request)
        if denied:
            return denied
        self.attempts += 1
        kind = self.faults.pick()
        fault = await self._fault(kind)
        if fault:
            return fault
        form = await request.post()
        missing = [name for name in ("node_id", "title", "message") if not form.get(name)]
        if missing:
            return _json(
                400,
                {
                    "errors": [
                        {
                            "code": "required_input_missing",
                            "message": f"Required input missing: {', '.join(missing)}",
                            "params": {"missing": missing},
                        }
                    ]
                },
            )
        if len(str(form["title"])) > 150:
            return _json(
                400,
                {
                    "errors": [
                        {
                            "code": "please_enter_value_using_x_characters_or_fewer",
                            "message": "Please enter a value using 150 characters or fewer.",
                            "params": [],
                        }
                    ]
                },
            )
        thread_id, post_id = next(self._ids), next(self._ids)
        thread = {"thread_id": thread_id, "first_post_id": post_id, "title": str(form["title"]), "user_id": 7,
                  "node_id": int(str(form["node_id"])), "prefix_id": form.get("prefix_id"), "tags": form.getall("tags[]", []),
                  "view_url": f"https://forum.example/threads/{thread_id}/"}  # fmt: skip
        self.xenforo[thread_id] = thread
        self.xenforo_posts[post_id] = {"message": str(form["message"]), "thread_id": thread_id}
        await self._after(kind)
        return _json(200, {"success": True, "thread": thread})

    async def _xenforo_thread_edit(self, request: web.Request) -> web.StreamResponse:
        denied = self._xenforo_auth(request)
        if denied:
            return denied
        thread = self.xenforo.get(int(request.match_info["id"]))
        if thread is None:
            return _json(
                404,
                {
                    "errors": [
                        {
                            "code": "requested_thread_not_found",
                            "message": "The requested thread could not be found.",
                            "params": [],
                        }
                    ]
                },
            )
        form = await request.post()
        thread["title"] = str(form.get("title", thread["title"]))
        return _json(200, {"success": True, "thread": thread})

    async def _xenforo_reply(self, request: web.Request) -> web.StreamResponse:
        denied = self._xenforo_auth(request)
        if denied:
            return denied
        form = await request.post()
        thread = self.xenforo.get(int(str(form.get("thread_id", "0"))))
        if thread is None or not form.get("message"):
            return _json(
                400,
                {
                    "errors": [
                        {
                            "code": "required_input_missing",
                            "message": "Required input missing",
                            "params": [],
                        }
                    ]
                },
            )
        post_id = next(self._ids)
        self.xenforo_posts[post_id] = {
            "message": str(form["message"]),
            "thread_id": thread["thread_id"],
        }
        return _json(
            200, {"success": True, "post": {"post_id": post_id, "thread_id": thread["thread_id"]}}
        )

    async def _xenforo_post_edit(self, request: web.Request) -> web.StreamResponse:
        denied = self._xenforo_auth(request)
        if denied:
            return denied
        post = self.xenforo_posts.get(int(request.match_info["id"]))
        if post is None:
            return _json(
                404,
                {
                    "errors": [
                        {
                            "code": "requested_post_not_found",
                            "message": "The requested post could not be found.",
                            "params": [],
                        }
                    ]
                },
            )
        form = await request.post()
        post.update(message=str(form["message"]), edited=True)
        return _json(200, {"success": True, "post": {"post_id": int(request.match_info["id"])}})

    async def _xenforo_list(self, request: web.Request) -> web.StreamResponse:
        denied = self._xenforo_auth(request)
        if denied:
            return denied
        node = int(request.match_info["node"])
        threads = sorted(
            (t for t in self.xenforo.values() if t["node_id"] == node),
            key=lambda t: -t["thread_id"],
        )
        return _json(200, {"threads": threads[:20], "pagination": {"current_page": 1}})

    async def _xenforo_me(self, request: web.Request) -> web.StreamResponse:
        return self._xenforo_auth(request) or _json(
            200, {"me": {"user_id": 7, "username": "News-Bote"}}
        )
