"""The demo's sample sources, served on 127.0.0.1.

* ``/blog/feed.xml``: a German blog (RSS 2.0, full text in ``content:encoded``)
  that publishes a new article every 20 seconds.
* ``/news/atom.xml``: an English site (Atom) whose entries are only teasers;
  the full text is on ``/news/<slug>.html``.

Publication times hang off an anchor stored in the demo directory, so a
restarted demo continues its timeline instead of starting over.
"""

from __future__ import annotations

import hashlib
import html
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from newsbote.errors import NewsboteError

PUBLISH_EVERY = timedelta(seconds=20)
INITIAL = 3
FEED_LENGTH = 10


@dataclass(frozen=True, slots=True)
class Article:
    slug: str
    title: str
    author: str
    categories: tuple[str, ...]
    body: str
    published: datetime


def load_articles(language: str) -> list[dict[str, Any]]:
    text = resources.files("newsbote.demo").joinpath(f"articles/{language}.toml").read_text("utf-8")
    return list(tomllib.loads(text)["articles"])


def anchor_time(directory: Path) -> datetime:
    """When this demo first started (kept in the demo directory)."""
    path = directory / "anchor.txt"
    try:
        return datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        now = datetime.now(UTC).replace(microsecond=0)
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(now.isoformat())
        return now


class DemoSources:
    """The sample sources' content as a function of the clock."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self.blog_pool = load_articles("de")
        self.news_pool = load_articles("en")

    def blog(self, now: datetime) -> list[Article]:
        """The German blog's visible articles, newest first."""
        elapsed = max(timedelta(0), now - self.anchor)
        count = INITIAL + int(elapsed / PUBLISH_EVERY)
        first = max(0, count - FEED_LENGTH)
        return [self._blog_article(index) for index in reversed(range(first, count))]

    def _blog_article(self, index: int) -> Article:
        raw = self.blog_pool[index % len(self.blog_pool)]
        round_ = index // len(self.blog_pool)
        title = str(raw["title"]) + (f" (Folge {round_ + 1})" if round_ else "")
        if index < INITIAL:
            published = self.anchor - timedelta(minutes=(INITIAL - index) * 7)
        else:
            published = self.anchor + PUBLISH_EVERY * (index - INITIAL + 1)
        slug = f"{raw['slug']}-{index}"
        image = f'<p><img src="/images/{slug}.svg" alt="{html.escape(title)}"></p>\n'
        return Article(
            slug,
            title,
            str(raw["author"]),
            tuple(raw["categories"]),
            image + str(raw["body"]).strip(),
            published,
        )

    def news(self) -> list[Article]:
        articles = []
        for index, raw in enumerate(self.news_pool):
            published = self.anchor - timedelta(hours=index + 1)
            articles.append(
                Article(
                    str(raw["slug"]),
                    str(raw["title"]),
                    str(raw["author"]),
                    tuple(raw["categories"]),
                    str(raw["body"]).strip(),
                    published,
                )
            )
        return articles


def _teaser(body: str) -> str:
    first = body.split("</p>", 1)[0].removeprefix("<p>")
    words = first.split()
    return " ".join(words[:22]) + " […]"


def rss(articles: list[Article], base: str) -> str:
    items = []
    for a in articles:
        categories = "".join(f"<category>{html.escape(c)}</category>" for c in a.categories)
        items.append(
            f"<item><title>{html.escape(a.title)}</title><link>{base}/blog/{a.slug}.html</link>"
            f'<guid isPermaLink="false">demo-blog-{a.slug}</guid><dc:creator>{html.escape(a.author)}</dc:creator>'
            f"<pubDate>{format_datetime(a.published)}</pubDate>{categories}"
            f"<description>{html.escape(_teaser(a.body))}</description>"
            f"<content:encoded><![CDATA[{a.body}]]></content:encoded></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Bote-Blog</title><link>{base}/blog/</link><language>de</language>"
        "<description>Technik aus der Community</description>" + "".join(items) + "</channel></rss>"
    )


