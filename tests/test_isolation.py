"""One misbehaving destination never breaks the delivery round for the others.

A reply no one foresaw (bytes that are no UTF-8, a wait hint of 30,000 years) or a
bug in a destination (any exception from ``send``) fails that one delivery, with an
error naming the destination and the exception; every other delivery of the round
is recorded, and nothing that arrived is sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from newsbote.config.schema import BotConfig
from newsbote.deliver.base import DeliverContext, Destination
from newsbote.deliver.base import Options as Plain
from newsbote.deliver.discord import Discord, DiscordOptions
from newsbote.deliver.http import Answer
from newsbote.deliver.mastodon import Mastodon, MastodonOptions
from newsbote.deliver.matrix import Matrix, MatrixOptions
from newsbote.deliver.runner import deliver_due
from newsbote.deliver.telegram import Telegram, TelegramOptions
from newsbote.deliver.webhook import Webhook, WebhookOptions
from newsbote.outbox import MAX_WAIT, Delivery, Outcome, backoff
from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.types import Markup, Receipt
from tests.helpers import seed_deliveries
from tests.servers import FeedServer, WebhookReceiver
from tests.vendors import TOKEN

ITEMS = 4
SECRET = "geheim-und-lang"


class Hostile(FeedServer):
    """The feed server's routes for every method: a destination that answers what it likes."""

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET.encode()).start()
    yield server
    server.stop()


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    server = Hostile().start()
    yield server
    server.stop()


def context(store: Store) -> DeliverContext:
    return DeliverContext(store, BotConfig(), "de")


def seed(store: Store, destination: str, *more: str) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    store.call(lambda c: seed_deliveries(c, ITEMS, destination, now=past, more=more))


def ledger(store: Store) -> dict[str, list[Any]]:
    rows = store.call(lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id))))
    found: dict[str, list[Any]] = {}
    for row in rows:
        found.setdefault(row.destination, []).append(row)
    return found


