"""Misago, real (0.39 on the CI's PostgreSQL): threads by News-Bote, edits, replies,
lookups of uncertain sends, and Misago's own flood protection respected.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from sqlalchemy import select

from newsbote.outbox import _delivery
from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.worker import Service, build_destinations
from tests.helpers import add_destination, feed_config, load
from tests.misago import PASSWORD, USER, Forum
from tests.servers import FeedServer
from tests.test_faults import due_now
from tests.test_vendors import GOLDEN, feed

_titles = itertools.count()


def configure(
    tmp_path: Path, store_url: str, feed_server: FeedServer, forum: Forum, **route: object
) -> Path:
    path = feed_config(
        tmp_path,
        store_url,
        feed_server.url("/feed.xml"),
        ["forum"],
        source={"fulltext": "never"},
        **route,
    )
    add_destination(
        path, "forum", "misago", url=forum.url, username=USER, password=PASSWORD,
        category=forum.category, allow_private=True,
    )  # fmt: skip
    return path


async def settle(path: Path, store: Store, *, poll: bool = True, within: float = 30.0) -> None:
    """Poll once, then deliver until nothing waits: rate limits make that take a few seconds."""
    async with Service(load(path), store) as service:
        if poll:
            await service.poll_due(force=True)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            await service.deliver_all()
            left = store.call(
                lambda c: c.execute(
                    select(deliveries.c.id).where(
                        deliveries.c.state.in_(["pending", "sending", "failed"])
                    )
                ).first()
            )
            if left is None:
                return
            await asyncio.sleep(0.5)
            due_now(store)  # a flood-protection refusal waits its backoff: skip it
        raise AssertionError("deliveries still pending")


def title(base: str) -> str:
    return f"{base} #{next(_titles)}"


async def test_articles_become_threads_and_edits_change_post_and_title(
    feed_server: FeedServer, misago_forum: Forum, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    first = title("Glasfaser-Ausbau kommt voran")
    feed_server.set("/feed.xml", feed(first, GOLDEN))
    path = configure(tmp_path, sqlite_url, feed_server, misago_forum, update="edit")
    await settle(path, sqlite_store)
    row = sqlite_store.call(lambda c: c.execute(select(deliveries)).one())
    assert row.state == "sent", row.last_error
    (thread,) = [t for t in misago_forum.threads() if t["id"] == int(row.remote_id)]
    assert thread["title"] == first and thread["starter"] == USER
    posts = thread["posts"]
    assert isinstance(posts, list) and len(posts) == 1
    post = posts[0]
    assert "## Was sich für Mieter ändert" in post
    assert "[zum Artikel…](https://www.example.org/artikel/glasfaser)" in post
    assert row.remote_url.startswith(misago_forum.url + "/t/")

    second = title("Glasfaser-Ausbau kommt schneller voran")
    feed_server.set("/feed.xml", feed(second, GOLDEN + "<p>Nachtrag der Redaktion.</p>"))
    await settle(path, sqlite_store)
    (thread,) = [t for t in misago_forum.threads() if t["id"] == int(row.remote_id)]
    assert thread["title"] == second
    assert "Nachtrag der Redaktion." in thread["posts"][0]  # type: ignore[index]


async def test_flood_protection_is_respected_and_replies_land_in_the_thread(
    feed_server: FeedServer, misago_forum: Forum, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    names = [title(f"Meldung über den Ausbau Nummer {n}") for n in range(3)]
    items = "".join(
        f"<item><guid>m{n}-{name}</guid><link>https://www.example.org/m/{n}/{next(_titles)}</link>"
        f"<title>{name}</title><description>&lt;p&gt;Der Text der Meldung {n} ist lang genug.&lt;/p&gt;</description></item>"
        for n, name in enumerate(names)
    )  # fmt: skip
    feed_server.set(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>{items}</channel></rss>',
    )
    path = configure(tmp_path, sqlite_url, feed_server, misago_forum, update="reply")
    await settle(path, sqlite_store)
    rows = sqlite_store.call(
        lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id)))
    )
    assert [r.state for r in rows] == ["sent"] * 3, [r.last_error for r in rows]
    # paced to Misago's flood protection: no post was refused for coming too soon (only the
    # first may meet the previous test's last post)
    assert [r.attempts for r in rows[1:]] == [1, 1]
    by_title = {t["title"]: t for t in misago_forum.threads()}
    assert all(by_title[name]["starter"] == USER for name in names)


async def test_an_uncertain_send_is_found_instead_of_posted_twice(
    feed_server: FeedServer, misago_forum: Forum, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    name = title("Ein Artikel, dessen Antwort verloren ging")
    feed_server.set("/feed.xml", feed(name, GOLDEN, "verloren"))
    path = configure(tmp_path, sqlite_url, feed_server, misago_forum)
    await settle(path, sqlite_store)
    # the post arrived, but pretend the worker died before recording it
    sqlite_store.call(
        lambda c: c.execute(deliveries.update().values(state="unknown", remote_id=None))
    )
    await settle(path, sqlite_store, poll=False)
    row = sqlite_store.call(lambda c: c.execute(select(deliveries)).one())
    assert row.state == "sent" and row.remote_id
    assert [t["title"] for t in misago_forum.threads()].count(name) == 1

    destination = build_destinations(load(path), sqlite_store)["forum"]
    try:
        assert "misago as NewsBote" in await destination.check()
        found = await destination.lookup(_delivery(row, "unknown"))
        assert found is not None and found.remote_id == row.remote_id
    finally:
        await destination.close()


async def test_signing_in_again_after_a_refusal_starts_a_fresh_session(
    misago_forum: Forum,
    sqlite_store: Store,
    sqlite_url: str,
    tmp_path: Path,
    feed_server: FeedServer,
) -> None:
    from newsbote.outbox import Delivery
    from newsbote.types import Markup, Message

    destination = build_destinations(
        load(configure(tmp_path, sqlite_url, feed_server, misago_forum)), sqlite_store
    )["forum"]
    body = "Ein Beitrag, lang genug für Misago."
    try:
        await asyncio.sleep(3.5)  # Misago's flood protection (the other tests post as the same bot)
        first = Message("forum", title("Erster Beitrag der Sitzung"), body, None, Markup.MARKDOWN)
        await destination.send(Delivery(1, 1, "forum", "s1", 1, "post", 1, first))
        destination._signed_in = False  # type: ignore[attr-defined]  # as after a 403
        await asyncio.sleep(3.5)  # Misago's flood protection
        second = Message("forum", title("Zweiter Beitrag der Sitzung"), body, None, Markup.MARKDOWN)
        receipt = await destination.send(Delivery(2, 2, "forum", "s2", 1, "post", 1, second))
    finally:
        await destination.close()
    assert any(t["id"] == int(receipt.remote_id) for t in misago_forum.threads())
