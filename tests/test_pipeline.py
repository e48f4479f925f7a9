"""The whole spine against a real local feed server, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from newsbote.store import Store
from newsbote.store.queries import explain
from newsbote.store.schema import deliveries, items
from tests.helpers import board_count, board_titles, load, run_once, write_config
from tests.servers import FeedServer, rss

ITEMS = [
    ("g3", "https://example.org/3", "Drei"),
    ("g2", "https://example.org/2", "Zwei"),
    ("g1", "https://example.org/1", "Eins"),
]


def _source(server: FeedServer, path: str = "/feed.xml", **extra: object) -> dict[str, object]:
    return {"name": "test", "url": server.url(path), "allow_private": True, **extra}


async def test_first_run_posts_only_the_newest_item_and_records_the_rest(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server)]))
    await run_once(loaded, store)
    assert board_titles(store) == ["Drei"]
    seen = store.call(explain, "https://example.org/1")
    assert seen[0].item.decision == "seen"
    assert "first run" in seen[0].item.reason


async def test_first_run_none_and_number_and_since(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    dated = rss([]).replace(
        "</channel>",
        "<item><guid>a</guid><title>Alt</title><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate></item>"
        "<item><guid>b</guid><title>Neu</title><pubDate>Wed, 01 Jan 2025 10:00:00 GMT</pubDate></item>"
        "</channel>",
    )
    feed_server.set("/none.xml", rss(ITEMS))
    feed_server.set("/two.xml", rss(ITEMS))
    feed_server.set("/since.xml", dated)
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [
                {
                    "name": "none",
                    "url": feed_server.url("/none.xml"),
                    "allow_private": True,
                    "first_run": "none",
                },
                {
                    "name": "two",
                    "url": feed_server.url("/two.xml"),
                    "allow_private": True,
                    "first_run": 2,
                },
                {
                    "name": "since",
                    "url": feed_server.url("/since.xml"),
                    "allow_private": True,
                    "first_run": "since:2024-06-01",
                },
            ],
        )
    )
    await run_once(loaded, store)
    titles = board_titles(store)
    assert sorted(titles) == ["Drei", "Neu", "Zwei"]


async def test_conditional_request_gives_304_and_no_posts_then_new_entry_posts_once(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server)]))
    await run_once(loaded, store)
    reports = await run_once(loaded, store)
    assert reports[0].http_status == 304
    assert feed_server.hits("/feed.xml")[-1].headers.get("If-None-Match")
    assert board_count(store) == 1
    feed_server.set("/feed.xml", rss([("g4", "https://example.org/4", "Vier"), *ITEMS]))
    await run_once(loaded, store)
    await run_once(loaded, store)
    assert board_titles(store) == ["Drei", "Vier"]


async def test_guid_change_with_same_link_and_tracking_parameters_is_the_same_item(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server, first_run=3)]))
    await run_once(loaded, store)
    renamed = [
        ("new-guid-3", "http://www.example.org/3/?utm_source=rss&utm_medium=feed#top", "Drei"),
        ("g2", "https://example.org/2", "Zwei"),
        ("g1", "https://example.org/1", "Eins"),
    ]
    feed_server.set("/feed.xml", rss(renamed))
    await run_once(loaded, store)
    assert sorted(board_titles(store)) == ["Drei", "Eins", "Zwei"]
    explanation = store.call(explain, "new-guid-3")[0]
    assert any(e.kind == "renamed" for e in explanation.events)


async def test_same_article_from_two_sources_posts_once(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/a.xml", rss([("a-1", "https://example.org/story", "Die Geschichte")]))
    feed_server.set(
        "/b.xml", rss([("b-1", "http://example.org/story?utm_campaign=x", "Die Geschichte (B)")])
    )
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [
                {"name": "a", "url": feed_server.url("/a.xml"), "allow_private": True},
                {"name": "b", "url": feed_server.url("/b.xml"), "allow_private": True},
            ],
        )
    )
    await run_once(loaded, store)
    assert board_count(store) == 1
    duplicate = [
        e
        for e in store.call(explain, "https://example.org/story")
        if e.item.decision == "duplicate"
    ]
    assert len(duplicate) == 1
    assert "already there" in duplicate[0].events[0].message


async def test_restart_reposts_nothing(
    feed_server: FeedServer, store_url: str, tmp_path: Path
) -> None:
    from newsbote.store import open_store

    feed_server.set("/feed.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server, first_run=3)]))
    first = open_store(store_url)
    await run_once(loaded, first)
    assert board_count(first) == 3
    first.close()
    feed_server.set("/feed.xml", rss(ITEMS), conditional=False)
    again = open_store(store_url)
    await run_once(loaded, again)
    assert board_count(again) == 3
    again.close()


async def test_changed_article_edits_the_board_post_under_update_edit(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(ITEMS[:1]))
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [_source(feed_server)],
            routes=[{"sources": ["*"], "destinations": ["board"], "update": "edit"}],
        )
    )
    await run_once(loaded, store)
    feed_server.set("/feed.xml", rss([("g3", "https://example.org/3", "Drei (korrigiert)")]))
    await run_once(loaded, store)
    assert board_titles(store) == ["Drei (korrigiert)"]
    explanation = store.call(explain, "g3")[0]
    assert explanation.item.version == 2
    assert [d.action for d in explanation.deliveries] == ["post", "edit"]
    assert all(d.state == "sent" for d in explanation.deliveries)


async def test_changed_article_is_not_reposted_under_update_ignore(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(ITEMS[:1]))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server)]))
    await run_once(loaded, store)
    feed_server.set("/feed.xml", rss([("g3", "https://example.org/3", "Drei (neu)")]))
    await run_once(loaded, store)
    assert board_titles(store) == ["Drei"]
    assert store.call(explain, "g3")[0].item.version == 2


async def test_keyword_filters_route_only_matching_items(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set(
        "/feed.xml",
        rss(
            [
                ("x", "https://e.org/x", "Linux-Kernel erschienen"),
                ("y", "https://e.org/y", "Kochrezepte"),
            ]
        ),
    )
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [_source(feed_server, first_run="all")],
            routes=[{"sources": ["test"], "destinations": ["board"], "include": ["linux-kernel"]}],
        )
    )
    await run_once(loaded, store)
    assert board_titles(store) == ["Linux-Kernel erschienen"]
    assert store.call(explain, "y")[0].item.decision == "filtered"


async def test_broken_feed_is_recorded_as_an_error_and_the_next_source_still_posts(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/bad.xml", "<html><body>not a feed</body></html>", content_type="text/html")
    feed_server.set("/good.xml", rss(ITEMS))
    loaded = load(
        write_config(
            tmp_path,
            store_url,
            [
                {"name": "bad", "url": feed_server.url("/bad.xml"), "allow_private": True},
                {"name": "good", "url": feed_server.url("/good.xml"), "allow_private": True},
            ],
        )
    )
    reports = {r.source: r for r in await run_once(loaded, store)}
    assert reports["bad"].status == "error"
    assert "bad.xml" in (reports["bad"].error or "")
    assert board_titles(store) == ["Drei"]


async def test_gone_source_is_disabled_with_a_visible_reason_and_not_polled_again(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    from newsbote.store.sources import get_state

    feed_server.set("/feed.xml", status=410, conditional=False)
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server)]))
    await run_once(loaded, store)
    state = store.call(get_state, "test")
    assert state is not None and state.disabled_reason and "410" in state.disabled_reason
    await run_once(loaded, store)
    assert len(feed_server.hits("/feed.xml")) == 1


async def test_server_error_backs_off_honouring_retry_after_and_keeps_the_error(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from newsbote.store.queries import source_rows

    feed_server.set("/feed.xml", status=503, headers={"Retry-After": "7200"}, conditional=False)
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server)]))
    await run_once(loaded, store)
    row = store.call(source_rows)[0]
    assert row.errors == 1 and "HTTP 503" in row.last_error and row.last_error_at is not None
    assert row.next_check_at >= datetime.now(UTC) + timedelta(seconds=7000)
    await run_once(loaded, store, force=False)
    assert len(feed_server.hits("/feed.xml")) == 1


async def test_permanent_redirect_updates_the_stored_url(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    from newsbote.store.sources import get_state

    feed_server.set("/old.xml", status=301, headers={"Location": "/new.xml"}, conditional=False)
    feed_server.set("/new.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server, "/old.xml")]))
    await run_once(loaded, store)
    state = store.call(get_state, "test")
    assert state is not None and state.url == feed_server.url("/new.xml")
    await run_once(loaded, store)
    assert len(feed_server.hits("/old.xml")) == 1
    assert board_titles(store) == ["Drei"]


def _article(title: str, text: str) -> str:
    """An RSS feed with one article whose text is ``text``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<item><guid>a1</guid><link>https://example.org/a1</link>"
        f"<title>{title}</title><description>&lt;p&gt;{text}&lt;/p&gt;</description></item>"
        "</channel></rss>"
    )


