"""The board shows the seed forum's post: title, bot name and title, body, "zum Artikel…" link."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from newsbote import outbox
from newsbote.outbox import idempotency_key
from newsbote.store import Store
from newsbote.store.schema import board_posts, deliveries, items, sources
from newsbote.web.app import create_app
from newsbote.worker import Service
from tests.helpers import board_count, load, run_once, write_config
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
    client = TestClient(create_app(loaded.config, store))
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
