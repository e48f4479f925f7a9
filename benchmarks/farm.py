"""A local farm of feeds for the benchmarks, served from its own process."""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import multiprocessing.synchronize
import random
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.process import BaseProcess

from aiohttp import web

ENTRIES = 20
WORDS = [
    "Kernel",
    "Update",
    "Server",
    "Netzwerk",
    "Sicherheit",
    "Version",
    "Entwickler",
    "Speicher",
    "Prozessor",
    "Treiber",
    "release",
    "network",
    "security",
    "developer",
    "memory",
    "driver",
    "browser",
    "cloud",
    "update",
    "privacy",
]


def _html(rng: random.Random, index: int) -> str:
    paragraphs = []
    for p in range(4):
        words = " ".join(rng.choice(WORDS) for _ in range(60))
        paragraphs.append(
            f'<p>{words.capitalize()}. <a href="https://example.org/x/{index}/{p}">Link {p}</a> '
            f"<strong>wichtig</strong> und <em>betont</em>.</p>"
        )
    paragraphs.insert(1, f'<p><img src="https://example.org/img/{index}.jpg" alt="Bild"></p>')
    return "\n".join(paragraphs)


class Farm:
    def __init__(self, feeds: int, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.base = datetime(2026, 11, 1, tzinfo=UTC)
        self.entries: list[list[tuple[int, datetime, str]]] = []
        self.counter = 0
        for _ in range(feeds):
            self.entries.append([self._entry() for _ in range(ENTRIES)])
        self.bodies: list[tuple[bytes, str, str]] = [self._render(i) for i in range(feeds)]

    def _entry(self) -> tuple[int, datetime, str]:
        self.counter += 1
        return (
            self.counter,
            self.base + timedelta(minutes=self.counter),
            _html(self.rng, self.counter),
        )

    def _render(self, feed: int) -> tuple[bytes, str, str]:
        newest = sorted(self.entries[feed], key=lambda e: e[0], reverse=True)[:ENTRIES]
        if feed % 2 == 0:
            items = "".join(
                f"<item><title>Artikel {n}</title><link>https://example.org/{feed}/{n}</link>"
                f'<guid isPermaLink="false">farm-{feed}-{n}</guid><pubDate>{format_datetime(when)}</pubDate>'
                f"<description><![CDATA[{body}]]></description></item>"
                for n, when, body in newest
            )
            body = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {feed}</title><link>https://example.org/{feed}/</link>{items}</channel></rss>'
        else:
            items = "".join(
                f'<entry><title>Artikel {n}</title><link href="https://example.org/{feed}/{n}"/>'
                f"<id>urn:farm:{feed}:{n}</id><updated>{when.isoformat()}</updated>"
                f'<content type="html"><![CDATA[{body}]]></content></entry>'
                for n, when, body in newest
            )
            body = f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Feed {feed}</title><id>urn:farm:{feed}</id><updated>{newest[0][1].isoformat()}</updated>{items}</feed>'
        data = body.encode()
        etag = '"' + hashlib.blake2b(data, digest_size=8).hexdigest() + '"'
        return data, etag, format_datetime(newest[0][1], usegmt=True)

    def tick(self, fraction: float) -> int:
        chosen = self.rng.sample(
            range(len(self.entries)), max(1, int(len(self.entries) * fraction))
        )
        for feed in chosen:
            self.entries[feed].append(self._entry())
            self.bodies[feed] = self._render(feed)
        return len(chosen)

    def app(self) -> web.Application:
        async def feed(request: web.Request) -> web.Response:
            index = int(request.match_info["n"])
            body, etag, modified = self.bodies[index]
            headers = {"ETag": etag, "Last-Modified": modified}
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers=headers)
            kind = "application/rss+xml" if index % 2 == 0 else "application/atom+xml"
            return web.Response(body=body, headers={**headers, "Content-Type": kind})

        async def tick(request: web.Request) -> web.Response:
            return web.Response(text=str(self.tick(float(request.query.get("fraction", "0.1")))))

        app = web.Application()
        app.router.add_get("/feed/{n}.xml", feed)
        app.router.add_post("/_tick", tick)
        return app


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a benchmark's local server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(feeds: int, port: int, ready: multiprocessing.synchronize.Event) -> None:
    farm = Farm(feeds)

    async def started(_: web.Application) -> None:
        ready.set()

    app = farm.app()
    app.on_startup.append(started)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


def start_farm(feeds: int, port: int) -> BaseProcess:
    ready = multiprocessing.get_context("spawn").Event()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(feeds, port, ready), daemon=True
    )
    process.start()
    if not ready.wait(120):
        process.terminate()
        raise RuntimeError("the feed farm did not start")
    return process


@contextlib.contextmanager
def running_farm(feeds: int) -> Iterator[int]:
    """A farm of ``feeds`` feeds on a free port (yielded), stopped on the way out."""
    port = free_port()
    process = start_farm(feeds, port)
    try:
        yield port
    finally:
        process.terminate()
        process.join(10)