def _update_config(
    tmp_path: Path, store_url: str, feed_server: FeedServer, **route: object
) -> Path:
    return write_config(
        tmp_path,
        store_url,
        [_source(feed_server)],
        routes=[{"sources": ["*"], "destinations": ["board"], **route}],
    )


@pytest.mark.parametrize(
    ("policy", "second"), [("repost", "Neu gefasst"), ("reply", "Update: Neu gefasst")]
)
async def test_repost_and_reply_post_anew_and_a_reply_is_titled_as_an_update(
    policy: str, second: str, feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    words = " ".join(f"Wort{n}" for n in range(40))
    feed_server.set("/feed.xml", _article("Erste Fassung", words))
    loaded = load(_update_config(tmp_path, store_url, feed_server, update=policy))
    await run_once(loaded, store)
    feed_server.set("/feed.xml", _article("Neu gefasst", words + " und mehr"))
    await run_once(loaded, store)
    assert board_titles(store) == ["Erste Fassung", second]
    actions = [d.action for d in store.call(explain, "a1")[0].deliveries]
    assert actions == ["post", "post" if policy == "repost" else "reply"]


async def test_min_change_passes_on_only_real_changes(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    words = [f"Wort{n}" for n in range(40)]
    feed_server.set("/feed.xml", _article("Meldung", " ".join(words)))
    loaded = load(_update_config(tmp_path, store_url, feed_server, update="edit", min_change=0.2))
    await run_once(loaded, store)
    typo = [*words[:10], "Wortt10", *words[11:]]  # one word in forty: 2.5 %
    feed_server.set("/feed.xml", _article("Meldung", " ".join(typo)))
    await run_once(loaded, store)
    assert [d.action for d in store.call(explain, "a1")[0].deliveries] == ["post"]
    rewrite = typo[:20] + [f"Neu{n}" for n in range(20)]  # half of it: 50 %
    feed_server.set("/feed.xml", _article("Meldung", " ".join(rewrite)))
    await run_once(loaded, store)
    assert [d.action for d in store.call(explain, "a1")[0].deliveries] == ["post", "edit"]


async def test_each_ledger_row_belongs_to_its_own_item_also_after_a_gap_in_the_ids(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    # SQLite numbers a poll's new items itself (the largest id + 1 on): the numbering
    # must agree with the rows, also where the newest item was deleted
    feed_server.set("/feed.xml", rss(ITEMS))
    loaded = load(write_config(tmp_path, store_url, [_source(feed_server, first_run="all")]))
    await run_once(loaded, store)
    with store.begin() as connection:
        newest = connection.execute(select(func.max(items.c.id))).scalar_one()
        connection.execute(delete(items).where(items.c.id == newest))
    later = [("g5", "https://example.org/5", "Fünf"), ("g4", "https://example.org/4", "Vier")]
    feed_server.set("/feed.xml", rss(later + ITEMS))
    await run_once(loaded, store)
    with store.begin() as connection:
        rows = connection.execute(
            select(items.c.id, items.c.title, deliveries.c.title.label("posted")).join(
                deliveries, deliveries.c.item_id == items.c.id
            )
        ).all()
    # the deleted item came back as new; every article has one ledger row, its own
    assert sorted(row.posted for row in rows) == ["Drei", "Eins", "Fünf", "Vier", "Zwei"]
    assert all(row.title == row.posted for row in rows)
    assert len({row.id for row in rows}) == len(rows)


async def test_a_huge_hostile_feed_leaves_the_event_loop_free_and_the_other_source_posts(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    """The CPU work of a poll runs in a worker thread: a task on the event loop keeps
    ticking while a feed of several MB is parsed and sanitized (before, the loop stood
    still for the whole poll: its longest pause was the poll's duration)."""
    hostile = "&lt;b&gt;" * 300 + "&lt;" * 300 + "&amp;amp;" * 200 + "&lt;p " * 200
    many = [(f"h{i}", f"https://example.org/h{i}", f"Meldung {i}") for i in range(1000)]
    feed_server.set("/huge.xml", rss(many).replace("&lt;p&gt;Text von", hostile))
    feed_server.set("/feed.xml", rss(ITEMS))
    sources = [
        _source(feed_server, "/huge.xml", name="huge", first_run="none"),
        _source(feed_server, "/feed.xml", name="small", first_run="all"),
    ]
    loaded = load(write_config(tmp_path, sqlite_url, sources))
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = loop.time()
    reports = {report.source: report for report in await run_once(loaded, sqlite_store)}
    duration = loop.time() - started
    ticker.cancel()
    assert reports["huge"].status == "ok" and reports["huge"].entries == 1000
    assert reports["small"].status == "ok"
    assert {"Drei", "Zwei", "Eins"} <= set(board_titles(sqlite_store))
    assert max(gaps) < duration / 4
    assert len(gaps) > 20  # the poll lasted many ticks
