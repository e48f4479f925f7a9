"""The board shows the seed forum's post: title, bot name and title, body, "zum Artikel…" link."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from newsbote import outbox
from newsbote.config import Config
from newsbote.errors import ConfigError
from newsbote.outbox import idempotency_key
from newsbote.store import Store
from newsbote.store.schema import board_posts, deliveries, items, sources
from newsbote.types import Markup
from newsbote.web.app import create_app, default_allowed_hosts, without_more_link
from newsbote.worker import Service
from tests.helpers import board_count, load, run_once, write_config
from tests.servers import FeedServer
from tests.test_markup import assert_urls_pass

ARTICLE = """<p>Erster Absatz mit <a href="/relativ">Link</a>.</p>
<script>alert('x')</script><img src="/bild.png" onerror="alert(1)">
<p onclick="steal()">Zweiter Absatz.</p>"""


def board_client(config: Config, store: Store, **options: Any) -> TestClient:
    """A client of the board as a reader on this machine reaches it (``Host: localhost``)."""
    return TestClient(create_app(config, store), base_url="http://localhost", **options)


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
    client = board_client(loaded.config, store)
    client.app_config = loaded.config  # type: ignore[attr-defined]
    return client


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


async def test_a_poll_posts_to_the_board_in_the_transaction_that_records_it(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/f.xml", feed(3))
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [{"name": "blog", "url": feed_server.url("/f.xml"), "allow_private": True,
              "first_run": "all"}],
        )
    )  # fmt: skip
    async with Service(loaded, store) as service:
        reports = await service.poll_due(force=True)  # no delivery round
        assert reports[0].recorded is not None and reports[0].recorded.posted == {"board": 3}
    rows = store.call(lambda c: c.execute(select(deliveries)).all())
    assert [r.state for r in rows] == ["sent"] * 3 and all(r.attempts == 1 for r in rows)
    assert all(r.body == "" for r in rows)  # the post holds it (the thread page shows it)
    assert all(
        r.remote_id == idempotency_key(r.destination, r.dedupe_key, r.version)
        and r.remote_url == f"/p/{r.remote_id}"
        for r in rows
    )
    assert board_count(store) == 3
    client = board_client(loaded.config, store)
    assert "aus Blog" in client.get("/").text  # the feed's title, known in the first poll
    found = client.get(rows[0].remote_url, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].startswith("/t/")
    assert "Artikel" in client.get(found.headers["location"]).text
    assert client.get("/p/newsbote-unknown").status_code == 404


async def test_a_paced_board_posts_when_the_runner_takes_its_rows(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/f.xml", feed(2))
    path = write_config(
        tmp_path,
        store_url,
        [{"name": "blog", "url": feed_server.url("/f.xml"), "allow_private": True,
          "first_run": "all"}],
    )  # fmt: skip
    path.write_text(
        path.read_text().replace('kind = "board"', 'kind = "board"\nrate_per_minute = 600')
    )
    loaded = load(path)
    async with Service(loaded, store) as service:
        await service.poll_due(force=True)
        assert store.call(outbox.counts) == {"pending": 2} and board_count(store) == 0
        await service.deliver_all()
    rows = store.call(lambda c: c.execute(select(deliveries)).all())
    assert [r.state for r in rows] == ["sent", "sent"] and board_count(store) == 2
    assert all(r.remote_url == f"/p/{r.remote_id}" for r in rows)


def test_migration_0003_gives_old_board_receipts_the_post_key(store_url: str) -> None:
    from alembic import command

    from newsbote.store.engine import _alembic_config, make_engine

    engine = make_engine(store_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(sources).values(id=1, name="blog", config_url="u", url="u", created_at=now)
        )
        connection.execute(
            insert(items).values(
                id=1, source_id=1, key="k", key_kind="guid", title="T", content_html="",
                summary_html="", teaser="", categories="[]", fingerprint="f", version=1,
                decision="queued", reason="", first_seen_at=now, updated_at=now,
            )
        )  # fmt: skip
        post = connection.execute(
            insert(board_posts).returning(board_posts.c.id).values(
                destination="board", delivery_key="newsbote-abc", thread_title="T",
                body_html="<p>b</p>", author_name="News-Bote", author_title="Ich bring die Post",
                source_name="blog", posted_at=now,
            )
        ).scalar_one()  # fmt: skip
        common = {"item_id": 1, "version": 1, "action": "post", "state": "sent", "title": "T",
                  "body": "b", "markup": "html", "next_attempt_at": now, "created_at": now,
                  "updated_at": now}  # fmt: skip
        connection.execute(
            insert(deliveries),
            [
                {**common, "destination": "board", "dedupe_key": "a", "remote_id": str(post),
                 "remote_url": f"/t/{post}"},
                {**common, "destination": "hook", "dedupe_key": "a", "remote_id": str(post),
                 "remote_url": "https://hook.example/1"},
            ],
        )  # fmt: skip
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    with engine.connect() as connection:
        rows = connection.execute(
            select(deliveries.c.destination, deliveries.c.remote_id, deliveries.c.remote_url)
            .order_by(deliveries.c.destination)
        ).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [
        ("board", "newsbote-abc", "/p/newsbote-abc"),
        ("hook", str(post), "https://hook.example/1"),  # another destination's ids stay
    ]
    with engine.begin() as connection:
        command.downgrade(_alembic_config(connection), "0002")
    with engine.connect() as connection:
        board = connection.execute(
            select(deliveries.c.remote_id, deliveries.c.remote_url).where(
                deliveries.c.destination == "board"
            )
        ).one()
    assert tuple(board) == (str(post), f"/t/{post}")
    engine.dispose()


SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy")
BAD_REQUESTS = [
    ("/?page=9223372036854775808", 400),
    (f"/?page={10**30}", 400),
    ("/?page=-1", 400),
    ("/?page=0", 400),
    ("/?page=abc", 400),
    ("/?page=99", 404),
    ("/t/9223372036854775808", 404),
    (f"/t/{10**30}", 404),
    ("/t/-1", 404),
    ("/t/abc", 404),
    ("/t/999", 404),
    ("/nope", 404),
    ("/static/nope.css", 404),
]


async def test_requests_the_board_cannot_answer_get_a_styled_page_with_the_headers(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for path, status in BAD_REQUESTS:
            answer = client.get(path)
            assert answer.status_code == status, path
            assert answer.headers["content-type"].startswith("text/html"), path
            assert all(name in answer.headers for name in SECURITY), path
            assert "default-src 'none'" in answer.headers["content-security-policy"]
            assert '<html lang="de">' in answer.text and "Zur Übersicht" in answer.text, path
            expected = "gibt es nicht" if status == 404 else "versteht das Board nicht"
            assert expected in answer.text, path
        post = client.post("/")
        assert post.status_code == 405 and "allow" in post.headers
        assert all(name in post.headers for name in SECURITY)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_english_error_pages(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 1, language="en")
    answer = client.get("/?page=abc")
    assert answer.status_code == 400 and "does not understand" in answer.text
    assert "There is no such page." in client.get("/nope").text


async def test_a_server_error_is_a_styled_500_with_the_headers(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    broken = board_client(client.app_config, store, raise_server_exceptions=False)  # type: ignore[attr-defined]

    async def fail(*args: Any) -> Any:
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(store, "read", fail)
    answer = broken.get("/")
    assert answer.status_code == 500 and "Das hat nicht geklappt" in answer.text
    assert all(name in answer.headers for name in SECURITY)
    assert "the store is gone" not in answer.text and "Traceback" not in answer.text


async def test_a_foreign_host_header_is_refused_unless_allowed(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    config = client.app_config  # type: ignore[attr-defined]
    for host in ("localhost", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    refused = client.get("/", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert all(name in refused.headers for name in SECURITY)
    assert "Artikel 0" not in refused.text
    assert client.get("/healthz", headers={"Host": "evil.example"}).status_code == 400
    anyone = config.model_copy(
        update={"web": config.web.model_copy(update={"allowed_hosts": ["*"]})}
    )
    assert board_client(anyone, store).get("/", headers={"Host": "evil.example"}).status_code == 200
    public = config.model_copy(
        update={"web": config.web.model_copy(update={"allowed_hosts": ["news.example.org"]})}
    )
    named = board_client(public, store)
    assert named.get("/", headers={"Host": "news.example.org"}).status_code == 200
    assert named.get("/", headers={"Host": "localhost"}).status_code == 400


def test_the_default_allowed_hosts_are_the_bound_host_and_loopback() -> None:
    assert default_allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert default_allowed_hosts("::1") == ["[::1]", "localhost", "127.0.0.1"]
    assert default_allowed_hosts("News.Example.org") == [
        "news.example.org", "localhost", "127.0.0.1", "[::1]",
    ]  # fmt: skip


async def test_a_stored_body_with_hostile_urls_is_shown_without_them(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    """Posts stored before the URL policy existed pass it when shown."""
    client = await _board(feed_server, store, store_url, tmp_path, 1)
    hostile = (
        '<p><a href="javascript:alert(1)">Klick</a> <img src="data:image/svg+xml,x">'
        '<a href=" JaVaScRiPt:alert(2)">Zwei</a> <a href="https://a.example/x)y">gut</a></p>'
    )
    store.call(lambda c: c.execute(board_posts.update().values(body_html=hostile)))
    page = client.get("/t/1").text
    body = page[page.index('<div class="post-body">') : page.index("</article>")]
    assert "Klick" in body and "Zwei" in body
    assert assert_urls_pass(body, Markup.HTML) == ["https://a.example/x%29y"]
    assert "javascript" not in body.lower() and "data:" not in body


async def test_a_feed_whose_link_and_image_fail_the_policy_posts_without_them(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set(
        "/f.xml",
        '<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Blog</title>'
        "<item><guid>g</guid><link>javascript:alert(document.cookie)</link><title>Böse</title>"
        '<media:content url="data:image/svg+xml,x" medium="image"/>'
        "<description>Der Text.</description></item></channel></rss>",
    )
    path = write_config(
        tmp_path, store_url,
        [{"name": "blog", "url": feed_server.url("/f.xml"), "allow_private": True,
          "first_run": "all"}],
    )  # fmt: skip
    loaded = load(path)
    await run_once(loaded, store)
    page = board_client(loaded.config, store).get("/t/1").text
    assert "Der Text." in page and "zum Artikel" not in page
    assert "javascript" not in page.lower() and "data:image" not in page


def test_the_more_link_is_removed_in_one_pass() -> None:
    class Counted(str):
        scanned = 0

        def find(self, sub: str, start: Any = 0, end: Any = None) -> int:
            found = str.find(self, sub, start)
            Counted.scanned += (found + len(sub) if found >= 0 else len(self)) - start
            return found

    assert without_more_link('<p>a</p><p class="newsbote-more"><a>x</a></p><p>b</p>') == (
        "<p>a</p><p>b</p>"
    )
    # many openings and no closing tag: a search per opening would rescan the rest each time
    body = Counted('<p class="newsbote-more">' * 20_000)
    assert without_more_link(body) == body
    assert Counted.scanned <= 2 * len(body)


@pytest.mark.parametrize("pattern", ["*evil", "news.*.org", "a*b.example", " "])
def test_an_allowed_host_that_is_no_host_name_is_a_config_error(
    tmp_path: Path, pattern: str
) -> None:
    path = write_config(
        tmp_path, "sqlite:///x.db", [], extra=f"[web]\nallowed_hosts = [{pattern!r}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load(path)
    assert "web.allowed_hosts" in str(raised.value) and "not a host name" in str(raised.value)


def test_allowed_host_patterns_load(tmp_path: Path) -> None:
    extra = '[web]\nallowed_hosts = ["*", "news.example.org", "*.example.org"]\n'
    loaded = load(write_config(tmp_path, "sqlite:///x.db", [], extra=extra))
    assert loaded.config.web.allowed_hosts == ["*", "news.example.org", "*.example.org"]
