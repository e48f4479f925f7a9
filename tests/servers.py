"""Real local servers for the tests: a feed server that speaks HTTP like a publisher does."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Self

from aiohttp import web


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server that must be told its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Route:
    """What the server answers on one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True
    delay: float = 0.0
    gzip: bool = False
    last_modified: str = field(default_factory=lambda: formatdate(usegmt=True))


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class FeedServer:
    """An aiohttp server on 127.0.0.1 in its own thread; tests set routes and read requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self.in_flight = 0
        self.most_in_flight = 0
        """The most requests the server was answering at once."""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="feed-server", daemon=True)
        self.port = 0

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = int(self._runner.addresses[0][1])
        self._ready.set()
        self._loop.run_forever()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("GET", "/{tail:.*}", self._handle)

    def stop(self) -> None:
        async def shutdown() -> None:
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()
        self.in_flight = self.most_in_flight = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, body: bytes | str = b"", **options: object) -> Route:
        route = Route(body=body.encode() if isinstance(body, str) else body, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def hits(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path_qs
        self.requests.append(Seen(request.path, dict(request.headers)))
        route = self.routes.get(path) or self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found")
        if route.delay:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                await asyncio.sleep(route.delay)
            finally:
                self.in_flight -= 1
        headers = dict(route.headers)
        if route.status == 200 and route.conditional:
            etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
            headers.update({"ETag": etag, "Last-Modified": route.last_modified})
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Type"] = route.content_type
        return web.Response(status=route.status, body=body, headers=headers)


Handler = Callable[[web.Request], web.StreamResponse]


def rss(items: list[tuple[str, str, str]], *, title: str = "Testfeed", extra: str = "") -> str:
    """An RSS 2.0 document of (guid, link, title) items, newest first."""
    entries = "".join(
        f"<item><guid>{guid}</guid><link>{link}</link><title>{name}</title>"
        f"<description>&lt;p&gt;Text von {name}.&lt;/p&gt;</description></item>"
        for guid, link, name in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>{extra}{entries}</channel></rss>"
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


class WebhookReceiver(FeedServer):
    """A webhook endpoint like a careful receiver writes one: it verifies the signature
    and dedupes by Idempotency-Key. ``fail`` holds statuses to answer before succeeding."""

    def __init__(self, secret: bytes) -> None:
        super().__init__()
        self.secret = secret
        self.received: list[Received] = []
        self.posts: dict[str, dict[str, object]] = {}
        self.fail: list[tuple[int, dict[str, str]]] = []
        self.delay = 0.0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("POST", "/hook", self._hook)

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        import hmac as hmac_module
        import json

        body = await request.read()
        self.received.append(Received(dict(request.headers), body))
        if self.delay:
            await asyncio.sleep(self.delay)
        timestamp = request.headers.get("X-Newsbote-Timestamp", "")
        expected = (
            "sha256="
            + hmac_module.new(
                self.secret, timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        if not hmac_module.compare_digest(
            expected, request.headers.get("X-Newsbote-Signature", "")
        ):
            return web.json_response({"error": "bad signature"}, status=401)
        if self.fail:
            status, headers = self.fail.pop(0)
            return web.json_response({"error": "try later"}, status=status, headers=headers)
        key = request.headers["Idempotency-Key"]
        payload = json.loads(body)
        if payload["action"] == "edit":
            self.posts[payload["remote_id"]].update(payload)
            return web.json_response({"id": payload["remote_id"]})
        if key not in self.posts:
            self.posts[key] = payload
        return web.json_response({"id": key, "url": f"https://receiver.example/{len(self.posts)}"})
