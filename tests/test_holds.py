"""Holds: a flood, renumbered ids and a route's approval wait for the operator, announced;
release sends them, discard never does; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select, update
from typer.testing import CliRunner

from newsbote import cli, outbox
from newsbote.cli_holds import discard_command, held_command, release_command
from newsbote.store import Store
from newsbote.store.schema import deliveries, notices, sources
from tests.helpers import board_count, board_titles, load, run_once, write_config
from tests.servers import FeedServer, rss

FLOOD = "[health]\nflood_limit = 3"


def _items(start: int, stop: int, prefix: str = "g") -> list[tuple[str, str, str]]:
    """RSS items numbered ``start`` to ``stop - 1``, newest first."""
    return [
        (f"{prefix}{n}", f"https://example.org/{prefix}/{n}", f"Artikel {n}")
        for n in reversed(range(start, stop))
    ]


def _dated(items: list[tuple[str, str, str]]) -> str:
    """An RSS document of (guid, link, title), each dated by its number."""
    entries = "".join(
        f"<item><guid>{guid}</guid><link>{link}</link><title>{title}</title>"
        f"<pubDate>Mon, {int(title.split()[-1]) + 1:02d} Jun 2026 10:00:00 GMT</pubDate>"
        f"<description>Text von {title}.</description></item>"
        for guid, link, title in items
    )
    return rss([]).replace("</channel>", entries + "</channel>")


def _config(
    tmp_path: Path, store_url: str, server: FeedServer, extra: str = FLOOD, **route: Any
) -> Path:
    source = {"name": "blog", "url": server.url("/feed.xml"), "allow_private": True}
    routes = [{"sources": ["*"], "destinations": ["board"], **route}]
    return write_config(
        tmp_path, store_url, [source | {"first_run": "all"}], routes=routes, extra=extra
    )


def ledger(store: Store) -> list[Any]:
    return store.call(lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id)).all()))


def notice_rows(store: Store) -> list[Any]:
    return store.call(lambda c: list(c.execute(select(notices).order_by(notices.c.id)).all()))


def _hold_mark(store: Store) -> str | None:
    mark: str | None = store.call(
        lambda c: c.execute(
            select(sources.c.health_reason).where(sources.c.name == "blog")
        ).scalar_one()
    )
    return mark


async def test_a_flood_is_held_and_announced_once_then_released_and_posted(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(_items(1, 3)))
    loaded = load(_config(tmp_path, store_url, feed_server))
    await run_once(loaded, store)
    assert board_count(store) == 2  # a first run is judged by its own rule, never a flood
    feed_server.set("/feed.xml", rss(_items(1, 7)))  # 4 new: more than flood_limit = 3
    await run_once(loaded, store)
    assert board_count(store) == 2  # the board posts while enqueueing: not a held one
    held = [r for r in ledger(store) if r.state == "held"]
    assert len(held) == 4
    assert {r.last_error for r in held} == {"flood: 4 new items in one poll"}
    (notice,) = notice_rows(store)  # one per hold, not one per item
    assert notice.kind == "held" and notice.subject == "source:blog"
    assert notice.text == (
        "Die Quelle »blog« hat auf einmal 4 neue Artikel geliefert. Ich halte sie zurück: "
        "newsbote release --source blog oder newsbote discard --source blog."
    )
    await run_once(loaded, store)  # held rows are never claimed, polls add no notice
    assert board_count(store) == 2 and len(notice_rows(store)) == 1
    assert _hold_mark(store) == "flooding"  # status shows the source as holding a flood
    change = store.call(outbox.release, now=datetime.now(UTC), source="blog")
    assert change == outbox.Change(changed=4)
    assert _hold_mark(store) is None
    await run_once(loaded, store)
    assert board_titles(store)[2:] == ["Artikel 3", "Artikel 4", "Artikel 5", "Artikel 6"]
    assert {r.state for r in ledger(store)} == {"sent"}


async def test_no_flood_at_the_limit_and_updates_are_never_held(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(_items(1, 2)))
    loaded = load(_config(tmp_path, store_url, feed_server, update="repost"))
    await run_once(loaded, store)
    changed = rss(_items(1, 5)).replace("Text von Artikel 1.", "Ganz neuer Text.")
    feed_server.set("/feed.xml", changed)  # 3 new (= flood_limit) and 1 changed
    await run_once(loaded, store)
    assert {r.state for r in ledger(store)} == {"sent"} and len(ledger(store)) == 5
    assert notice_rows(store) == []


async def test_renumbered_ids_with_moved_links_are_held_as_an_unstable_identity(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", _dated(_items(1, 5)))
    loaded = load(_config(tmp_path, store_url, feed_server, extra="[health]\nflood_limit = 50"))
    await run_once(loaded, store)
    assert board_count(store) == 4
    # the publisher's new system: every id and link new, titles and dates as before
    feed_server.set("/feed.xml", _dated(_items(1, 6, prefix="neu")))
    await run_once(loaded, store)
    assert board_count(store) == 4
    held = [r for r in ledger(store) if r.state == "held"]
    assert len(held) == 5  # the poll's genuinely new item waits with its renumbered fellows
    assert {r.last_error for r in held} == {
        "unstable identity: 4 of 5 items have new ids but the title and date of a stored item"
    }
    (notice,) = notice_rows(store)
    assert "»blog« hat 5 Artikel unter neuen Kennungen geliefert" in notice.text
    change = store.call(outbox.discard, now=datetime.now(UTC), every=True)
    assert change.changed == 5
    await run_once(loaded, store)
    assert board_count(store) == 4
    skipped = [r for r in ledger(store) if r.state == "skipped"]
    assert len(skipped) == 5
    assert skipped[0].last_error.startswith(
        "discarded by the operator; it was held: unstable identity: 4 of 5"
    )


async def test_three_of_four_lookalikes_are_below_the_unstable_share(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", _dated(_items(1, 4)))
    loaded = load(_config(tmp_path, store_url, feed_server, extra="[health]\nflood_limit = 50"))
    await run_once(loaded, store)
    feed_server.set("/feed.xml", _dated(_items(1, 5, prefix="neu")))  # 3 of 4 = 0.75 < 0.8
    await run_once(loaded, store)
    assert {r.state for r in ledger(store)} == {"sent"} and notice_rows(store) == []


async def test_one_republished_article_is_not_an_unstable_identity(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", _dated(_items(1, 2)))
    loaded = load(_config(tmp_path, store_url, feed_server))
    await run_once(loaded, store)
    feed_server.set("/feed.xml", _dated(_items(1, 2, prefix="neu")))  # 1 of 1: below two
    await run_once(loaded, store)
    assert [r.state for r in ledger(store)] == ["sent", "sent"]


async def test_an_approval_route_holds_every_post_until_released_by_id(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(_items(1, 3)))
    loaded = load(_config(tmp_path, store_url, feed_server, approve=True))
    await run_once(loaded, store)
    rows = ledger(store)
    assert [(r.state, r.last_error) for r in rows] == [("held", "waiting for approval")] * 2
    assert board_count(store) == 0 and notice_rows(store) == []  # a queue, not news
    change = store.call(outbox.release, now=datetime.now(UTC), ids=[rows[1].id, 999])
    assert change == outbox.Change(changed=1, refused=((999, "no such delivery"),))
    await run_once(loaded, store)
    assert board_titles(store) == ["Artikel 2"]
    again = store.call(outbox.release, now=datetime.now(UTC), ids=[rows[1].id])
    assert again.refused == ((rows[1].id, "was sent already"),)


def test_held_rows_are_never_claimed_and_count_their_age_from_release(store: Store) -> None:
    from tests.helpers import seed_deliveries

    old = datetime.now(UTC) - timedelta(days=30)
    store.call(lambda c: seed_deliveries(c, 2, now=old))
    store.call(lambda c: c.execute(update(deliveries).values(state="held", last_error="flood")))
    now = datetime.now(UTC)
    claim = outbox.claim  # every state a worker claims in, unknown's lookups included
    states = ("pending", "failed", "unknown")
    assert store.call(claim, now=now, destinations=["board"], states=states) == []
    assert store.call(outbox.retry, now=now, ids=[1]).refused == (
        (1, "is held for the operator: newsbote release or newsbote discard"),
    )
    store.call(outbox.release, now=now, ids=[1])
    (taken,) = store.call(claim, now=now, destinations=["board"])
    assert taken.created_at == now  # a month held is not a month old: max_age starts now
    policy = outbox.Policy(max_age=timedelta(hours=1))
    failure = outbox.Outcome(taken, error=_retryable())
    store.call(outbox.finish, [failure], now=now, policies={"board": policy})
    assert [r.state for r in ledger(store)] == ["failed", "held"]


def _retryable() -> Any:
    from newsbote.errors import DeliveryError

    return DeliveryError("board", "busy", permanent=False)


runner = CliRunner()


@pytest.fixture
def wide_terminal() -> Iterator[None]:
    """A terminal wide enough that no line is wrapped: the tests read whole sentences."""
    saved = [(console, console._width) for console in (cli.console, cli.errors)]
    for console, _ in saved:
        console.width = 300
    yield
    for console, width in saved:
        console._width = width


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("held")(held_command)
    app.command("release")(release_command)
    app.command("discard")(discard_command)
    return app


@pytest.mark.usefixtures("wide_terminal")
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_commands_list_release_and_discard_and_say_what_they_left(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/feed.xml", rss(_items(1, 3)))
    path = _config(tmp_path, store_url, feed_server, approve=True)
    await run_once(load(path), store)
    app, config = _app(), ["--config", str(path)]
    listed = runner.invoke(app, ["held", *config])
    assert listed.exit_code == 0, listed.output
    assert "held deliveries: 2" in listed.output and "waiting for approval" in listed.output
    wrong = runner.invoke(app, ["held", "--source", "blgo", *config])
    assert wrong.exit_code == 2 and "did you mean 'blog'" in wrong.output
    both = runner.invoke(app, ["release", "1", "--all", *config])
    assert both.exit_code == 2 and "one of them" in both.output
    released = runner.invoke(app, ["release", "1", *config])
    assert released.exit_code == 0 and "1 delivery(ies) released" in released.output
    refused = runner.invoke(app, ["discard", "1", "2", *config])
    assert refused.exit_code == 1
    assert "1 delivery(ies) discarded" in refused.output
    assert "delivery 1 is not held (it is queued)" in refused.output
    empty = runner.invoke(app, ["discard", "--source", "blog", *config])
    assert empty.exit_code == 0 and "no delivery is held for source 'blog'" in empty.output
    assert [r.state for r in ledger(store)] == ["pending", "skipped"]
