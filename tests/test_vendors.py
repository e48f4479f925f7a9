"""Discord, Mastodon, Telegram, Slack, Discourse and XenForo against faithful local fakes."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsbote.store import Store
from newsbote.store.health import destination_states
from newsbote.store.schema import deliveries
from newsbote.worker import build_destinations
from tests.helpers import add_destination, feed_config, load, run_once, write_config
from tests.vendors import TOKEN, Faults, Vendors, mastodon_mentions

GOLDEN = (Path(__file__).parent / "golden" / "article.html").read_text(encoding="utf-8")
LONG = GOLDEN + "".join(
    f"<p>Absatz {n}: Der Ausbau geht weiter, und die Netzbetreiber melden neue Zahlen. "
    "Viele Haushalte warten noch auf ihren Anschluss, z. B. in ländlichen Regionen.</p>"
    for n in range(1, 80)
)
KINDS = ["discord", "mastodon", "telegram", "slack", "discourse", "xenforo"]


@pytest.fixture(scope="module")
def vendors_module() -> Iterator[Vendors]:
    server = Vendors().start()
    yield server
    server.stop()


@pytest.fixture
def vendors(vendors_module: Vendors) -> Vendors:
    vendors_module.reset()
    return vendors_module


def options(kind: str, vendors: Vendors, secret: str = TOKEN) -> dict[str, Any]:
    """A destination of ``kind`` pointing at its fake; ``secret`` as its credential."""
    base: dict[str, Any] = {"allow_private": True, "rate_per_minute": 60_000, "timeout": 1.0}
    per_kind: dict[str, dict[str, Any]] = {
        "discord": {"webhook_url": vendors.url(f"/discord/api/webhooks/1/{secret}"), "avatar_url": "https://example.org/bote.png"},
        "mastodon": {"instance": vendors.url("/mastodon"), "access_token": secret},
        "telegram": {"api_url": vendors.url("/telegram"), "bot_token": secret, "chat_id": "@newskanal"},
        "slack": {"api_url": vendors.url("/slack/api"), "bot_token": f"xoxb-{secret}", "channel": "C0NEWS", "customize": True},
        "discourse": {"url": vendors.url("/discourse"), "api_key": secret, "api_username": "News-Bote", "category": 5, "tags": ["news"]},
        "xenforo": {"url": vendors.url("/xenforo"), "api_key": secret, "api_user": 7, "node_id": 3, "prefix_id": 2},
    }  # fmt: skip
    return base | per_kind[kind]


def feed(title: str, body: str, slug: str = "glasfaser") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Blog</title>'
        f"<link>https://www.example.org/</link><item><guid>{slug}</guid>"
        f"<link>https://www.example.org/artikel/{slug}</link>"
        f"<title>{html.escape(title)}</title><content:encoded>{html.escape(body)}</content:encoded>"
        "</item></channel></rss>"
    )


def configure(
    tmp_path: Path,
    store_url: str,
    vendors: Vendors,
    kind: str,
    secret: str = TOKEN,
    **route: object,
) -> Path:
    path = feed_config(
        tmp_path,
        store_url,
        vendors.url("/feed.xml"),
        ["ziel"],
        source={"fulltext": "never"},
        **route,
    )
    add_destination(path, "ziel", kind, **options(kind, vendors, secret))
    return path


def posted(vendors: Vendors, kind: str) -> list[str]:
    """The text of every post the fake of ``kind`` holds, oldest first."""
    if kind == "discord":
        return [m["content"] + "\n" + m["embeds"][0]["title"] for m in vendors.discord.values()]
    if kind == "mastodon":
        return [s["status"] for s in vendors.mastodon.values()]
    if kind == "telegram":
        return [m["text"] for m in vendors.telegram.values()]
    if kind == "slack":
        return [m["text"] for m in vendors.slack.values()]
    if kind == "discourse":
        return [
            t["title"] + "\n" + vendors.discourse_posts[t["posts"][0]]["raw"]
            for t in vendors.discourse.values()
        ]
    return [t["title"] + "\n" + vendors.xenforo_posts[t["first_post_id"]]["message"] for t in vendors.xenforo.values()]  # fmt: skip


def rows(store: Store) -> list[Any]:
    return store.call(lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id))))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_long_article_is_one_native_post_within_the_limit(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", LONG))
    await run_once(load(configure(tmp_path, sqlite_url, vendors, kind)), sqlite_store)
    (row,) = rows(sqlite_store)
    assert row.state == "sent", row.last_error
    (text,) = posted(vendors, kind)
    assert "Glasfaser-Ausbau kommt voran" in text
    assert "https://www.example.org/artikel/glasfaser" in text
    if kind == "slack":
        assert [m["username"] for m in vendors.slack.values()] == ["News-Bote"]
    if kind == "discord":
        assert [m["username"] for m in vendors.discord.values()] == ["News-Bote"]
    assert "zum Artikel" in text
    assert row.remote_id


@pytest.mark.parametrize("kind", KINDS)
async def test_a_changed_article_edits_the_post(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN))
    loaded = load(configure(tmp_path, sqlite_url, vendors, kind, update="edit"))
    await run_once(loaded, sqlite_store)
    vendors.set(
        "/feed.xml", feed("Glasfaser-Ausbau kommt schneller voran", GOLDEN + "<p>Nachtrag.</p>")
    )
    await run_once(loaded, sqlite_store)
    assert [r.state for r in rows(sqlite_store)] == ["sent", "sent"]
    (text,) = posted(vendors, kind)
    assert "schneller" in text
    if kind != "mastodon":  # 500 characters end long before the addendum
        assert "Nachtrag" in text


@pytest.mark.parametrize("kind", ["mastodon", "telegram", "slack", "discourse", "xenforo"])
async def test_a_reply_answers_the_first_post(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN))
    loaded = load(configure(tmp_path, sqlite_url, vendors, kind, update="reply"))
    await run_once(loaded, sqlite_store)
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN + "<p>Nachtrag.</p>"))
    await run_once(loaded, sqlite_store)
    first, reply = rows(sqlite_store)
    assert reply.state == "sent", reply.last_error
    first_id = first.remote_id.split("/")[-1]
    if kind == "mastodon":
        assert vendors.mastodon[reply.remote_id]["in_reply_to_id"] == first.remote_id
    elif kind == "telegram":
        (message,) = [m for m in vendors.telegram.values() if "reply_parameters" in m]
        assert message["reply_parameters"] == {"message_id": int(first_id)}
        assert "Update: Glasfaser" in message["text"]
    elif kind == "slack":
        (message,) = [m for m in vendors.slack.values() if m["thread_ts"]]
        assert message["thread_ts"] == first_id and "Update: Glasfaser" in message["text"]
    elif kind == "discourse":
        (topic,) = vendors.discourse.values()
        assert len(topic["posts"]) == 2
        assert "Update: Glasfaser" in vendors.discourse_posts[topic["posts"][1]]["raw"]
    else:
        (thread,) = vendors.xenforo.values()
        replies = [
            p for p in vendors.xenforo_posts.values() if p["thread_id"] == thread["thread_id"]
        ]
        assert len(replies) == 2 and "[b]Update: Glasfaser" in replies[1]["message"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_wrong_credential_disables_the_destination_with_the_platforms_reason(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN))
    loaded = load(configure(tmp_path, sqlite_url, vendors, kind, secret="falsch"))
    await run_once(loaded, sqlite_store)
    (row,) = rows(sqlite_store)
    assert row.state == "pending"  # the destination is disabled; its post waits
    # Discourse answers a wrong key with 403 (forbidden), the others with 401
    assert sqlite_store.call(destination_states)["ziel"].reason in ("bad_credentials", "forbidden")
    expected = {
        "discord": "Invalid Webhook Token", "mastodon": "access token is invalid",
        "telegram": "Unauthorized", "slack": "invalid_auth",
        "discourse": "not permitted", "xenforo": "api_key_not_found",
    }[kind]  # fmt: skip
    assert expected in row.last_error
    assert "falsch" not in row.last_error  # the secret, even where it is part of a URL
    assert posted(vendors, kind) == []


@pytest.mark.parametrize("kind", KINDS)
async def test_check_reports_who_posts_where(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    loaded = load(configure(tmp_path, sqlite_url, vendors, kind))
    destination = build_destinations(loaded, sqlite_store)["ziel"]
    try:
        assert kind in (await destination.check())
    finally:
        await destination.close()


def test_secrets_never_show_in_the_loaded_config(tmp_path: Path, vendors: Vendors) -> None:
    loaded = load(configure(tmp_path, "sqlite:///x.db", vendors, "mastodon"))
    shown = repr(loaded.destination_options["ziel"]) + str(loaded.destination_options["ziel"])
    assert TOKEN not in shown and "**********" in shown


async def test_apprise_notifies_once_and_an_unknown_outcome_waits_for_the_operator(
    vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", GOLDEN))
    path = feed_config(tmp_path, sqlite_url, vendors.url("/feed.xml"), ["glocke"])
    target = vendors.url("/apprise/notify").replace("http://", "json://")
    add_destination(path, "glocke", "apprise", urls=[target])
    await run_once(load(path), sqlite_store)
    (note,) = vendors.apprise
    assert note["title"] == "Glasfaser-Ausbau kommt voran"
    assert "[zum Artikel…](https://www.example.org/artikel/glasfaser)" in note["message"]
    assert [r.state for r in rows(sqlite_store)] == ["sent"]

    vendors.faults = Faults(rate=1.0, kinds=("500",))
    vendors.set("/feed.xml", feed("Zweiter Artikel zum Ausbau", GOLDEN, "zweiter"))
    await run_once(load(path), sqlite_store)
    assert [r.state for r in rows(sqlite_store)] == ["sent", "unknown"]


def test_check_command_tests_each_destinations_credentials(
    vendors: Vendors, sqlite_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from newsbote.cli import app

    path = write_config(tmp_path, sqlite_url, [], routes=[])
    add_destination(path, "toot", "mastodon", **options("mastodon", vendors))
    add_destination(path, "kaputt", "slack", **options("slack", vendors, secret="falsch"))
    result = CliRunner().invoke(app, ["check", "-c", str(path), "--no-fetch"])
    output = result.output + (result.stderr if result.stderr_bytes else "")
    assert result.exit_code == 1, output
    assert "✓ destination toot: mastodon as @bote" in output
    assert "✗ destination kaputt:" in output and "invalid_auth" in output
    assert TOKEN not in output and "falsch" not in output


async def test_a_configured_max_length_shortens_forum_posts_and_keeps_the_link(
    vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.set("/feed.xml", feed("Glasfaser-Ausbau kommt voran", LONG))
    path = configure(tmp_path, sqlite_url, vendors, "xenforo")
    path.write_text(path.read_text() + "max_length = 600\n")
    await run_once(load(path), sqlite_store)
    (thread,) = vendors.xenforo.values()
    message = vendors.xenforo_posts[thread["first_post_id"]]["message"]
    assert len(message) <= 600
    assert message.endswith("[url=https://www.example.org/artikel/glasfaser]zum Artikel…[/url]")


@pytest.mark.parametrize("kind", ["slack", "xenforo"])
async def test_a_lookup_by_title_or_link_leaves_a_repost_to_the_operator(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    from newsbote.errors import DeliveryError
    from newsbote.outbox import Delivery
    from newsbote.types import Markup, Message

    destination = build_destinations(
        load(configure(tmp_path, sqlite_url, vendors, kind)), sqlite_store
    )["ziel"]
    body = "Der Ausbau geht voran. zum Artikel… (https://example.org/a)"  # posts carry the link
    message = Message(
        "ziel", "Glasfaser-Ausbau kommt voran", body, "https://example.org/a", Markup.TEXT
    )
    try:
        await destination.send(Delivery(1, 1, "ziel", "k", 1, "post", 1, message))
        # version 1: found; version 2 (a repost with the same title and link): not guessed
        assert await destination.lookup(Delivery(1, 1, "ziel", "k", 1, "post", 2, message))
        with pytest.raises(DeliveryError, match="repost") as raised:
            await destination.lookup(Delivery(2, 1, "ziel", "k", 2, "post", 2, message))
        assert raised.value.uncertain
    finally:
        await destination.close()


async def test_mastodon_mentions_in_an_article_notify_no_one(
    vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    text = (
        "<p>Grüße an @alice@social.example und @bob_42 (visibility: public). "
        "Post an redaktion@example.org, Profil: https://social.example/@carol</p>"
    )
    vendors.set("/feed.xml", feed("Neues von @dave@example.net", text))
    path = configure(tmp_path, sqlite_url, vendors, "mastodon")
    path.write_text(path.read_text() + 'visibility = "direct"\n')
    await run_once(load(path), sqlite_store)
    (row,) = rows(sqlite_store)
    assert row.state == "sent", row.last_error
    ((status_id, status),) = vendors.mastodon.items()
    # Mastodon's own pattern finds no account to notify; a direct toot reaches no stranger
    assert vendors.mastodon_mentions[status_id] == []
    assert status["visibility"] == "direct"
    toot = status["status"]
    for name in ("@\u200balice@social.example", "@\u200bbob_42", "@\u200bdave@example.net"):
        assert name in toot
    assert "redaktion@example.org" in toot and "https://social.example/@carol" in toot
    # the same toot without the zero-width spaces would have notified all three
    assert sorted(mastodon_mentions(toot.replace("\u200b", ""))) == [
        "alice@social.example", "bob_42", "dave@example.net"
    ]  # fmt: skip


async def test_a_long_toot_full_of_mentions_still_fits_the_limit(
    vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    text = "".join(f"<p>Absatz {n}: @leser{n} und @leserin{n}@example.net.</p>" for n in range(80))
    vendors.set("/feed.xml", feed("Viele Namen", text))
    await run_once(load(configure(tmp_path, sqlite_url, vendors, "mastodon")), sqlite_store)
    (row,) = rows(sqlite_store)
    assert row.state == "sent", row.last_error  # the zero-width spaces were counted
    ((status_id, status),) = vendors.mastodon.items()
    assert "@\u200bleser0" in status["status"] and vendors.mastodon_mentions[status_id] == []
