"""The hostile-feed suite: attacks served by a real local server through a whole run.

Each test runs the service as a user does (``run --once``) with a good source beside the
hostile ones and asserts four things: the attack is refused with a clear error, nothing
private was read (no file, no request to a refused address: the local server records
every request it gets), the run ends, and the good source is still posted.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsbote.store import Store
from newsbote.store.schema import board_posts, deliveries, sources
from tests.helpers import board_titles, load, run_once, toml_value, write_config
from tests.servers import FeedServer, rss

SECRET = "STRENG-GEHEIM-4711"
HANG_GUARD = 120.0
"""Seconds after which a run counts as hung (a guard against freezing, not a timing)."""

# host spellings that IDNA/UTS-46 turns into 127.0.0.1 (or another loopback address)
LOOPBACK_SPELLINGS = (
    "①②⑦.0.0.1",
    "１２７．０．０．１",
    "127。0。0。1",
    "127.0.0.1",
    "[::ffff:127.0.0.1]",
    "2130706433",
    "0x7f.0.0.1",
)


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """The attacks are the store's business nowhere: one store is enough."""
    return sqlite_url


def _good_feed(server: FeedServer) -> None:
    server.set(
        "/good.xml",
        rss(
            [
                ("g1", "https://example.org/1", "Gute Meldung"),
                ("g2", "https://example.org/2", "Zweite"),
            ]
        ),
    )


def _config(tmp_path: Path, store_url: str, hostile: list[dict[str, Any]], extra: str = "") -> Path:
    good = {"name": "good", "url": "", "allow_private": True, "first_run": "all"}
    return write_config(tmp_path, store_url, [good, *hostile], extra=extra)


def _good_url(path: Path, server: FeedServer) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('url = ""', f"url = {toml_value(server.url('/good.xml'))}", 1),
        encoding="utf-8",
    )


def _board_text(store: Store) -> str:
    rows = store.call(lambda c: list(c.execute(select(board_posts))))
    return "\n".join(
        " ".join(str(value) for value in row._mapping.values() if value is not None) for row in rows
    )


def _errors(store: Store) -> dict[str, str]:
    rows = store.call(lambda c: list(c.execute(select(sources.c.name, sources.c.last_error))))
    return {row.name: row.last_error or "" for row in rows}


def _evil_source(server: FeedServer, entries: str, **options: Any) -> dict[str, Any]:
    """A source (its feed on the local server, allowed) serving ``entries``; the good feed
    is served beside it."""
    server.set(
        "/evil.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Evil</title>{entries}</channel></rss>',
    )
    _good_feed(server)
    url = server.url("/evil.xml")
    return {"name": "evil", "url": url, "allow_private": True, "first_run": "all", **options}


async def _run(path: Path, store: Store) -> None:
    await asyncio.wait_for(run_once(load(path), store), HANG_GUARD)


def _entry(guid: str, link: str, title: str) -> str:
    """An entry with an empty description: the default ``fulltext = "auto"`` wants its page."""
    return f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title><description></description></item>"


