"""Health: sources and destinations fail, are disabled and recover, and the bot says so
(to a real Synapse room and a real SMTP server), once."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from newsbote import health as machine
from newsbote.health import Health
from newsbote.store import Store
from newsbote.store.health import destination_states, enable_destination
from newsbote.store.notices import add_notice, source_subject
from newsbote.store.schema import deliveries, notice_sends, notices, sources
from newsbote.store.sources import get_state
from newsbote.worker import digest_moment
from tests.helpers import add_destination, load, run_once, write_config
from tests.mail import PASSWORD, USER, SmtpServer
from tests.servers import FeedServer, rss
from tests.synapse import Homeserver

T0 = datetime(2026, 11, 29, 12, tzinfo=UTC)
WEEK = 7 * 86400.0
_users = itertools.count()


# -- the pure state machine ------------------------------------------------------------


def test_a_failed_poll_makes_a_source_failing_since_its_first_failure() -> None:
    first = machine.source_failed(
        Health("heise"), now=T0, message="HTTP 503 Service Unavailable", http_status=503,
        disable_after=WEEK,
    )  # fmt: skip
    later = machine.source_failed(
        first, now=T0 + timedelta(hours=1), message="HTTP 503", http_status=503,
        disable_after=WEEK,
    )  # fmt: skip
    assert (first.state, first.since, first.failures) == ("failing", T0, 1)
    assert (later.state, later.since, later.failures) == ("failing", T0, 2)
    assert machine.succeeded(later) == Health("heise", last_error="HTTP 503")


def test_gone_disables_at_once_and_a_week_of_failures_disables_with_its_reason() -> None:
    gone = machine.source_failed(
        Health("a"), now=T0, message="gone (HTTP 410)", http_status=410, disable_after=WEEK
    )
    assert (gone.state, gone.reason) == ("disabled", machine.GONE)
    failing = machine.source_failed(
        Health("b"), now=T0, message="HTTP 500", http_status=500, disable_after=WEEK
    )
    almost = machine.source_failed(
        failing, now=T0 + timedelta(days=6), message="HTTP 500", http_status=500,
        disable_after=WEEK,
    )  # fmt: skip
    week = machine.source_failed(
        almost, now=T0 + timedelta(days=7), message="HTTP 500", http_status=500,
        disable_after=WEEK,
    )  # fmt: skip
    assert almost.state == "failing"
    assert (week.state, week.reason) == ("disabled", machine.FAILING_DAYS)
    assert week.reason_text is not None and "failing for 7 days" in week.reason_text
    html = "https://x/feed: not a usable feed: not an RSS, Atom or JSON feed"
    page = machine.source_failed(
        Health("c"), now=T0, message=html, http_status=200, disable_after=WEEK
    )
    assert (page.state, page.reason) == ("failing", machine.NOT_A_FEED)
    big = machine.source_failed(
        Health("d"), now=T0, message="response exceeds the cap of 10 bytes", http_status=None,
        disable_after=WEEK,
    )  # fmt: skip
    assert big.reason == machine.TOO_LARGE


def test_failing_is_announced_once_after_notify_after_and_recovery_only_if_told() -> None:
    health = Health("a")
    said: list[str | None] = []
    for _ in range(4):
        health = machine.source_failed(
            health, now=T0, message="HTTP 503", http_status=503, disable_after=WEEK
        )
        target = machine.due_announcement(health, notify_after=3)
        said.append(target)
        if target:
            health = replace(health, announced=target)
    assert said == [None, None, "failing", None]
    assert machine.due_announcement(machine.succeeded(health), 3) == "ok"
    blip = machine.source_failed(
        Health("b"), now=T0, message="HTTP 503", http_status=503, disable_after=WEEK
    )
    assert machine.due_announcement(machine.succeeded(blip), 3) is None


@pytest.mark.parametrize(
    ("error", "permanent", "state", "reason"),
    [
        ("HTTP 401 from PUT /x: M_UNKNOWN_TOKEN", True, "disabled", machine.BAD_CREDENTIALS),
        ("HTTP 403 from POST /posts: not allowed", True, "disabled", machine.FORBIDDEN),
        ("HTTP 404 from PUT /rooms: no room", True, "disabled", machine.DESTINATION_GONE),
        ("HTTP 410 from POST /hook", True, "disabled", machine.DESTINATION_GONE),
        ("SMTP 535: authentication failed", True, "disabled", machine.BAD_CREDENTIALS),
        ("chat.postMessage: invalid_auth", True, "disabled", machine.BAD_CREDENTIALS),
        ("chat.postMessage: channel_not_found", True, "disabled", machine.DESTINATION_GONE),
        ("HTTP 503 from POST /hook", False, "failing", None),
        ("HTTP 400 from POST /hook: too long", True, "failing", None),
    ],
)
def test_a_delivery_round_fails_or_disables_a_destination(
    error: str, permanent: bool, state: str, reason: str | None
) -> None:
    after = machine.destination_round(
        Health("ops"), now=T0, arrived=0, error=error, permanent=permanent
    )
    assert (after.state, after.reason) == (state, reason)
    assert machine.destination_round(after, now=T0, arrived=1, error=None, permanent=False) == (
        after if state == "disabled" else machine.succeeded(after)
    )


@pytest.mark.parametrize(
    ("status", "german", "english"),
    [
        (403, "sperrt mich aus", "blocks me"),
        (404, "neue Feed-Adresse", "new address"),
        (410, "für immer entfernt", "removed the feed for good"),
        (429, "zu oft", "too often"),
        (503, "meist nur für eine Weile", "for a while only"),
    ],
)
def test_the_failing_text_says_what_to_do_in_both_languages(
    status: int, german: str, english: str
) -> None:
    health = Health("heise", "failing", T0, 3, f"HTTP {status} Whatever")
    de = machine.source_text(health, "failing", "de", http_status=status, disable_after=WEEK)
    en = machine.source_text(health, "failing", "en", http_status=status, disable_after=WEEK)
    assert de.text.startswith(f"Die Quelle »heise« liefert seit 3 Abrufen Fehler (HTTP {status}")
    assert "Ich versuche es weiter" in de.text and german in de.text
    assert en.text.startswith("The source »heise« has failed 3 polls") and english in en.text
    for problem, words in (
        ("the TLS certificate of x is not accepted", "Zertifikat"),
        ("no such host 'x': the name does not resolve", "Rechnernamen"),
    ):
        assert words in machine.source_action(problem, None, "de")


# -- sources against a local feed server, announced in a real Matrix room ---------------


def health_config(
    tmp_path: Path, store_url: str, feed_server: FeedServer, *, health: str = "",
    service: str = "",
) -> Path:  # fmt: skip
    source = {"name": "heise", "url": feed_server.url("/feed.xml"), "allow_private": True}
    extra = "[health]\n" + health + ("\n[service]\n" + service if service else "")
    return write_config(tmp_path, store_url, [source], extra=extra)


def add_room(
    path: Path, synapse: Homeserver, name: str, token: str | None = None
) -> tuple[str, str]:
    """A fresh Matrix room as destination ``name``; (room, token of a member)."""
    member = synapse.register(f"health{next(_users)}")
    room = synapse.create_room(member)
    add_destination(
        path, name, "matrix", homeserver=synapse.url, room=room, access_token=token or member,
        allow_private=True, rate_per_minute=6000,
    )  # fmt: skip
    return room, member


def bodies(synapse: Homeserver, token: str, room: str) -> list[str]:
    return [event["content"]["body"] for event in synapse.messages(token, room)]


def notice_kinds(store: Store) -> list[str]:
    return store.call(
        lambda c: list(c.execute(select(notices.c.kind).order_by(notices.c.id)).scalars())
    )


async def test_a_failing_feed_is_announced_once_and_its_recovery_too(
    feed_server: FeedServer, synapse: Homeserver, store: Store, store_url: str, tmp_path: Path
) -> None:
    path = health_config(tmp_path, store_url, feed_server, health='notify = ["ops"]')
    room, member = add_room(path, synapse, "ops")
    loaded = load(path)
    feed_server.set("/feed.xml", "overloaded", status=503)
    for _ in range(2):
        await run_once(loaded, store)
    assert bodies(synapse, member, room) == []  # two blips say nothing
    for _ in range(3):
        await run_once(loaded, store)
    (failing,) = bodies(synapse, member, room)  # said at the third failure, not per poll
    assert "Die Quelle »heise« liefert seit 3 Abrufen Fehler (HTTP 503" in failing
    assert "Ich versuche es weiter" in failing
    state = store.call(get_state, "heise")
    assert state is not None and state.health.state == "failing" and state.health.since
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Eins")]))
    await run_once(loaded, store)
    await run_once(loaded, store)
    texts = bodies(synapse, member, room)
    assert len(texts) == 2 and "Die Quelle »heise« liefert wieder" in texts[1]
    assert notice_kinds(store) == ["source_failing", "source_recovered"]


async def test_gone_disables_the_source_and_says_so_by_mail(
    feed_server: FeedServer, smtp: SmtpServer, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    path = health_config(tmp_path, store_url, feed_server, health='notify = ["admin"]')
    add_mail(path, smtp)
    feed_server.set("/feed.xml", "weg", status=410)
    loaded = load(path)
    await run_once(loaded, store)
    await run_once(loaded, store)  # a disabled source is not polled, nor announced again
    (mail,) = smtp.mailbox.mails
    assert mail["Subject"] == "Quelle »heise« abgeschaltet"
    text = mail.get_body(("plain",))
    assert text is not None
    content = " ".join(text.get_content().split())
    assert "Ich habe die Quelle »heise« abgeschaltet (gone)" in content
    assert "newsbote enable heise" in content
    state = store.call(get_state, "heise")
    assert state is not None and state.disabled_reason and state.health.reason == "gone"
    assert len(feed_server.hits("/feed.xml")) == 1


def add_mail(path: Path, smtp: SmtpServer, name: str = "admin") -> None:
    add_destination(
        path, name, "email", host="127.0.0.1", port=smtp.port, security="starttls",
        username=USER, password="env:NEWSBOTE_TEST_SMTP_PASSWORD", ca_file=str(smtp.ca_file),
        sender="News-Bote <bote@example.org>", to=["admin@example.org"],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("route", "service", "reason", "action"),
    [
        (
            {"body": "<!doctype html><html><body><p>Willkommen</p></body></html>",
             "content_type": "text/html"},
            "", machine.NOT_A_FEED, "RSS- oder Atom-Link",
        ),
        (
            {"body": rss([("g", "https://example.org/g", "x" * 4000)])},
            "max_bytes = 1000", machine.TOO_LARGE, "max_bytes",
        ),
    ],
)  # fmt: skip
async def test_a_web_page_or_an_oversized_feed_fails_with_its_reason_and_action(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path, route: dict[str, Any], service: str, reason: str, action: str,
) -> None:  # fmt: skip
    path = health_config(
        tmp_path, sqlite_url, feed_server, health='notify = ["ops"]\nnotify_after = 1',
        service=service,
    )  # fmt: skip
    room, member = add_room(path, synapse, "ops")
    feed_server.set("/feed.xml", **route)
    await run_once(load(path), sqlite_store)
    state = sqlite_store.call(get_state, "heise")
    assert state is not None and (state.health.state, state.health.reason) == ("failing", reason)
    (text,) = bodies(synapse, member, room)
    assert "liefert seit 1 Abrufen Fehler" in text and action in text


async def test_a_week_of_failures_disables_the_source_with_a_notice(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    path = health_config(
        tmp_path, sqlite_url, feed_server, health='notify = ["board"]\ndisable_after = "1d"'
    )
    loaded = load(path)
    feed_server.set("/feed.xml", "kaputt", status=500)
    await run_once(loaded, sqlite_store)
    sqlite_store.call(  # its failures began two days ago
        lambda c: c.execute(sources.update().values(failing_since=datetime.now(UTC) - timedelta(2)))
    )
    await run_once(loaded, sqlite_store)
    state = sqlite_store.call(get_state, "heise")
    assert state is not None and state.health.reason == machine.FAILING_DAYS
    assert state.disabled_reason and state.disabled_reason.startswith("failing for 2 days")
    assert notice_kinds(sqlite_store) == ["source_disabled"]  # never disabled silently


# -- destinations ------------------------------------------------------------------------


async def test_a_destination_refusing_its_token_is_disabled_its_posts_wait_and_ops_hears(
    feed_server: FeedServer, synapse: Homeserver, store: Store, store_url: str, tmp_path: Path
) -> None:
    source = {"name": "heise", "url": feed_server.url("/feed.xml"), "allow_private": True,
              "first_run": "all"}  # fmt: skip
    path = write_config(
        tmp_path, store_url, [source], routes=[{"destinations": ["chat"]}],
        extra='[health]\nnotify = ["ops", "chat"]',
    )  # fmt: skip
    add_room(path, synapse, "chat", token="falsch")
    room, member = add_room(path, synapse, "ops")
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Eins")]))
    loaded = load(path)
    await run_once(loaded, store)
    health = store.call(destination_states)["chat"]
    assert (health.state, health.reason) == ("disabled", machine.BAD_CREDENTIALS)
    (text,) = bodies(synapse, member, room)
    assert "Ich habe das Ziel »chat« abgeschaltet (bad_credentials)" in text
    assert "Token oder Passwort" in text and "nichts verloren" in text
    # the notice about "chat" is never sent to "chat" itself
    assert store.call(lambda c: list(c.execute(select(notice_sends.c.destination)).scalars())) == [
        "ops"
    ]
    attempts = store.call(lambda c: c.execute(select(deliveries.c.attempts)).scalar_one())
    await run_once(loaded, store)  # disabled: its delivery waits, pending, unattempted
    row = store.call(lambda c: c.execute(select(deliveries.c.state, deliveries.c.attempts)).one())
    assert (row.state, row.attempts) == ("pending", attempts)
    assert store.call(enable_destination, "chat", datetime.now(UTC))
    assert store.call(destination_states)["chat"].state == "ok"


async def test_a_notice_of_a_hold_is_sent_once_to_every_notify_destination(
    feed_server: FeedServer, synapse: Homeserver, smtp: SmtpServer, sqlite_store: Store,
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    path = health_config(tmp_path, sqlite_url, feed_server, health='notify = ["ops", "admin"]')
    room, member = add_room(path, synapse, "ops")
    add_mail(path, smtp)
    feed_server.set("/feed.xml", rss([]))
    sqlite_store.call(
        add_notice, kind="held", subject=source_subject("heise"),
        text="Die Quelle »heise« liefert 80 neue Meldungen auf einmal: ich halte sie zurück.",
        now=datetime.now(UTC),
    )  # fmt: skip
    loaded = load(path)
    await run_once(loaded, sqlite_store)
    await run_once(loaded, sqlite_store)
    (text,) = bodies(synapse, member, room)
    assert "80 neue Meldungen auf einmal" in text
    (mail,) = smtp.mailbox.mails
    body = mail.get_body(("plain",))
    assert body is not None and "80 neue Meldungen" in body.get_content()
    states = sqlite_store.call(
        lambda c: sorted(c.execute(select(notice_sends.c.destination, notice_sends.c.state)).all())
    )
    assert [tuple(row) for row in states] == [("admin", "sent"), ("ops", "sent")]


async def test_the_daily_digest_lists_open_problems_once_a_day(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    path = health_config(
        tmp_path, sqlite_url, feed_server,
        health='notify = ["board"]\ndigest = true\ndigest_at = "00:00"',
    )  # fmt: skip
    feed_server.set("/feed.xml", "kaputt", status=502)
    loaded = load(path)
    for _ in range(3):
        await run_once(loaded, sqlite_store)
    assert notice_kinds(sqlite_store).count("digest") == 1
    digest = sqlite_store.call(
        lambda c: c.execute(select(notices.c.text).where(notices.c.kind == "digest")).scalar_one()
    )
    assert "Offene Probleme heute" in digest and "Quelle »heise«: gestört" in digest


def test_the_digest_moment_is_today_in_the_configured_zone() -> None:
    moment = digest_moment(datetime(2026, 7, 1, 5, tzinfo=UTC), "08:00", "Europe/Berlin")
    assert moment == datetime(2026, 7, 1, 6, tzinfo=UTC)


async def test_a_service_with_nothing_wrong_writes_no_notice(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    path = health_config(tmp_path, sqlite_url, feed_server, health='notify = ["board"]')
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Eins")]))
    await run_once(load(path), sqlite_store)
    count = sqlite_store.call(
        lambda c: c.execute(select(func.count()).select_from(notices)).scalar_one()
    )
    assert count == 0


# -- the command line --------------------------------------------------------------------


async def test_status_shows_health_with_the_action_and_enable_takes_a_destination(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    from typer.testing import CliRunner

    from newsbote.cli import app

    source = {"name": "heise", "url": feed_server.url("/feed.xml"), "allow_private": True,
              "first_run": "all"}  # fmt: skip
    path = write_config(
        tmp_path, sqlite_url, [source], routes=[{"destinations": ["chat"]}], language="en",
        extra='[health]\nnotify = ["board"]',
    )  # fmt: skip
    add_room(path, synapse, "chat", token="falsch")
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "One")]))
    loaded = load(path)
    await run_once(loaded, sqlite_store)
    feed_server.set("/feed.xml", "no", status=403)
    await run_once(loaded, sqlite_store)
    runner = CliRunner()
    result = runner.invoke(app, ["status", "-c", str(path)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "failing, 1×" in output and "the publisher blocks me" in output
    assert "disabled (bad_credentials)" in output and "then newsbote enable chat" in output
    enabled = runner.invoke(app, ["enable", "chat", "-c", str(path)])
    assert enabled.exit_code == 0 and "destination chat enabled" in enabled.output
    assert sqlite_store.call(destination_states)["chat"].state == "ok"
    again = runner.invoke(app, ["enable", "chat", "-c", str(path)])
    assert again.exit_code != 0 and "is not disabled" in again.output


async def test_a_notice_refused_for_now_is_retried_and_arrives_once(
    feed_server: FeedServer, smtp: SmtpServer, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_SMTP_PASSWORD", PASSWORD)
    path = health_config(tmp_path, store_url, feed_server, health='notify = ["admin"]')
    add_mail(path, smtp)
    feed_server.set("/feed.xml", "weg", status=410)
    smtp.mailbox.reject_next = ["451 4.3.0 try again later"]
    loaded = load(path)
    await run_once(loaded, store)
    row = store.call(lambda c: c.execute(select(notice_sends)).one())
    assert (row.state, row.attempts) == ("pending", 1) and "451" in row.last_error
    assert smtp.mailbox.mails == []
    store.call(  # its backoff has passed
        lambda c: c.execute(notice_sends.update().values(next_attempt_at=datetime.now(UTC)))
    )
    await run_once(loaded, store)
    await run_once(loaded, store)
    (mail,) = smtp.mailbox.mails
    assert mail["Subject"] == "Quelle »heise« abgeschaltet"
    row = store.call(lambda c: c.execute(select(notice_sends)).one())
    assert (row.state, row.attempts, row.remote_id) == ("sent", 2, mail["Message-ID"])


async def test_a_changed_config_enables_a_disabled_destination_and_its_post_goes_out(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    source = {"name": "heise", "url": feed_server.url("/feed.xml"), "allow_private": True,
              "first_run": "all"}  # fmt: skip
    path = write_config(
        tmp_path, sqlite_url, [source], routes=[{"destinations": ["chat"]}],
        extra='[health]\nnotify = ["board"]',
    )  # fmt: skip
    original = path.read_text(encoding="utf-8")
    room, member = add_room(path, synapse, "chat", token="falsch")
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Eins")]))
    await run_once(load(path), sqlite_store)
    assert sqlite_store.call(destination_states)["chat"].state == "disabled"
    path.write_text(original, encoding="utf-8")  # the operator puts in a valid token
    add_destination(
        path, "chat", "matrix", homeserver=synapse.url, room=room, access_token=member,
        allow_private=True,
    )  # fmt: skip
    await run_once(load(path), sqlite_store)
    assert sqlite_store.call(destination_states)["chat"].state == "ok"
    (text,) = bodies(synapse, member, room)
    assert "Eins" in text
    state = sqlite_store.call(lambda c: c.execute(select(deliveries.c.state)).scalar_one())
    assert state == "sent"


def test_migration_0005_gives_stored_sources_their_health_and_goes_back(store_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from newsbote.store.engine import _alembic_config, make_engine

    engine = make_engine(store_url)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0004")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sources (name, config_url, url, errors, last_error_at,"
                    " disabled_reason, first_run_done, created_at) VALUES"
                    " (:name, 'u', 'u', :errors, :at, :disabled, false, :at)"
                ),
                [
                    {"name": "gone", "errors": 1, "at": T0, "disabled": "gone (HTTP 410)"},
                    {"name": "failing", "errors": 2, "at": T0, "disabled": None},
                    {"name": "fine", "errors": 0, "at": T0, "disabled": None},
                ],
            )
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
        with engine.connect() as connection:
            rows = connection.execute(
                select(sources.c.name, sources.c.health, sources.c.health_reason,
                       sources.c.announced, sources.c.failing_since).order_by(sources.c.name)
            ).all()  # fmt: skip
        assert [tuple(row) for row in rows] == [
            ("failing", "failing", None, "ok", T0),
            ("fine", "ok", None, "ok", None),  # errors 0: its last error is old news
            ("gone", "disabled", "gone", "disabled", None),  # disabled before: not told again
        ]
        with engine.begin() as connection:
            command.downgrade(_alembic_config(connection), "0004")
        with engine.connect() as connection:
            names = connection.execute(text("SELECT name FROM sources ORDER BY name")).scalars()
            assert list(names) == ["failing", "fine", "gone"]
    finally:
        engine.dispose()


def test_status_shows_an_unsent_notice_without_the_control_characters_of_its_error(
    sqlite_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from newsbote.cli import app
    from newsbote.store import open_store

    path = write_config(tmp_path, sqlite_url, [], extra='[health]\nnotify = ["board"]')
    store = open_store(sqlite_url)
    try:
        notice = store.call(
            add_notice, kind="held", subject=source_subject("heise"), text="x", now=T0
        )
        store.call(
            lambda c: c.execute(
                notice_sends.insert().values(
                    notice_id=notice, destination="board", state="failed", attempts=1,
                    next_attempt_at=T0, last_error="HTTP 400 \x1b]0;pwned\x07\x1b[31mbad",
                )
            )
        )  # fmt: skip
    finally:
        store.close()
    result = CliRunner().invoke(app, ["status", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "notice #1 held (source:heise) → board: failed, 1 attempt(s): HTTP 400 bad" in (
        result.output
    )
    assert "\x1b" not in result.output
