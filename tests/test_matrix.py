"""Matrix against a real Synapse: HTML messages, txnId idempotency, m.replace edits, replies."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from newsbote.config.schema import BotConfig
from newsbote.deliver.base import DeliverContext
from newsbote.deliver.matrix import Matrix, MatrixOptions
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery
from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.types import Markup, Message
from tests.helpers import add_destination, feed_config, load, run_once
from tests.servers import FeedServer, rss
from tests.synapse import Homeserver, call

_users = itertools.count()


def matrix_config(
    tmp_path: Path, store_url: str, feed_server: FeedServer, synapse: Homeserver, **route: Any
) -> tuple[Path, str, str]:
    """A config posting the feed to a fresh room; returns (path, room, token)."""
    token = synapse.register(f"bote{next(_users)}")
    room = synapse.create_room(token)
    path = feed_config(tmp_path, store_url, feed_server.url("/feed.xml"), ["raum"], **route)
    add_destination(
        path, "raum", "matrix", homeserver=synapse.url, room=room, access_token=token,
        allow_private=True, rate_per_minute=6000,
    )  # fmt: skip
    return path, room, token


async def test_articles_arrive_as_html_messages_with_a_plain_fallback(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    feed_server.set(
        "/feed.xml",
        rss(
            [
                ("g1", "https://example.org/1", "Glasfaser &amp; mehr"),
                ("g2", "https://example.org/2", "Zweiter"),
            ]
        ),
    )
    path, room, token = matrix_config(tmp_path, sqlite_url, feed_server, synapse)
    await run_once(load(path), sqlite_store)
    events = synapse.messages(token, room)
    assert len(events) == 2
    content = next(e["content"] for e in events if "Glasfaser" in e["content"]["body"])
    assert content["format"] == "org.matrix.custom.html"
    assert "<strong>Glasfaser &amp; mehr</strong>" in content["formatted_body"]
    assert 'href="https://example.org/1"' in content["formatted_body"]
    assert "zum Artikel…" in content["body"] and "<" not in content["body"]
    ids = sqlite_store.call(lambda c: c.execute(select(deliveries.c.remote_id)).scalars().all())
    assert sorted(ids) == sorted(e["event_id"] for e in events)
    # the account speaks as the bot: its display name is News-Bote
    user = events[0]["sender"]
    profile = call(f"{synapse.url}/_matrix/client/v3/profile/{quote(user)}", token=token)
    assert profile["displayname"] == "News-Bote"


async def test_a_resent_delivery_is_dropped_by_its_transaction_id(
    synapse: Homeserver, sqlite_store: Store
) -> None:
    token = synapse.register(f"bote{next(_users)}")
    room = synapse.create_room(token)
    options = MatrixOptions(
        homeserver=synapse.url, room=room, access_token=token, allow_private=True
    )
    matrix = Matrix("raum", options, DeliverContext(sqlite_store, BotConfig(), "de"))
    message = Message("raum", "Titel", "<p>Text</p>", "https://example.org/1", Markup.MATRIX)
    delivery = Delivery(1, 1, "raum", "k1", 1, "post", 1, message)
    try:
        first, second = await asyncio.gather(matrix.send(delivery), matrix.send(delivery))
        again = await matrix.send(delivery)
    finally:
        await matrix.close()
    assert first.remote_id == second.remote_id == again.remote_id
    assert len(synapse.messages(token, room)) == 1


async def post_then_change(
    policy: str, feed_server: FeedServer, synapse: Homeserver, store: Store, store_url: str,
    tmp_path: Path,
) -> list[dict[str, Any]]:  # fmt: skip
    """Post one article under update ``policy``, change it, return the room's messages."""
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Erste Fassung")]))
    path, room, token = matrix_config(tmp_path, store_url, feed_server, synapse, update=policy)
    loaded = load(path)
    await run_once(loaded, store)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Zweite Fassung")]))
    await run_once(loaded, store)
    return synapse.messages(token, room)


async def test_changed_articles_edit_the_message_in_place(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    original, edit = await post_then_change(
        "edit", feed_server, synapse, sqlite_store, sqlite_url, tmp_path
    )
    relation = edit["content"]["m.relates_to"]
    assert relation == {"rel_type": "m.replace", "event_id": original["event_id"]}
    assert "Zweite Fassung" in edit["content"]["m.new_content"]["formatted_body"]
    assert edit["content"]["body"].startswith("* ")


async def test_replies_quote_the_first_post(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    original, reply = await post_then_change(
        "reply", feed_server, synapse, sqlite_store, sqlite_url, tmp_path
    )
    assert reply["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": original["event_id"]}}
    assert reply["content"]["body"].startswith("Update: Zweite Fassung")


async def test_a_bad_token_is_a_permanent_error_that_names_the_reason(
    synapse: Homeserver, sqlite_store: Store
) -> None:
    token = synapse.register(f"bote{next(_users)}")
    room = synapse.create_room(token)
    options = MatrixOptions(
        homeserver=synapse.url, room=room, access_token="falsch", allow_private=True
    )
    matrix = Matrix("raum", options, DeliverContext(sqlite_store, BotConfig(), "de"))
    try:
        with pytest.raises(DeliveryError, match="M_UNKNOWN_TOKEN") as error:
            await matrix.check()
        assert error.value.permanent
        stranger = Matrix(
            "raum",
            MatrixOptions.model_validate(
                options.model_dump() | {"access_token": synapse.register(f"bote{next(_users)}")}
            ),
            DeliverContext(sqlite_store, BotConfig(), "de"),
        )
        with pytest.raises(DeliveryError, match="is not in room"):
            await stranger.check()
        await stranger.close()
    finally:
        await matrix.close()


def highlights(synapse: Homeserver, token: str, room: str) -> int:
    """How many events of ``room`` notify this user loudly (mentions, ``@room``)."""
    answer = call(f"{synapse.url}/_matrix/client/v3/sync?timeout=0", token=token)
    joined = answer.get("rooms", {}).get("join", {}).get(room, {})
    return int(joined.get("unread_notifications", {}).get("highlight_count", 0))


async def test_room_and_user_mentions_in_an_article_notify_no_one(
    feed_server: FeedServer, synapse: Homeserver, sqlite_store: Store, sqlite_url: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    reader = synapse.register(f"leser{next(_users)}")
    alice = str(call(f"{synapse.url}/_matrix/client/v3/account/whoami", token=reader)["user_id"])
    title = f"Achtung @room: Grüße an {alice} und @ROOM"
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", title)]))
    path, room, token = matrix_config(tmp_path, sqlite_url, feed_server, synapse)
    synapse.join(reader, room)
    await run_once(load(path), sqlite_store)
    (event,) = synapse.messages(token, room)
    content = event["content"]
    assert content["m.mentions"] == {}
    # no "@room" left as the legacy push rule (.m.rule.roomnotif) matches it, in either body
    live = re.compile(r"(?:^|\b|\W)@room(?:\b|\W|$)", re.IGNORECASE)
    assert not live.search(content["body"]) and not live.search(content["formatted_body"])
    assert "@\u2060room" in content["body"] and alice in content["body"]
    # a real mention afterwards notifies the reader: the article did not
    call(
        f"{synapse.url}/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/control",
        "PUT",
        {"msgtype": "m.text", "body": "Kontrolle", "m.mentions": {"user_ids": [alice]}},
        token,
    )
    for _ in range(100):
        if highlights(synapse, reader, room):
            break
        await asyncio.sleep(0.1)
    assert highlights(synapse, reader, room) == 1
