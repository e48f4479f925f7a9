"""A destination's ``daily_cap``: no more than N posts a calendar day, the rest held for the
next day with a note in the ledger, never dropped; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update

from newsbote import outbox
from newsbote.config.schema import BotConfig
from newsbote.deliver import destination_kinds
from newsbote.deliver.base import DeliverContext, Destination
from newsbote.deliver.base import Options as Plain
from newsbote.deliver.board import Board, BoardOptions
from newsbote.deliver.runner import _claim_capped, deliver_due
from newsbote.outbox import Delivery, Outcome
from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.types import Markup, Receipt
from tests.helpers import board_count, seed_deliveries

DAY = datetime(2026, 12, 1, 9, tzinfo=UTC)


class Recorder(Destination[Plain]):
    """A destination that takes every post and remembers the order."""

    kind = ""  # no kind: never found by a config
    markup = Markup.HTML
    Options = Plain

    def __init__(self, name: str, options: Plain, store: Store) -> None:
        super().__init__(name, options, DeliverContext(store, BotConfig(), "de"))
        self.arrived: list[int] = []

    async def send(self, delivery: Delivery) -> Receipt:
        self.arrived.append(delivery.id)
        return Receipt(remote_id=f"post-{delivery.id}", url=None)


def rows(store: Store, destination: str = "capped") -> list[Any]:
    query = select(deliveries).where(deliveries.c.destination == destination)
    return store.call(lambda c: list(c.execute(query.order_by(deliveries.c.id))))


def seed(store: Store, count: int, now: datetime, destination: str = "capped") -> None:
    store.call(lambda c: seed_deliveries(c, count, destination, now=now))


async def test_a_round_sends_up_to_the_cap_and_holds_the_rest_for_tomorrow(store: Store) -> None:
    capped = Recorder("capped", Plain(daily_cap=2), store)
    seed(store, 5, datetime.now(UTC) - timedelta(minutes=1))
    before = datetime.now(UTC)
    outcomes = await deliver_due(store, {"capped": capped})
    assert len(outcomes) == 2 and len(capped.arrived) == 2
    ledger = rows(store)
    assert [r.state for r in ledger] == ["sent", "sent", "pending", "pending", "pending"]
    assert capped.arrived == [r.id for r in ledger[:2]]  # oldest first
    tomorrow = datetime.combine(before.date() + timedelta(days=1), datetime.min.time(), UTC)
    held = ledger[2:]
    assert {r.next_attempt_at for r in held} == {tomorrow}
    assert {r.last_error for r in held} == {
        f"over the daily cap of 2: waits until {tomorrow:%Y-%m-%d} 00:00 UTC"
    }
    assert {r.attempts for r in held} == {0}  # held is not tried
    # the next round today sends nothing more and changes nothing
    assert await deliver_due(store, {"capped": capped}) == []
    assert [(r.state, r.next_attempt_at) for r in rows(store)[2:]] == [("pending", tomorrow)] * 3


def _day(store: Store, capped: Recorder, now: datetime) -> list[int]:
    """One claiming round at ``now``, its posts recorded sent at ``now``."""

    def claim_and_send(connection: Any) -> list[int]:
        cap = capped.cap_room(connection, now)
        assert cap is not None
        taken = _claim_capped(connection, capped, now, 100, cap, 120.0)
        outbox.finish(
            connection,
            [Outcome(d, receipt=Receipt(f"post-{d.id}")) for d in taken],
            now=now,
        )
        return [d.id for d in taken]

    return store.call(claim_and_send)


def test_what_the_cap_holds_goes_out_the_next_days_oldest_first_none_dropped(
    store: Store,
) -> None:
    capped = Recorder("capped", Plain(daily_cap=2), store)
    seed(store, 5, DAY - timedelta(hours=1))
    ids = [r.id for r in rows(store)]
    assert _day(store, capped, DAY) == ids[:2]
    assert _day(store, capped, DAY + timedelta(hours=5)) == []  # same day: nothing more
    assert _day(store, capped, DAY + timedelta(hours=15, minutes=30)) == ids[2:4]  # 00:30 next
    assert _day(store, capped, DAY + timedelta(days=2)) == ids[4:]
    ledger = rows(store)
    assert [r.state for r in ledger] == ["sent"] * 5
    assert all(r.last_error is None for r in ledger)  # the note goes when the post does


def test_the_calendar_day_is_the_destinations_time_zone(store: Store) -> None:
    berlin = Recorder("capped", Plain(daily_cap=1, timezone="Europe/Berlin"), store)
    seed(store, 3, DAY - timedelta(days=1))
    # 23:30 UTC on Dec 1 is 00:30 on Dec 2 in Berlin: the post counts for Dec 2 there
    late = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert len(_day(store, berlin, late)) == 1
    assert _day(store, berlin, datetime(2026, 12, 2, 20, tzinfo=UTC)) == []
    held = rows(store)[1:]
    assert {r.next_attempt_at for r in held} == {datetime(2026, 12, 2, 23, tzinfo=UTC)}
    assert "waits until 2026-12-03 00:00 Europe/Berlin" in held[0].last_error


def test_edits_pass_a_full_cap_and_failed_posts_held_keep_their_error(store: Store) -> None:
    capped = Recorder("capped", Plain(daily_cap=1), store)
    seed(store, 3, DAY - timedelta(hours=1))
    first, second, third = (r.id for r in rows(store))
    store.call(
        lambda c: c.execute(
            update(deliveries).where(deliveries.c.id == second).values(action="edit")
        )
    )
    store.call(
        lambda c: c.execute(
            update(deliveries)
            .where(deliveries.c.id == third)
            .values(state="failed", last_error="HTTP 502")
        )
    )
    assert _day(store, capped, DAY) == [first, second]  # the edit is not counted
    held = rows(store)[2]
    assert (held.state, held.last_error) == ("failed", "HTTP 502")
    assert held.next_attempt_at == datetime(2026, 12, 2, tzinfo=UTC)


async def test_the_board_with_a_cap_posts_through_the_runner_within_it(store: Store) -> None:
    board = Board("board", BoardOptions(daily_cap=3), DeliverContext(store, BotConfig(), "de"))
    assert board.paced and not board.posts_while_enqueued
    seed(store, 4, datetime.now(UTC) - timedelta(minutes=1), destination="board")
    await deliver_due(store, {"board": board})
    assert board_count(store) == 3
    assert [r.state for r in rows(store, "board")] == ["sent"] * 3 + ["pending"]


def test_every_destination_kind_takes_a_daily_cap_and_checks_its_time_zone() -> None:
    for name, kind in destination_kinds().items():
        fields = kind.Options.model_fields
        assert "daily_cap" in fields and "timezone" in fields, name
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Plain(daily_cap=1, timezone="Mars/Olympus")
    with pytest.raises(ValidationError):
        Plain(daily_cap=0)
