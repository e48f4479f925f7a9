"""WordPress, real: as a destination (REST API, application passwords), and as a source in
the end-to-end run WordPress → newsbote → Matrix + email + board, edits included.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from newsbote.outbox import _delivery
from newsbote.store import Store
from newsbote.store.schema import board_posts, deliveries
from newsbote.worker import build_destinations
from tests.helpers import add_destination, feed_config, load, run_once, write_config
from tests.mail import PASSWORD, USER, SmtpServer
from tests.servers import FeedServer
from tests.synapse import Homeserver
from tests.test_vendors import GOLDEN, feed
from tests.wordpress import Site

_rooms = itertools.count()


def wordpress_destination(path: Path, site: Site, **extra: object) -> None:
    add_destination(
        path, "blog-wp", "wordpress", url=site.url, username=site.user,
        application_password=site.password, allow_private=True, **extra,
    )  # fmt: skip


async def test_articles_become_wordpress_posts_and_edits_update_them(
    feed_server: FeedServer, wordpress_site: Site, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    feed_server.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN))
    path = feed_config(
        tmp_path, sqlite_url, feed_server.url("/feed.xml"), ["blog-wp"],
        source={"fulltext": "never"}, update="edit",
    )  # fmt: skip
    wordpress_destination(path, wordpress_site)
    loaded = load(path)
    await run_once(loaded, sqlite_store)
    row = sqlite_store.call(lambda c: c.execute(select(deliveries)).one())
    assert row.state == "sent", row.last_error
    post = wordpress_site.api(f"/wp/v2/posts/{row.remote_id}?context=edit")
    assert post["title"]["raw"] == "Glasfaser-Ausbau kommt voran"
    assert post["status"] == "publish" and post["slug"].startswith("newsbote-")
    assert (
        '<a href="https://www.example.org/artikel/glasfaser">zum Artikel…</a>'
        in post["content"]["raw"]
    )
    assert "<h2>Was sich für Mieter ändert</h2>" in post["content"]["raw"]

    feed_server.set("/feed.xml", feed("Glasfaser-Ausbau kommt schneller voran", GOLDEN))
    await run_once(loaded, sqlite_store)
    post = wordpress_site.api(f"/wp/v2/posts/{row.remote_id}?context=edit")
    assert post["title"]["raw"] == "Glasfaser-Ausbau kommt schneller voran"
    assert (
        len(wordpress_site.api("/wp/v2/posts?per_page=100")) == 2
    )  # ours and WordPress's "Hello world!"

    destination = build_destinations(loaded, sqlite_store)["blog-wp"]
    try:
        assert "wordpress as redaktion" in await destination.check()
        # a send whose answer was lost is found by its slug, not posted twice
        claimed = sqlite_store.call(
            lambda c: c.execute(select(deliveries).order_by(deliveries.c.id)).first()
        )
        found = await destination.lookup(_delivery(claimed, "unknown"))
        assert found is not None and found.remote_id == row.remote_id
    finally:
        await destination.close()


async def test_wordpress_to_matrix_email_and_board_with_an_edit(
    wordpress_site: Site, synapse: Homeserver, smtp: SmtpServer, sqlite_store: Store,
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    token = synapse.register(f"wpbote{next(_rooms)}")
    room = synapse.create_room(token)
    path = write_config(
        tmp_path,
        sqlite_url,
        [{"name": "wp", "url": f"{wordpress_site.url}/?feed=rss2", "allow_private": True, "first_run": "none"}],
        routes=[{"sources": ["wp"], "destinations": ["board", "raum", "post"], "update": "edit"}],
    )  # fmt: skip
    add_destination(
        path, "raum", "matrix", homeserver=synapse.url, room=room, access_token=token,
        allow_private=True, rate_per_minute=6000,
    )  # fmt: skip
    add_destination(
        path, "post", "email", host="127.0.0.1", port=smtp.port, security="starttls",
        username=USER, password="env:NEWSBOTE_TEST_SMTP_PASSWORD", ca_file=str(smtp.ca_file),
        sender="News-Bote <bote@example.org>", to=["forum@example.org"],
    )  # fmt: skip
    loaded = load(path)
    await run_once(loaded, sqlite_store)  # first run: "Hello world!" is recorded as seen
    assert synapse.messages(token, room) == []

    # WordPress's feed answers 304 while its Last-Modified (whole seconds) has not moved on:
    # a change in the same second as the last poll would be invisible, to any reader
    time.sleep(1.1)
    post = wordpress_site.api(
        "/wp/v2/posts", "POST",
        {"title": "Neue Glasfaser-Förderung", "content": "<p>Der Bund fördert <strong>mehr</strong> Anschlüsse.</p><ul><li>eins</li><li>zwei</li></ul>", "status": "publish"},
    )  # fmt: skip
    await run_once(loaded, sqlite_store)
    (message,) = synapse.messages(token, room)
    assert "Neue Glasfaser-Förderung" in message["content"]["formatted_body"]
    assert "<strong>mehr</strong>" in message["content"]["formatted_body"]
    assert f'href="{post["link"]}"' in message["content"]["formatted_body"]
    (mail,) = smtp.mailbox.mails
    assert mail["Subject"] == "Neue Glasfaser-Förderung"
    titles = sqlite_store.call(
        lambda c: c.execute(select(board_posts.c.thread_title)).scalars().all()
    )
    assert titles == ["Neue Glasfaser-Förderung"]

    time.sleep(1.1)  # as above
    wordpress_site.api(f"/wp/v2/posts/{post['id']}", "POST", {"title": "Neue Glasfaser-Förderung (aktualisiert)", "content": "<p>Der Bund fördert <strong>deutlich mehr</strong> Anschlüsse.</p>"})  # fmt: skip
    await run_once(loaded, sqlite_store)
    original, edit = synapse.messages(token, room)
    assert edit["content"]["m.relates_to"] == {
        "rel_type": "m.replace",
        "event_id": original["event_id"],
    }
    assert "deutlich mehr" in edit["content"]["m.new_content"]["formatted_body"]
    update = smtp.mailbox.mails[1]
    assert update["In-Reply-To"] == mail["Message-ID"]
    titles = sqlite_store.call(
        lambda c: c.execute(select(board_posts.c.thread_title)).scalars().all()
    )
    assert titles == ["Neue Glasfaser-Förderung (aktualisiert)"]
