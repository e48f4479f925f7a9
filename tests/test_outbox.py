"""The delivery ledger: claims with leases, crash recovery, retries, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from newsbote import outbox
from newsbote.errors import DeliveryError
from newsbote.store import Store, open_store
from newsbote.store.schema import deliveries
from newsbote.types import Receipt
from tests.helpers import seed_deliveries as seed

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def states(store: Store) -> list[str]:
    return store.call(
        lambda c: [r.state for r in c.execute(select(deliveries).order_by(deliveries.c.id))]
    )


def test_claim_leases_rows_and_a_second_claim_gets_none(store: Store) -> None:
    store.call(seed, 3)
    first = store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"], limit=10))
    second = store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"], limit=10))
    assert [d.attempts for d in first] == [1, 1, 1]
    assert second == []
    assert states(store) == ["sending"] * 3


def test_expired_lease_returns_to_pending_for_idempotent_and_unknown_otherwise(
    store: Store,
) -> None:
    store.call(seed, 1, "board")
    store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"], lease=60))
    later = NOW + timedelta(seconds=61)
    assert store.call(lambda c: outbox.reap(c, now=later, idempotent=["board"])) == (1, 0)
    assert states(store) == ["pending"]
    store.call(lambda c: outbox.claim(c, now=later, destinations=["board"], lease=60))
    assert store.call(
        lambda c: outbox.reap(c, now=later + timedelta(seconds=61), idempotent=[])
    ) == (0, 1)
    assert states(store) == ["unknown"]


def test_finish_records_sent_failed_with_backoff_and_dead(store: Store) -> None:
    store.call(seed, 3)
    claimed = store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"]))
    outcomes = [
        outbox.Outcome(claimed[0], receipt=Receipt("42", "https://board/t/42")),
        outbox.Outcome(claimed[1], error=DeliveryError("board", "HTTP 503", retry_after=600)),
        outbox.Outcome(claimed[2], error=DeliveryError("board", "HTTP 403", permanent=True)),
    ]
    store.call(lambda c: outbox.finish(c, outcomes, now=NOW, rng=random.Random(1)))
    rows = store.call(lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id))))
    assert [r.state for r in rows] == ["sent", "failed", "dead"]
    assert rows[0].remote_id == "42" and rows[0].remote_url == "https://board/t/42"
    assert rows[1].next_attempt_at >= NOW + timedelta(seconds=600)
    assert "HTTP 403" in rows[2].last_error
    assert store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"])) == []
    retried = store.call(
        lambda c: outbox.claim(c, now=NOW + timedelta(hours=1), destinations=["board"])
    )
    assert [d.id for d in retried] == [rows[1].id]


def test_too_many_attempts_make_a_row_dead(store: Store) -> None:
    store.call(seed, 1)
    for attempt in range(3):
        when = NOW + timedelta(days=attempt)
        claimed = store.call(outbox.claim, now=when, destinations=["board"])
        error = outbox.Outcome(claimed[0], error=DeliveryError("board", "timeout"))
        policy = outbox.Policy(max_attempts=3, max_age=None)
        store.call(outbox.finish, [error], now=when, policies={"board": policy})
        assert states(store) == (["failed"] if attempt < 2 else ["dead"])


def test_a_delivery_older_than_its_max_age_dies_at_its_next_failure(store: Store) -> None:
    store.call(seed, 1)
    later = NOW + timedelta(hours=3)
    claimed = store.call(outbox.claim, now=later, destinations=["board"])
    error = outbox.Outcome(claimed[0], error=DeliveryError("board", "HTTP 503"))
    policy = outbox.Policy(max_age=timedelta(hours=2))
    store.call(outbox.finish, [error], now=later, policies={"board": policy})
    assert states(store) == ["dead"]


@pytest.mark.parametrize(("idempotent", "expected"), [(True, "failed"), (False, "unknown")])
def test_an_uncertain_failure_is_unknown_unless_a_resend_is_safe(
    store: Store, idempotent: bool, expected: str
) -> None:
    store.call(seed, 1)
    claimed = store.call(outbox.claim, now=NOW, destinations=["board"])
    error = DeliveryError("board", "no answer within 10s", uncertain=True)
    policy = outbox.Policy(idempotent=idempotent)
    store.call(
        outbox.finish,
        [outbox.Outcome(claimed[0], error=error)],
        now=NOW,
        policies={"board": policy},
    )
    assert states(store) == [expected]
    # unknown rows are claimed only on request (for a lookup), never by the plain drain
    later = NOW + timedelta(days=1)
    plain = store.call(outbox.claim, now=later, destinations=["board"])
    assert [d.claimed_from for d in plain] == (["failed"] if idempotent else [])
    if not idempotent:
        looked = store.call(outbox.claim, now=later, destinations=["board"], states=("unknown",))
        assert [d.claimed_from for d in looked] == ["unknown"]


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    rng = random.Random(7)
    delays = [outbox.backoff(n, rng=rng) for n in range(1, 8)]
    assert all(d >= 15 for d in delays) and delays[-1] > delays[0]
    assert outbox.backoff(1, retry_after=3600, rng=rng) >= 3600
    assert outbox.backoff(50, rng=rng) <= outbox.RETRY_CAP


@pytest.mark.parametrize(
    ("hint", "expected"),
    [(999_999_999_999, outbox.MAX_WAIT), (10**400, outbox.MAX_WAIT), (1e300, outbox.MAX_WAIT),
     (-5, 0.0), (-1e300, 0.0), (float("nan"), None), (float("inf"), None), (float("-inf"), None),
     ("3600", None), (True, None), (None, None), (120, 120.0), (0.5, 0.5)],
)  # fmt: skip
def test_a_wait_hint_is_bounded_to_a_day_and_anything_else_is_none(
    hint: object, expected: float | None
) -> None:
    assert outbox.wait_hint(hint) == expected
    assert outbox.backoff(3, hint) <= max(outbox.MAX_WAIT, outbox.RETRY_CAP)


def test_a_huge_attempt_count_backs_off_by_the_cap() -> None:
    assert outbox.backoff(10_000, rng=random.Random(1)) <= outbox.RETRY_CAP


@pytest.mark.parametrize("hint", [999_999_999_999, 10**400, float("inf"), float("nan"), -5])
def test_no_wait_hint_fails_the_transaction_that_records_a_round(store: Store, hint: float) -> None:
    store.call(seed, 2)
    claimed = store.call(outbox.claim, now=NOW, destinations=["board"])
    outcomes = [
        outbox.Outcome(claimed[0], error=DeliveryError("board", "HTTP 429", retry_after=hint)),
        outbox.Outcome(claimed[1], receipt=Receipt("7")),
    ]
    store.call(outbox.finish, outcomes, now=NOW)
    rows = store.call(lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id))))
    assert [r.state for r in rows] == ["failed", "sent"]
    assert NOW < rows[0].next_attempt_at <= NOW + timedelta(seconds=outbox.MAX_WAIT)


def test_text_from_a_reply_is_stored_whatever_it_holds(store: Store) -> None:
    store.call(seed, 2)
    claimed = store.call(outbox.claim, now=NOW, destinations=["board"])
    reply = "Fehler\x00\ud800" + "x" * 10_000  # a NUL (PostgreSQL), a lone surrogate, no end
    outcomes = [
        outbox.Outcome(claimed[0], error=DeliveryError("board", reply)),
        outbox.Outcome(claimed[1], receipt=Receipt("id\x00\udfff", "https://x/\x00")),
    ]
    store.call(outbox.finish, outcomes, now=NOW)
    failed, sent = store.call(
        lambda c: list(c.execute(select(deliveries).order_by(deliveries.c.id)))
    )
    assert failed.state == "failed" and len(failed.last_error) <= outbox.ERROR_CHARS
    assert failed.last_error.startswith("destination 'board': Fehler\ufffd?")
    assert sent.state == "sent" and sent.remote_id == "id\ufffd?"


def test_concurrent_claims_on_postgresql_never_share_a_row(postgres_admin: str) -> None:
    from tests.conftest import fresh_postgres

    generator = fresh_postgres(postgres_admin)
    url = next(generator)
    store = open_store(url)
    try:
        store.call(seed, 600)
        claimed: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            own = open_store(url, migrate_schema=False)
            try:
                while True:
                    batch = own.call(
                        lambda c: outbox.claim(c, now=NOW, destinations=["board"], limit=7)
                    )
                    if not batch:
                        return
                    assert len(batch) <= 7  # never more than asked for
                    with lock:
                        claimed.extend(d.id for d in batch)
            finally:
                own.close()

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(claimed) == 600
        assert len(set(claimed)) == 600
    finally:
        store.close()
        with pytest.raises(StopIteration):
            next(generator)


def test_the_code_knows_the_newest_migration() -> None:
    from newsbote.store.engine import HEAD_REVISION, alembic_head

    assert alembic_head() == HEAD_REVISION


def test_migrating_twice_is_harmless(store: Store) -> None:
    store.migrate()
    assert store.is_current()


def test_an_edit_is_never_unknown_editing_twice_is_editing_once(store: Store) -> None:
    store.call(seed, 2)
    store.call(lambda c: c.execute(deliveries.update().values(action="edit")))
    first, _ = store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"], lease=60))
    error = DeliveryError("board", "no answer within 10s", uncertain=True)
    store.call(
        outbox.finish,
        [outbox.Outcome(first, error=error)],
        now=NOW,
        policies={"board": outbox.Policy()},
    )
    # the second one's worker died mid-send: its lease runs out
    later = NOW + timedelta(seconds=61)
    assert store.call(lambda c: outbox.reap(c, now=later, idempotent=[])) == (1, 0)
    assert states(store) == ["failed", "pending"]


def test_only_posts_are_claimed_for_a_lookup(store: Store) -> None:
    store.call(seed, 2)
    store.call(lambda c: c.execute(deliveries.update().values(state="unknown")))
    store.call(
        lambda c: c.execute(
            deliveries.update().where(deliveries.c.item_id == 2).values(action="reply")
        )
    )
    looked = store.call(
        lambda c: outbox.claim(
            c, now=NOW, destinations=["board"], states=("unknown",), actions=("post",)
        )
    )
    assert [(d.item_id, d.action) for d in looked] == [(1, "post")]
    assert states(store) == ["sending", "unknown"]


def test_a_claimed_message_carries_only_urls_the_policy_allows(store: Store) -> None:
    """A ledger row written before the URL policy (or by hand) cannot pass a script URL on."""
    store.call(seed, 2)
    store.call(
        lambda c: c.execute(
            deliveries.update()
            .where(deliveries.c.id == 1)
            .values(link=" JaVaScRiPt:alert(1)", image="data:image/png;base64,AAAA")
        )
    )
    claimed = store.call(lambda c: outbox.claim(c, now=NOW, destinations=["board"], limit=10))
    messages = {d.id: d.message for d in claimed}
    assert messages[1].link is None and messages[1].image is None
    assert messages[2].link == "https://example.org/2"