def atom(articles: list[Article], base: str) -> str:
    entries = []
    for a in articles:
        entries.append(
            f"<entry><title>{html.escape(a.title)}</title><id>tag:demo.newsbote,2026:{a.slug}</id>"
            f'<link rel="alternate" href="/news/{a.slug}.html"/>'
            f"<updated>{a.published.isoformat()}</updated><author><name>{html.escape(a.author)}</name></author>"
            f'<summary type="html">{html.escape(_teaser(a.body))}</summary></entry>'
        )
    updated = max(a.published for a in articles).isoformat()
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/">'
        f"<title>The Courier Weekly</title><id>tag:demo.newsbote,2026:news</id><updated>{updated}</updated>"
        f'<link rel="alternate" href="{base}/news/"/>' + "".join(entries) + "</feed>"
    )


def article_page(article: Article) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(article.title)}</title>'
        '</head><body><nav><a href="/news/">Home</a> · <a href="/news/about.html">About</a></nav>'
        f'<article><h1>{html.escape(article.title)}</h1><p class="byline">By {html.escape(article.author)}</p>'
        f"{article.body}</article><footer>© The Courier Weekly · Imprint · Privacy</footer></body></html>"
    )


def banner(text: str, seed: str) -> str:
    hue = int(hashlib.sha256(seed.encode()).hexdigest()[:2], 16) * 360 // 256
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="720" height="180" viewBox="0 0 720 180">'
        f'<rect width="720" height="180" fill="hsl({hue},45%,35%)"/>'
        f'<text x="32" y="100" font-family="sans-serif" font-size="28" fill="#fff">{html.escape(text[:48])}</text></svg>'
    )


def _conditional(
    request: web.Request, body: str, content_type: str, modified: datetime
) -> web.Response:
    etag = '"' + hashlib.blake2b(body.encode(), digest_size=10).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified.astimezone(UTC), usegmt=True),
    }
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(text=body, content_type=content_type, charset="utf-8", headers=headers)


def create_app(sources: DemoSources, base: str) -> web.Application:
    async def blog_feed(request: web.Request) -> web.Response:
        articles = sources.blog(datetime.now(UTC))
        return _conditional(
            request, rss(articles, base), "application/rss+xml", articles[0].published
        )

    async def news_feed(request: web.Request) -> web.Response:
        articles = sources.news()
        return _conditional(
            request, atom(articles, base), "application/atom+xml", articles[0].published
        )

    async def news_page(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        for article in sources.news():
            if article.slug == slug:
                return web.Response(
                    text=article_page(article), content_type="text/html", charset="utf-8"
                )
        raise web.HTTPNotFound()

    async def blog_page(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        for article in sources.blog(datetime.now(UTC)):
            if article.slug == slug:
                return web.Response(
                    text=article_page(article), content_type="text/html", charset="utf-8"
                )
        raise web.HTTPNotFound()

    async def image(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        return web.Response(
            text=banner(slug.rsplit("-", 1)[0].replace("-", " ").title(), slug),
            content_type="image/svg+xml",
        )

    app = web.Application()
    app.router.add_get("/blog/feed.xml", blog_feed)
    app.router.add_get("/news/atom.xml", news_feed)
    app.router.add_get("/news/{slug}.html", news_page)
    app.router.add_get("/blog/{slug}.html", blog_page)
    app.router.add_get("/images/{slug}.svg", image)
    return app


async def start(directory: Path, port: int) -> web.AppRunner:
    """Serve the sample sources on 127.0.0.1:``port``; stop with ``await runner.cleanup()``."""
    base = f"http://127.0.0.1:{port}"
    runner = web.AppRunner(create_app(DemoSources(anchor_time(directory)), base), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
    except OSError as exc:
        await runner.cleanup()
        raise NewsboteError(
            f"cannot listen on 127.0.0.1:{port} for the sample feeds (--feed-port): {exc.strerror or exc}"
        ) from exc
    return runner
