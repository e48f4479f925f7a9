"""Email against a real SMTP server (aiosmtpd): STARTTLS with AUTH, multipart, threading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsbote.store import Store
from newsbote.store.health import destination_states, enable_destination
from newsbote.store.schema import deliveries
from tests.helpers import add_destination, feed_config, load, run_once
from tests.mail import PASSWORD, USER, SmtpServer
from tests.servers import FeedServer, rss


def mail_config(
    tmp_path: Path,
    store_url: str,
    feed_server: FeedServer,
    smtp: SmtpServer,
    digest: dict[str, str] | None = None,
    **route: Any,
) -> Path:
    path = feed_config(tmp_path, store_url, feed_server.url("/feed.xml"), ["post"], **route)
    add_destination(
        path, "post", "email", host="127.0.0.1", port=smtp.port, security="starttls",
        username=USER, password="env:NEWSBOTE_TEST_SMTP_PASSWORD", ca_file=str(smtp.ca_file),
        sender="News-Bote <bote@example.org>", to=["forum@example.org", "admin@example.org"],
        **(digest or {}),
    )  # fmt: skip
    return path


async def test_each_article_is_one_multipart_mail_over_starttls_with_auth(
    feed_server: FeedServer, smtp: SmtpServer, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Glasfaser für alle")]))
    await run_once(load(mail_config(tmp_path, sqlite_url, feed_server, smtp)), sqlite_store)
    (mail,) = smtp.mailbox.mails
    assert smtp.mailbox.envelopes == [
        ("bote@example.org", ["forum@example.org", "admin@example.org"])
    ]
    assert mail["Subject"] == "Glasfaser für alle"
    assert mail["From"] == "News-Bote <bote@example.org>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "zum Artikel… (https://example.org/1)" in text.get_content()
    assert '<a href="https://example.org/1">zum Artikel…</a>' in html.get_content()
    stored = sqlite_store.call(lambda c: c.execute(select(deliveries.c.remote_id)).scalar_one())
    assert stored == mail["Message-ID"] and mail["Message-ID"].endswith("@example.org>")


async def test_updates_are_replies_threaded_under_the_first_mail(
    feed_server: FeedServer, smtp: SmtpServer, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Meldung")]))
    loaded = load(mail_config(tmp_path, sqlite_url, feed_server, smtp, update="edit"))
    await run_once(loaded, sqlite_store)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Meldung, ergänzt")]))
    await run_once(loaded, sqlite_store)
    first, update = smtp.mailbox.mails
    assert update["Subject"] == "Update: Meldung, ergänzt"
    assert update["In-Reply-To"] == first["Message-ID"] == update["References"]
    assert update["Message-ID"] != first["Message-ID"]


async def test_a_wrong_password_disables_the_destination_the_mail_waits_and_a_temporary_refusal_is_retried(
    feed_server: FeedServer, smtp: SmtpServer, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Eins")]))
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", "falsch")
    loaded = load(mail_config(tmp_path, sqlite_url, feed_server, smtp))
    await run_once(loaded, sqlite_store)
    row = sqlite_store.call(lambda c: c.execute(select(deliveries)).one())
    assert row.state == "pending" and "refused" in row.last_error
    assert sqlite_store.call(destination_states)["post"].reason == "bad_credentials"
    assert smtp.mailbox.mails == []

    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    smtp.mailbox.reject_next = ["451 4.3.0 try again later"]
    sqlite_store.call(enable_destination, "post", datetime.now(UTC))
    await run_once(loaded, sqlite_store)
    row = sqlite_store.call(lambda c: c.execute(select(deliveries)).one())
    assert row.state == "failed" and "451" in row.last_error


async def test_a_daily_digest_collects_the_days_articles_into_one_mail(
    feed_server: FeedServer, smtp: SmtpServer, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    now = datetime.now(UTC)
    items = [(f"g{n}", f"https://example.org/{n}", f"Artikel Nummer {n}") for n in range(3)]
    feed_server.set("/feed.xml", rss(items))
    if now.hour < 23:  # digest time still ahead today: nothing goes out yet
        later = (now + timedelta(hours=1)).strftime("%H:00")
        waiting = {"digest": "daily", "digest_at": later, "timezone": "UTC"}
        loaded = load(mail_config(tmp_path, sqlite_url, feed_server, smtp, waiting))
        await run_once(loaded, sqlite_store)
        assert smtp.mailbox.mails == []
        states = sqlite_store.call(lambda c: c.execute(select(deliveries.c.state)).scalars().all())
        assert states == ["pending"] * 3
    due = {"digest": "daily", "digest_at": "00:00", "timezone": "UTC"}
    loaded = load(mail_config(tmp_path, sqlite_url, feed_server, smtp, due))
    await run_once(loaded, sqlite_store)
    (mail,) = smtp.mailbox.mails
    assert mail["Subject"].startswith("News-Bote: 3 neue Artikel (")
    html = mail.get_body(("html",))
    assert html is not None
    text = html.get_content()
    assert all(f"<h2>Artikel Nummer {n}</h2>" in text for n in range(3))
    assert all(f'href="https://example.org/{n}"' in text for n in range(3))
    states = sqlite_store.call(lambda c: c.execute(select(deliveries.c.state)).scalars().all())
    assert states == ["sent"] * 3

    # one digest a day: a later article waits for tomorrow's
    feed_server.set("/feed.xml", rss([("g9", "https://example.org/9", "Nachzügler"), *items]))
    await run_once(loaded, sqlite_store)
    assert len(smtp.mailbox.mails) == 1
    states = sqlite_store.call(lambda c: c.execute(select(deliveries.c.state)).scalars().all())
    assert sorted(states) == ["pending", "sent", "sent", "sent"]