def due_again(store: Store) -> None:
    """Time passes in the test: failed and unknown rows are due now."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.call(
        lambda c: c.execute(
            deliveries.update()
            .where(deliveries.c.state.in_(["failed", "unknown"]))
            .values(next_attempt_at=past)
        )
    )


async def close(destinations: dict[str, Destination[Any]]) -> None:
    for destination in destinations.values():
        await destination.close()


async def test_a_garbled_answer_and_a_huge_retry_after_leave_the_healthy_webhook_alone(
    receiver: WebhookReceiver, hostile: Hostile, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    # a 2xx whose body is no UTF-8 at all, and a 429 asking to wait 30,000 years
    hostile.set("/discord/1/tok", b"\xff\xfe\xfa{\x80", content_type="application/json; charset=utf-8", conditional=False)  # fmt: skip
    hostile.set("/mastodon/api/v1/statuses", b"{}", status=429, content_type="application/json", headers={"Retry-After": "999999999999"})  # fmt: skip
    common: dict[str, Any] = {"allow_private": True, "rate_per_minute": 60_000, "timeout": 2.0}
    hook = WebhookOptions(
        url=receiver.url("/hook"), secret_env="NEWSBOTE_TEST_HOOK_SECRET", **common
    )
    garbled = DiscordOptions(webhook_url=hostile.url("/discord/1/tok"), **common)
    slow = MastodonOptions(instance=hostile.url("/mastodon"), access_token=TOKEN, **common)
    destinations: dict[str, Destination[Any]] = {
        "hook": Webhook("hook", hook, context(store)),
        "garbled": Discord("garbled", garbled, context(store)),
        "slow": Mastodon("slow", slow, context(store)),
    }
    seed(store, "hook", "garbled", "slow")
    try:
        # a short lease: a round that recorded nothing would see its rows reaped and resent
        outcomes = await deliver_due(store, destinations, lease=0.05)
        assert len(outcomes) == 3 * ITEMS
        for _ in range(3):
            due_again(store)
            await deliver_due(store, destinations, lease=0.05)
    finally:
        await close(destinations)

    rows = ledger(store)
    assert [r.state for r in rows["hook"]] == ["sent"] * ITEMS
    assert len(receiver.received) == ITEMS, "the healthy webhook got a post more than once"
    # the message is likely on Discord, its id unreadable: unknown, never resent blindly
    assert [r.state for r in rows["garbled"]] == ["unknown"] * ITEMS
    assert all("'garbled'" in r.last_error for r in rows["garbled"])
    assert len(hostile.hits("/discord/1/tok")) == ITEMS
    # the 429's wait is cut to a day: failed, due again within a day
    now = datetime.now(UTC)
    for row in rows["slow"]:
        assert row.state == "failed" and "HTTP 429" in row.last_error
        assert row.next_attempt_at <= now + timedelta(seconds=MAX_WAIT)


class Flaky(Destination[Plain]):
    """A destination whose third send meets a bug after the post arrived."""

    kind = ""  # no kind: never found by a config
    markup = Markup.HTML
    Options = Plain

    def __init__(self, name: str, options: Plain, context: DeliverContext) -> None:
        super().__init__(name, options, context)
        self.arrived: list[int] = []

    async def send(self, delivery: Delivery) -> Receipt:
        self.arrived.append(delivery.id)
        if len(self.arrived) == 3:
            raise KeyError("message_id")  # a reply shaped as no one foresaw
        return Receipt(remote_id=f"post-{delivery.id}")


class Broken(Flaky):
    """A ``deliver_many`` override that raises, or that forgets deliveries."""

    forget = False

    async def deliver_many(self, batch: Sequence[tuple[Delivery, Receipt | None]]) -> list[Outcome]:
        if self.forget:
            return [Outcome(batch[0][0], receipt=Receipt("only-the-first"))]
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


async def test_a_send_that_raises_mid_batch_keeps_the_outcomes_of_the_others(
    store: Store,
) -> None:
    flaky = Flaky("flaky", Plain(), context(store))
    seed(store, "flaky")
    outcomes = await deliver_due(store, {"flaky": flaky})
    assert len(outcomes) == ITEMS and len(flaky.arrived) == ITEMS
    rows = ledger(store)["flaky"]
    states = {r.id: r.state for r in rows}
    failing = flaky.arrived[2]
    # the sends that arrived are recorded sent, with their receipts
    assert [states[i] for i in flaky.arrived if i != failing] == ["sent"] * (ITEMS - 1)
    assert {r.remote_id for r in rows if r.state == "sent"} == {
        f"post-{i}" for i in flaky.arrived if i != failing
    }
    # the one that raised may have arrived too (not idempotent): unknown, never resent
    (bad,) = [r for r in rows if r.id == failing]
    assert bad.state == "unknown"
    assert "'flaky'" in bad.last_error and "unexpected KeyError" in bad.last_error


@pytest.mark.parametrize("forget", [False, True])
async def test_a_deliver_many_that_raises_or_forgets_leaves_every_delivery_an_outcome(
    forget: bool, store: Store
) -> None:
    broken = Broken("broken", Plain(), context(store))
    broken.forget = forget
    seed(store, "broken")
    outcomes = await deliver_due(store, {"broken": broken})
    assert len(outcomes) == ITEMS
    states = sorted(r.state for r in ledger(store)["broken"])
    assert states == (["sent"] + ["unknown"] * (ITEMS - 1) if forget else ["unknown"] * ITEMS)


class Strange(Flaky):
    """A destination whose receipts hold what a stranger's JSON can: a NUL, a lone surrogate."""

    async def send(self, delivery: Delivery) -> Receipt:
        return Receipt(remote_id="id\x00\ud800", url=f"https://example.org/\x00{delivery.id}")


