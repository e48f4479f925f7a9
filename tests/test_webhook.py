"""The webhook destination against a local receiver that verifies signatures and dedupes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.worker import Service
from tests.helpers import feed_config, load, run_once, seed_deliveries, write_config
from tests.servers import FeedServer, WebhookReceiver, rss

SECRET = "geheim-und-lang"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET.encode()).start()
    yield server
    server.stop()


def config(
    tmp_path: Path,
    store_url: str,
    feed_server: FeedServer,
    receiver: WebhookReceiver,
    **extra: Any,
) -> Path:
    path = feed_config(tmp_path, store_url, feed_server.url("/feed.xml"), ["hook"], **extra)
    text = path.read_text() + (
        f'\n[[destinations]]\nname = "hook"\nkind = "webhook"\nurl = "{receiver.url("/hook")}"\n'
        'secret_env = "NEWSBOTE_TEST_HOOK_SECRET"\nallow_private = true\n'
    )
    path.write_text(text)
    return path


def states(store: Store) -> list[str]:
    return store.call(
        lambda c: [r.state for r in c.execute(select(deliveries).order_by(deliveries.c.id))]
    )


async def test_posts_are_signed_json_with_html_and_text(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Erster Artikel")]))
    await run_once(load(config(tmp_path, store_url, feed_server, receiver)), store)
    assert states(store) == ["sent"]
    (post,) = receiver.posts.values()
    assert post["title"] == "Erster Artikel"
    assert "zum Artikel…" in str(post["html"]) and "(https://example.org/1)" in str(post["text"])
    assert post["bot"] == {"name": "News-Bote", "title": "Ich bring die Post"}
    assert re.fullmatch(r"newsbote-[0-9a-f]{32}", receiver.received[0].headers["Idempotency-Key"])
    remote = store.call(lambda c: c.execute(select(deliveries.c.remote_url)).scalar_one())
    assert remote == "https://receiver.example/1"


async def test_server_errors_are_retried_with_the_same_key_and_post_once(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    receiver.fail = [(503, {"Retry-After": "1"})]
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Artikel")]))
    loaded = load(config(tmp_path, store_url, feed_server, receiver))
    await run_once(loaded, store)
    assert states(store) == ["failed"]
    store.call(
        lambda c: c.execute(
            deliveries.update().values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    )
    await run_once(loaded, store)
    assert states(store) == ["sent"]
    keys = {r.headers["Idempotency-Key"] for r in receiver.received}
    assert len(receiver.received) == 2 and len(keys) == 1
    assert len(receiver.posts) == 1


async def test_client_errors_are_permanent_and_a_missing_secret_is_named(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", "wrong-secret")
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Artikel")]))
    loaded = load(config(tmp_path, store_url, feed_server, receiver))
    await run_once(loaded, store)
    # a refused credential disables the destination; its post waits, nothing is lost
    assert states(store) == ["pending"]
    error = store.call(lambda c: c.execute(select(deliveries.c.last_error)).scalar_one())
    assert "HTTP 401" in error
    monkeypatch.delenv("NEWSBOTE_TEST_HOOK_SECRET")
    from newsbote.worker import build_destinations

    with pytest.raises(Exception, match="NEWSBOTE_TEST_HOOK_SECRET is not set"):
        await build_destinations(loaded, store)["hook"].check()


async def test_changed_articles_are_sent_as_edits(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Artikel")]))
    loaded = load(config(tmp_path, store_url, feed_server, receiver, update="edit"))
    await run_once(loaded, store)
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Artikel (korrigiert)")]))
    await run_once(loaded, store)
    assert states(store) == ["sent", "sent"]
    (post,) = receiver.posts.values()
    assert post["title"] == "Artikel (korrigiert)" and post["action"] == "edit"


def test_webhook_url_must_be_http(tmp_path: Path) -> None:
    from newsbote.errors import ConfigError

    path = write_config(tmp_path, "sqlite:///x.db", [])
    path.write_text(
        path.read_text() + '\n[[destinations]]\nname = "hook"\nkind = "webhook"\nurl = "ftp://x"\n'
    )
    with pytest.raises(ConfigError, match="expected an http"):
        load(path)


async def test_private_webhook_addresses_are_refused_without_a_request(
    store: Store, tmp_path: Path
) -> None:
    from newsbote.errors import DeliveryError
    from newsbote.outbox import Delivery
    from newsbote.types import Markup, Message
    from newsbote.worker import build_destinations

    path = write_config(tmp_path, "sqlite:///x.db", [])
    path.write_text(
        path.read_text()
        + '\n[[destinations]]\nname = "hook"\nkind = "webhook"\nurl = "http://10.0.0.1/hook"\n'
    )
    hook = build_destinations(load(path), store)["hook"]
    message = Message(destination="hook", title="t", body="<p>b</p>", link=None, markup=Markup.HTML)
    delivery = Delivery(1, 1, "hook", "k", 1, "post", 1, message)
    with pytest.raises(DeliveryError, match=r"non-public address 10\.0\.0\.1") as caught:
        await hook.send(delivery)
    assert caught.value.permanent
    await hook.close()


async def test_a_body_template_shapes_the_json(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    (tmp_path / "chat.json.j2").write_text(
        '{"action": {{ action|tojson }}, "remote_id": {{ remote_id|tojson }},\n'
        ' "username": {{ bot.name|tojson }},\n'
        ' "text": {{ ("**" ~ title ~ "**\\n" ~ link)|tojson }}}\n'
    )
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Zitat: &quot;Hallo&quot;")]))
    path = config(tmp_path, store_url, feed_server, receiver)
    path.write_text(path.read_text() + 'body_template = "chat.json.j2"\n')
    await run_once(load(path), store)
    assert states(store) == ["sent"]
    (post,) = receiver.posts.values()
    assert post == {
        "action": "post",
        "remote_id": None,
        "username": "News-Bote",
        "text": '**Zitat: "Hallo"**\nhttps://example.org/1',
    }


async def test_a_broken_body_template_is_a_permanent_error_naming_the_line(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    (tmp_path / "bad.json.j2").write_text('{"text": {{ titel|tojson }}}\n')
    feed_server.set("/feed.xml", rss([("g1", "https://example.org/1", "Artikel")]))
    path = config(tmp_path, store_url, feed_server, receiver)
    path.write_text(path.read_text() + 'body_template = "bad.json.j2"\n')
    await run_once(load(path), store)
    assert states(store) == ["dead"]
    error = store.call(lambda c: c.execute(select(deliveries.c.last_error)).scalar_one())
    assert "bad.json.j2" in error and "'titel' is undefined" in error
    assert receiver.received == []


async def test_a_stop_waits_for_the_round_of_deliveries_in_flight_not_for_the_backlog(
    feed_server: FeedServer, receiver: WebhookReceiver, store: Store, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    feed_server.set("/feed.xml", rss([]))
    loaded = load(config(tmp_path, store_url, feed_server, receiver))
    store.call(seed_deliveries, 1500, "hook", datetime.now(UTC) - timedelta(seconds=1))
    receiver.delay = 0.02
    async with Service(loaded, store) as service:
        running = asyncio.create_task(service.run_forever(poll=False))
        while not receiver.received:
            await asyncio.sleep(0.01)
        service.stop()
        await asyncio.wait_for(running, 30)
    left = states(store)
    assert 0 < left.count("sent") <= 1000  # the round in flight (500 at most) finished
    assert left.count("pending") >= 500  # the rest waits for the next start, not lost
    assert set(left) == {"sent", "pending"}


async def test_a_ledger_row_with_hostile_urls_reaches_the_receiver_without_them(
    receiver: WebhookReceiver, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row written before the URL policy (or by anything else) is checked on the way out."""
    from newsbote.outbox import Delivery
    from newsbote.types import Markup, Message
    from newsbote.worker import build_destinations
    from tests.test_markup import assert_urls_pass

    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    path = write_config(tmp_path, "sqlite:///x.db", [])
    path.write_text(
        path.read_text() + f'\n[[destinations]]\nname = "hook"\nkind = "webhook"\n'
        f'url = "{receiver.url("/hook")}"\nsecret_env = "NEWSBOTE_TEST_HOOK_SECRET"\n'
        "allow_private = true\n"
    )
    hook = build_destinations(load(path), store)["hook"]
    body = (
        '<p><a href="javascript:alert(1)">Klick</a> <img src="data:image/svg+xml,x" alt="b">'
        '<a href="https://a.example/x)y">weiter</a></p>'
    )
    message = Message(
        destination="hook", title="t", body=body, link=" JaVaScRiPt:alert(1)",
        markup=Markup.HTML, image="vbscript:msgbox(1)",
    )  # fmt: skip
    await hook.send(Delivery(1, 1, "hook", "k", 1, "post", 1, message))
    await hook.close()
    (post,) = receiver.posts.values()
    assert post["link"] is None and post["image"] is None
    assert assert_urls_pass(str(post["html"]), Markup.HTML) == ["https://a.example/x%29y"]
    assert assert_urls_pass(str(post["text"]), Markup.TEXT) == ["https://a.example/x%29y"]
    assert "Klick" in str(post["html"]) and "Klick" in str(post["text"])