async def test_links_from_a_feed_open_no_file_and_reach_no_private_address(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.html"
    secret.write_text(
        f"<html><body><article><p>{SECRET} " + "Wort " * 200 + "</p></article></body></html>"
    )
    secret.chmod(0o600)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    port = feed_server.port
    feed_server.set(
        "/intranet",
        f"<html><body><article><p>{SECRET} intranet</p></article></body></html>",
        content_type="text/html",
    )
    links = [
        f"file://{secret}",
        str(secret),
        "file:///dev/zero",
        str(fifo),
        f"ftp://127.0.0.1:{port}/intranet",
        *(f"http://{host}:{port}/intranet" for host in LOOPBACK_SPELLINGS),
    ]
    entries = "".join(_entry(f"e{i}", link, f"Angriff {i}") for i, link in enumerate(links))
    # the feed URL itself is local (allowed); its article pages are not
    path = _config(tmp_path, store_url, [_evil_source(feed_server, entries)])
    _good_url(path, feed_server)

    await _run(path, store)

    assert feed_server.hits("/intranet") == []
    text = _board_text(store)
    assert SECRET not in text
    titles = board_titles(store)
    assert {"Gute Meldung", "Zweite"} <= set(titles)
    # nothing lost: every hostile entry is still posted, without the page it pointed to
    assert {f"Angriff {i}" for i in range(len(links))} <= set(titles)


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_a_source_url_spelling_a_private_address_is_refused_before_connecting(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path, host: str
) -> None:
    feed_server.set("/evil.xml", rss([("x1", "https://example.org/x", "Darf nicht erscheinen")]))
    _good_feed(feed_server)
    evil = {"name": "evil", "url": f"http://{host}:{feed_server.port}/evil.xml", "first_run": "all"}
    path = _config(tmp_path, store_url, [evil])
    _good_url(path, feed_server)

    await _run(path, store)

    assert feed_server.hits("/evil.xml") == []
    assert "Darf nicht erscheinen" not in board_titles(store)
    assert {"Gute Meldung", "Zweite"} <= set(board_titles(store))
    error = _errors(store)["evil"]
    assert "127.0.0.1" in error or "private" in error.lower() or "refus" in error.lower(), error


async def test_a_webhook_spelling_a_private_address_is_refused_and_the_board_still_posts(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", "geheim")
    feed_server.set("/hook", "{}", content_type="application/json")
    _good_feed(feed_server)
    path = _config(tmp_path, store_url, [])
    _good_url(path, feed_server)
    text = path.read_text(encoding="utf-8").replace(
        'destinations = ["board"]', 'destinations = ["board", "hook"]'
    )
    text += (
        '\n[[destinations]]\nname = "hook"\nkind = "webhook"\n'
        f'url = "http://①②⑦.0.0.1:{feed_server.port}/hook"\nsecret_env = "NEWSBOTE_TEST_HOOK_SECRET"\n'
    )
    path.write_text(text, encoding="utf-8")

    await _run(path, store)

    assert feed_server.hits("/hook") == []
    assert {"Gute Meldung", "Zweite"} <= set(board_titles(store))
    rows = store.call(
        lambda c: list(
            c.execute(
                select(deliveries.c.state, deliveries.c.last_error).where(
                    deliveries.c.destination == "hook"
                )
            )
        )
    )
    assert len(rows) == 2
    for row in rows:
        assert row.state in ("dead", "failed")
        assert "127.0.0.1" in (row.last_error or "") or "private" in (row.last_error or "").lower()


async def test_bombs_and_oversized_bodies_fail_their_source_only(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    cap = 256 * 1024
    feed_server.set("/bomb.xml", b"<rss>" + b" " * (8 * 1024 * 1024) + b"</rss>", gzip=True)
    feed_server.set("/huge.xml", b"<rss>" + b"x" * (2 * cap) + b"</rss>")
    _good_feed(feed_server)
    hostile = [
        {"name": "bomb", "url": feed_server.url("/bomb.xml"), "allow_private": True},
        {"name": "huge", "url": feed_server.url("/huge.xml"), "allow_private": True},
    ]
    path = _config(tmp_path, store_url, hostile, extra=f"[service]\nmax_bytes = {cap}\n")
    _good_url(path, feed_server)

    await _run(path, store)

    errors = _errors(store)
    assert "cap" in errors["bomb"] and "cap" in errors["huge"], errors
    assert {"Gute Meldung", "Zweite"} <= set(board_titles(store))


async def test_script_and_data_urls_from_a_feed_reach_no_post(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    entries = (
        "<item><guid>j1</guid><link>javascript:alert(1)</link><title>Skript-Link</title>"
        "<description>&lt;p&gt;Text&lt;/p&gt;</description>"
        '<enclosure url="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" type="image/svg+xml" length="1"/></item>'
        "<item><guid>j2</guid><link> JaVaScRiPt:alert(2)</link><title>Gross-Klein</title>"
        "<description>&lt;p&gt;&lt;a href='vbscript:x'&gt;vb&lt;/a&gt;"
        "&lt;img src='javascript:alert(3)'&gt;&lt;/p&gt;</description></item>"
    )
    path = _config(tmp_path, store_url, [_evil_source(feed_server, entries, fulltext="never")])
    _good_url(path, feed_server)

    await _run(path, store)

    text = _board_text(store).lower()
    for scheme in ("javascript:", "vbscript:", "data:"):
        assert scheme not in text
    assert {"Skript-Link", "Gross-Klein", "Gute Meldung"} <= set(board_titles(store))
