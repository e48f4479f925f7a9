"""The board shows the seed forum's post: title, bot name and title, body, "zum Artikel…" link."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi.testclient import TestClient

from newsbote.store import Store
from newsbote.web.app import create_app
from tests.helpers import load, run_once, write_config
from tests.servers import FeedServer

ARTICLE = """<p>Erster Absatz mit <a href="/relativ">Link</a>.</p>
<script>alert('x')</script><img src="/bild.png" onerror="alert(1)">
<p onclick="steal()">Zweiter Absatz.</p>"""


def feed(items: int) -> str:
    entries = "".join(
        f"<item><guid>g{i}</guid><link>https://example.org/artikel/{i}</link><title>Artikel {i}</title>"
        f"<description>{escape(ARTICLE)}</description></item>"
        for i in reversed(range(items))
    )
    return f'<rss version="2.0"><channel><title>Blog</title><link>https://example.org/</link>{entries}</channel></rss>'


async def _board(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    items: int,
    language: str = "de",
) -> TestClient:
    feed_server.set("/f.xml", feed(items))
    path = write_config(
        tmp_path,
        store_url,
        [
            {
                "name": "blog",
                "url": feed_server.url("/f.xml"),
                "allow_private": True,
                "first_run": "all",
            }
        ],
        language=language,
    )
    loaded = load(path)
    await run_once(loaded, store)
    return TestClient(create_app(loaded.config, store))


async def test_thread_page_shows_the_seed_post_and_no_script(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    index = client.get("/")
    assert index.status_code == 200
    assert "Artikel 0" in index.text and "News-Bote" in index.text
    thread = client.get("/t/1")
    page = thread.text
    assert thread.status_code == 200
    assert '<h1 class="thread-heading">Artikel 0</h1>' in page
    assert '<div class="author-name">News-Bote</div>' in page
    assert '<div class="author-title">Ich bring die Post</div>' in page
    assert '<a href="https://example.org/relativ"' in page
    assert '<img src="https://example.org/bild.png"' in page
    assert '<a href="https://example.org/artikel/0">zum Artikel…</a>' in page
    assert "Zweiter Absatz." in page
    for bad in ("<script>alert", "onerror", "onclick", "steal()"):
        assert bad not in page
    assert "script-src" not in thread.headers["content-security-policy"]
    assert "default-src 'none'" in thread.headers["content-security-policy"]


async def test_board_is_newest_first_and_paginated(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 25)
    first = client.get("/").text
    assert first.index("Artikel 24") < first.index("Artikel 23")
    assert "Artikel 4<" not in first and "Seite 1 von 2" in first
    second = client.get("/?page=2").text
    assert "Artikel 4<" in second and "Artikel 0<" in second
    assert client.get("/?page=3").status_code == 404
    assert client.get("/t/999").status_code == 404


async def test_english_board(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 1, language="en")
    page = client.get("/t/1").text
    assert ">Read the article…</a>" in page and "posted on" in page
    assert '<html lang="en">' in page


async def test_health_and_metrics(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    import re

    polled = re.search(r'newsbote_polls_total\{result="ok"\} (\d+)', text)
    delivered = re.search(
        r'newsbote_deliveries_total\{destination="board",result="sent"\} (\d+)', text
    )
    assert polled and int(polled.group(1)) >= 1
    assert delivered and int(delivered.group(1)) >= 1