async def test_receipts_no_database_can_store_verbatim_do_not_fail_the_round(
    store: Store,
) -> None:
    destinations: dict[str, Destination[Any]] = {
        "strange": Strange("strange", Plain(), context(store)),
        "flaky": Flaky("flaky", Plain(), context(store)),
    }
    seed(store, "strange", "flaky")
    await deliver_due(store, destinations)
    rows = ledger(store)
    assert [r.state for r in rows["strange"]] == ["sent"] * ITEMS
    assert all("\x00" not in r.remote_id and "\x00" not in r.remote_url for r in rows["strange"])
    assert sorted(r.state for r in rows["flaky"]) == ["sent"] * (ITEMS - 1) + ["unknown"]


HOSTILE_BODIES = [
    "",
    "not json",
    "[]",
    "null",
    "{}",
    '{"retry_after": 1e400, "retry_after_ms": 1e400, "parameters": {"retry_after": 1e400}}',
    '{"retry_after": -5, "retry_after_ms": -5, "parameters": {"retry_after": -5}}',
    '{"retry_after": NaN, "retry_after_ms": NaN, "parameters": {"retry_after": NaN}}',
    '{"retry_after": Infinity, "retry_after_ms": -Infinity, "parameters": {"retry_after": Infinity}}',
    '{"retry_after": "soon", "retry_after_ms": "5", "parameters": {"retry_after": "later"}}',
    '{"retry_after": true, "retry_after_ms": [], "parameters": []}',
    '{"retry_after": {}, "retry_after_ms": null, "parameters": "x"}',
    json.dumps({"retry_after": 10**400, "retry_after_ms": 10**400, "parameters": {"retry_after": 10**400}}),
    '{"retry_after": ' + "9" * 5000 + "}",  # beyond Python's digit limit for int()
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser recurses
]  # fmt: skip
HOSTILE_HEADERS = [
    {},
    {"Retry-After": "999999999999"},
    {"Retry-After": "nan"},
    {"Retry-After": "-3"},
    {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},
    {"X-RateLimit-Reset": "2030-01-01T00:00:00"},  # no zone
    {"X-RateLimit-Reset": "9999-12-31T23:59:59.999999-23:59"},
    {"X-RateLimit-Reset": "0001-01-01T00:00:00+23:59"},
    {"X-RateLimit-Reset": "gestern"},
]


def hinting(kind: str, store: Store) -> Discord | Telegram | Matrix | Mastodon:
    """A destination of ``kind`` with its own wait-hint field; it never connects here."""
    url = "http://127.0.0.1:9"
    if kind == "discord":
        return Discord("d", DiscordOptions(webhook_url=url + "/w/1/t"), context(store))
    if kind == "telegram":
        options = TelegramOptions(bot_token=TOKEN, chat_id="@k", api_url=url)
        return Telegram("t", options, context(store))
    if kind == "matrix":
        options_m = MatrixOptions(homeserver=url, room="!r:x", access_token=TOKEN)
        return Matrix("m", options_m, context(store))
    return Mastodon("o", MastodonOptions(instance=url, access_token=TOKEN), context(store))


@pytest.mark.parametrize("kind", ["discord", "telegram", "matrix", "mastodon"])
def test_vendor_wait_hints_never_raise_and_never_wait_over_a_day(
    kind: str, sqlite_store: Store
) -> None:
    destination = hinting(kind, sqlite_store)
    for body in HOSTILE_BODIES:
        for headers in HOSTILE_HEADERS:
            wait = destination.retry_after(Answer(status=429, headers=headers, text=body))
            assert wait is None or isinstance(wait, float)
            assert backoff(1, wait) <= MAX_WAIT
    # a sane hint still counts
    sane = {"discord": '{"retry_after": 2.5}', "telegram": '{"parameters": {"retry_after": 7}}',
            "matrix": '{"retry_after_ms": 1500}', "mastodon": ""}[kind]  # fmt: skip
    expected = {"discord": 2.5, "telegram": 7.0, "matrix": 1.5, "mastodon": 42.0}[kind]
    answer = Answer(status=429, headers={"Retry-After": "42"}, text=sane)
    assert destination.retry_after(answer) == expected
