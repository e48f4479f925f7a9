"""The delivery ledger: one row per (item, destination, version), unique in the database.

States::

    pending ──claim──► sending ──► sent
       ▲                  │ ├────► failed (retry at) ──due──► sending …
       └──lease expired───┘ ├────► dead (permanent error, too many attempts, too old)
         (idempotent dest.) └────► unknown (lease expired or outcome uncertain,
                                    destination not idempotent) ──lookup──► sent | sending
    skipped (by the operator)
    held ──release──► pending        (a flood, an unstable identity, a route's approval:
      └──discard──► skipped           never claimed, never too old while it waits)

A row is marked ``sending`` with a lease *before* the network call, so a crash
is visible: when the lease runs out, an idempotent destination gets the row
back as pending (the retry cannot double-post), any other goes to ``unknown``.
An ``unknown`` row is never re-sent blindly: a destination that can look its
posts up claims it again, looks, and sends only if the post is not there;
for the others the operator decides (``newsbote resolve``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, and_, bindparam, func, literal, or_, select, update

from newsbote.errors import DeliveryError
from newsbote.store.bulk import execute_many
from newsbote.store.claims import chosen
from newsbote.store.schema import deliveries, items, sources
from newsbote.store.sources import HOLD_REASONS
from newsbote.types import DeliveryState, Markup, Message, Receipt
from newsbote.urls import web_url

RETRY_BASE = 30.0
RETRY_CAP = 6 * 3600.0
MAX_ATTEMPTS = 12
MAX_AGE = timedelta(days=2)
MAX_WAIT = 86_400.0
"""The longest a destination's wait hint (``Retry-After`` and the vendors' own fields) is
honoured, in seconds: a larger one is cut to a day, so no hint can stall a row for good."""
ERROR_CHARS = 2000
"""The longest ``last_error`` kept: replies quoted in errors come from strangers."""
HOLD_APPROVAL = "waiting for approval"
"""Why a held row of a route with ``approve = true`` waits (its ``last_error``)."""
DISCARDED = "discarded by the operator"
"""How a discarded row's ``last_error`` begins (the hold's reason follows)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed ledger row, ready to send."""

    id: int
    item_id: int
    destination: str
    dedupe_key: str
    version: int
    action: str
    attempts: int
    message: Message
    created_at: datetime | None = None
    claimed_from: str = "pending"
    """The state the row was claimed in: ``unknown`` rows are looked up before any send."""
    leased: bool = True
    """False for a row taken without a lease, to be posted and recorded in the transaction
    that took it (destinations inside the store): it is still in ``claimed_from``."""

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and crashes: the same row always sends the same key.

        A digest, so it is ASCII and short whatever the article's key (headers
        and vendor APIs limit both).
        """
        return idempotency_key(self.destination, self.dedupe_key, self.version)


def idempotency_key(destination: str, dedupe_key: str, version: int) -> str:
    """The key of the ledger slot (destination, article, version); see :class:`Delivery`."""
    digest = hashlib.blake2b(
        f"{destination}\n{dedupe_key}\n{version}".encode(), digest_size=16
    ).hexdigest()
    return f"newsbote-{digest}"


@dataclass(frozen=True, slots=True)
class NewPost:
    """A message posted in the transaction that enqueues it (a destination in the store)."""

    key: str
    """The ledger slot's :func:`idempotency_key`: the post's key there."""
    item_id: int
    message: Message
    source: str | None = None
    """The name its source goes by (the feed's title), where the caller knows it."""


class PostsInStore(Protocol):
    """A destination inside the store that posts while its messages are enqueued.

    Its ledger rows go in as ``sent`` in the same transaction as the posts, so a
    post and its row cannot disagree, and no worker has to claim, read back and
    update them afterwards.
    """

    def receipt_for(self, key: str) -> Receipt:
        """The receipt of the post with this key (known before it is written)."""

    def post_now(self, connection: Connection, posts: Sequence[NewPost], now: datetime) -> None:
        """Write ``posts`` inside the caller's transaction (one already there is kept)."""


_CLAIMED = [
    deliveries.c[name]
    for name in ("id", "item_id", "destination", "dedupe_key", "version", "action", "attempts",
                 "title", "body", "link", "markup", "image", "created_at")
]  # fmt: skip


def _delivery(row: Any, state: str, leased: bool = True) -> Delivery:
    return Delivery(
        id=row.id,
        item_id=row.item_id,
        destination=row.destination,
        dedupe_key=row.dedupe_key,
        version=row.version,
        action=row.action,
        attempts=row.attempts if leased else row.attempts + 1,
        message=Message(
            destination=row.destination,
            title=row.title,
            body=row.body,
            # through the URL policy again: rows written before it existed are read too
            link=web_url(row.link),
            markup=Markup(row.markup),
            image=web_url(row.image),
        ),
        created_at=row.created_at,
        claimed_from=state,
        leased=leased,
    )


def claim(
    connection: Connection,
    *,
    now: datetime,
    destinations: Collection[str],
    limit: int = 100,
    lease: float | None = 120.0,
    states: Sequence[str] = (DeliveryState.PENDING.value, DeliveryState.FAILED.value),
    actions: Collection[str] | None = None,
) -> list[Delivery]:
    """Lease up to ``limit`` due rows (of ``actions``, if given), oldest first; two
    workers never get the same row.

    One statement per state, so the (state, next_attempt_at, id) index hands
    the rows over in order and nothing is sorted, however long the ledger.
    With ``lease=None`` the rows are only read (and locked, on PostgreSQL): for a
    caller that sends and :func:`finish` es them in this same transaction.
    """
    if not destinations or limit <= 0:
        return []
    claimed: list[Delivery] = []
    for state in states:
        due = (
            select(deliveries.c.id)
            .where(
                deliveries.c.state == state,
                deliveries.c.next_attempt_at <= now,
                deliveries.c.destination.in_(list(destinations)),
            )
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit - len(claimed))
        )
        if actions is not None:
            due = due.where(deliveries.c.action.in_(list(actions)))
        if lease is None:
            if connection.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            taken = connection.execute(due.with_only_columns(*_CLAIMED)).all()
            claimed.extend(_delivery(row, state, leased=False) for row in taken)
            if len(claimed) >= limit:
                break
            continue
        rows = connection.execute(
            update(deliveries)
            .where(chosen(connection.dialect.name, deliveries, due), deliveries.c.state == state)
            .values(
                state=DeliveryState.SENDING.value,
                lease_until=now + timedelta(seconds=lease),
                attempts=deliveries.c.attempts + 1,
                updated_at=now,
            )
            .returning(*_CLAIMED)
        ).all()
        claimed.extend(_delivery(row, state) for row in rows)
        if len(claimed) >= limit:
            break
    return sorted(claimed, key=lambda d: d.id)


def reap(connection: Connection, *, now: datetime, idempotent: Collection[str]) -> tuple[int, int]:
    """Rows whose lease ran out mid-send: back to pending if safe, else ``unknown``.

    Safe are idempotent destinations, and edits anywhere (editing twice is editing once).
    """
    expired = and_(
        deliveries.c.state == DeliveryState.SENDING.value, deliveries.c.lease_until < now
    )
    retried = connection.execute(
        update(deliveries)
        .where(
            expired,
            or_(deliveries.c.destination.in_(list(idempotent)), deliveries.c.action == "edit"),
        )
        .values(state=DeliveryState.PENDING.value, lease_until=None, updated_at=now)
    ).rowcount
    unknown = connection.execute(
        update(deliveries)
        .where(expired)
        .values(
            state=DeliveryState.UNKNOWN.value,
            lease_until=None,
            updated_at=now,
            last_error="the worker stopped mid-send; whether the post arrived is unknown",
        )
    ).rowcount
    return retried, unknown


def wait_hint(retry_after: object) -> float | None:
    """A destination's wait hint as seconds in [0, :data:`MAX_WAIT`]; None where it is no
    number or not finite (nan, infinity). Never raises.

    The one place a hint is bounded: destinations parse their vendor's field as they
    like, and whatever they pass here cannot overflow a datetime.
    """
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        return None
    if isinstance(retry_after, int):  # an int too large for a float is a very long wait
        return float(min(max(retry_after, 0), int(MAX_WAIT)))
    if not math.isfinite(retry_after):
        return None
    return min(max(retry_after, 0.0), MAX_WAIT)


def backoff(attempts: int, retry_after: object = None, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: exponential with full jitter, at least the
    destination's wait hint (bounded by :func:`wait_hint`)."""
    # the exponent stops where the cap is long reached: 2 ** attempts of a huge
    # max_attempts would not fit a float
    ceiling = min(RETRY_CAP, RETRY_BASE * 2 ** min(max(0, attempts - 1), 32))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return max(delay, wait_hint(retry_after) or 0.0)


@dataclass(frozen=True, slots=True)
class Policy:
    """How long one destination keeps trying, and whether a resend is safe."""

    max_attempts: int = MAX_ATTEMPTS
    max_age: timedelta | None = MAX_AGE
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one send: a receipt, or the error it failed with."""

    delivery: Delivery
    receipt: Receipt | None = None
    error: DeliveryError | None = None


_SENT = (
    update(deliveries)
    .where(deliveries.c.id == bindparam("row_id"), deliveries.c.state == bindparam("was"))
    .values(
        state=DeliveryState.SENT.value,
        attempts=bindparam("attempts"),
        remote_id=bindparam("remote_id"),
        remote_url=bindparam("remote_url"),
        lease_until=None,
        last_error=None,
        sent_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)


def finish(
    connection: Connection,
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    policies: Mapping[str, Policy] | None = None,
    rng: random.Random | None = None,
) -> None:
    """Record what happened to claimed rows; only rows still held (``sending``, or the
    state an unleased row was taken in) are touched."""
    execute_many(
        connection,
        _SENT,
        [
            {
                "row_id": o.delivery.id,
                "was": _held_in(o.delivery),
                "attempts": o.delivery.attempts,
                "remote_id": stored_text(o.receipt.remote_id),
                "remote_url": stored_text(o.receipt.url),
                "now": now,
            }
            for o in outcomes
            if o.receipt is not None
        ],
    )
    for outcome in outcomes:
        if outcome.error is None:
            continue
        policy = (policies or {}).get(outcome.delivery.destination, Policy())
        connection.execute(
            update(deliveries)
            .where(
                deliveries.c.id == outcome.delivery.id,
                deliveries.c.state == _held_in(outcome.delivery),
            )
            .values(
                attempts=outcome.delivery.attempts,
                lease_until=None,
                last_error=stored_text(str(outcome.error), ERROR_CHARS),
                updated_at=now,
                **_after_error(outcome.delivery, outcome.error, policy, now, rng),
            )
        )


def stored_text(value: object, limit: int | None = None) -> str | None:
    """``value`` as text every database stores: a destination's reply may hold a NUL
    (PostgreSQL refuses it) or a lone surrogate from a JSON escape (no UTF-8 encodes it).

    A value that is no string (a surprising JSON field) is kept as its ``str``; one
    bad value must not fail the transaction that records the whole round.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _held_in(delivery: Delivery) -> str:
    """The state a claimed row is in until it is finished."""
    return DeliveryState.SENDING.value if delivery.leased else delivery.claimed_from


def _after_error(
    delivery: Delivery,
    error: DeliveryError,
    policy: Policy,
    now: datetime,
    rng: random.Random | None,
) -> dict[str, Any]:
    """The next state of a row whose send failed with ``error``."""
    if error.uncertain and not policy.idempotent and delivery.action != "edit":
        # it may have arrived: never resend blindly; a lookup (or the operator) settles it.
        # (An edit may be repeated: editing twice is editing once.)
        delay = backoff(delivery.attempts, error.retry_after, rng)
        return {
            "state": DeliveryState.UNKNOWN.value,
            "next_attempt_at": now + timedelta(seconds=delay),
        }
    too_old = (
        policy.max_age is not None
        and delivery.created_at is not None
        and now - delivery.created_at > policy.max_age
    )
    if error.permanent or delivery.attempts >= policy.max_attempts or too_old:
        return {"state": DeliveryState.DEAD.value}
    delay = backoff(delivery.attempts, error.retry_after, rng)
    return {"state": DeliveryState.FAILED.value, "next_attempt_at": now + timedelta(seconds=delay)}


def counts(connection: Connection) -> dict[str, int]:
    """Rows per state."""
    rows = connection.execute(
        select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
    ).all()
    return dict(rows)


def receipt_of_post(connection: Connection, item_id: int, destination: str) -> Receipt | None:
    """The remote post an item's latest post (first or repost) to ``destination`` created."""
    row = connection.execute(
        select(deliveries.c.remote_id, deliveries.c.remote_url)
        .where(
            deliveries.c.item_id == item_id,
            deliveries.c.destination == destination,
            deliveries.c.action == "post",
            deliveries.c.state == DeliveryState.SENT.value,
        )
        .order_by(deliveries.c.version.desc())
        .limit(1)
    ).first()
    return Receipt(remote_id=row.remote_id, url=row.remote_url) if row and row.remote_id else None


def listing(
    connection: Connection,
    *,
    state: str | None = None,
    destination: str | None = None,
    source: str | None = None,
    limit: int = 50,
) -> list[Any]:
    """Ledger rows, newest first, with their item's title and source, for ``deliveries``."""
    query = (
        select(
            deliveries.c.id,
            deliveries.c.state,
            deliveries.c.destination,
            deliveries.c.action,
            deliveries.c.version,
            deliveries.c.attempts,
            deliveries.c.next_attempt_at,
            deliveries.c.remote_url,
            deliveries.c.last_error,
            items.c.title,
            sources.c.name.label("source"),
        )
        .join(items, items.c.id == deliveries.c.item_id)
        .join(sources, sources.c.id == items.c.source_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    if state:
        query = query.where(deliveries.c.state == state)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    if source:
        query = query.where(sources.c.name == source)
    return list(connection.execute(query).all())


@dataclass(frozen=True, slots=True)
class Change:
    """What an operator's ledger command did: how many rows it changed, and for each
    named row it left alone, why."""

    changed: int
    refused: tuple[tuple[int, str], ...] = ()


_WHY_NOT = {
    DeliveryState.PENDING.value: "is queued already",
    DeliveryState.SENDING.value: "is being sent right now",
    DeliveryState.SENT.value: "was sent already",
    DeliveryState.SKIPPED.value: "is skipped already",
    DeliveryState.HELD.value: "is held for the operator: newsbote release or newsbote discard",
}


def _change(
    connection: Connection,
    ids: Collection[int],
    allowed: Collection[str],
    why_not: Mapping[str, str],
    values: Mapping[str, Any],
) -> Change:
    """Apply ``values`` to the rows of ``ids`` in one of the ``allowed`` states; give the
    reason for each of the others (missing, or in a state the change does not take)."""
    states = dict(
        connection.execute(
            select(deliveries.c.id, deliveries.c.state).where(deliveries.c.id.in_(list(ids)))
        ).all()
    )
    refused: list[tuple[int, str]] = []
    for row_id in sorted(set(ids)):
        state = states.get(row_id)
        if state is None:
            refused.append((row_id, "no such delivery"))
        elif state not in allowed:
            refused.append((row_id, why_not.get(state) or f"is {state}"))
    wanted = [row_id for row_id, state in states.items() if state in allowed]
    changed = 0
    if wanted:
        changed = connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(wanted), deliveries.c.state.in_(list(allowed)))
            .values(**values)
        ).rowcount
    return Change(changed=int(changed), refused=tuple(refused))


def retry(
    connection: Connection, *, now: datetime, ids: Collection[int] = (), dead: bool = False
) -> Change:
    """Send these rows again now (``failed``, ``dead``, ``skipped`` or ``unknown`` ones)."""
    again = [DeliveryState.FAILED.value, DeliveryState.DEAD.value, DeliveryState.SKIPPED.value,
             DeliveryState.UNKNOWN.value]  # fmt: skip
    values = {
        "state": DeliveryState.PENDING.value,
        "next_attempt_at": now,
        "attempts": 0,
        "updated_at": now,
    }
    if dead:
        return Change(
            changed=int(
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.state == DeliveryState.DEAD.value)
                    .values(**values)
                ).rowcount
            )
        )
    return _change(connection, ids, again, _WHY_NOT, values)


def skip(connection: Connection, *, now: datetime, ids: Collection[int]) -> Change:
    """Never send these rows (any state but ``sent``, ``sending`` and ``skipped``)."""
    allowed = [DeliveryState.PENDING.value, DeliveryState.FAILED.value, DeliveryState.DEAD.value,
               DeliveryState.UNKNOWN.value]  # fmt: skip
    values = {"state": DeliveryState.SKIPPED.value, "lease_until": None, "updated_at": now}
    return _change(connection, ids, allowed, _WHY_NOT, values)


def resolve(connection: Connection, *, now: datetime, row_id: int, sent_url: str | None) -> Change:
    """Settle an ``unknown`` row: it arrived (``sent_url``) or it did not (send it again)."""
    values: dict[str, Any] = (
        {
            "state": DeliveryState.SENT.value,
            "remote_url": sent_url,
            "remote_id": sent_url,
            "sent_at": now,
        }
        if sent_url
        else {"state": DeliveryState.PENDING.value, "next_attempt_at": now}
    )
    why_not = {
        state.value: f"is {state.value}; only a delivery in state 'unknown' is resolved"
        for state in DeliveryState
    }
    return _change(
        connection,
        [row_id],
        [DeliveryState.UNKNOWN.value],
        why_not,
        {"lease_until": None, "updated_at": now, **values},
    )


_FAILED = [DeliveryState.FAILED.value, DeliveryState.DEAD.value, DeliveryState.UNKNOWN.value]


def failed_since(connection: Connection, since: datetime) -> list[Any]:
    """Rows whose latest attempt failed at or after ``since`` (``failed``, ``dead`` or
    ``unknown``), with their error: what a ``run --once`` or a drain reports."""
    return list(
        connection.execute(
            select(
                deliveries.c.id,
                deliveries.c.destination,
                deliveries.c.state,
                deliveries.c.last_error,
            )
            .where(
                deliveries.c.state.in_(_FAILED),
                deliveries.c.updated_at >= since,
            )
            .order_by(deliveries.c.id)
        ).all()
    )


def held(
    connection: Connection,
    *,
    source: str | None = None,
    destination: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Held rows, oldest first, with their reason (``last_error``), item and source."""
    query = (
        select(
            deliveries.c.id,
            deliveries.c.destination,
            deliveries.c.action,
            deliveries.c.version,
            deliveries.c.created_at,
            deliveries.c.last_error.label("reason"),
            items.c.title,
            items.c.link,
            sources.c.name.label("source"),
        )
        .join(items, items.c.id == deliveries.c.item_id)
        .join(sources, sources.c.id == items.c.source_id)
        .where(deliveries.c.state == DeliveryState.HELD.value)
        .order_by(deliveries.c.id)
        .limit(limit)
    )
    if source is not None:
        query = query.where(sources.c.name == source)
    if destination is not None:
        query = query.where(deliveries.c.destination == destination)
    return list(connection.execute(query).all())


def _held_rows(
    connection: Connection, ids: Collection[int], source: str | None, every: bool
) -> Collection[int] | None:
    """The ids a hold command takes: ``ids`` as named, else every held row (of ``source``);
    None where they are named (each gets its own answer)."""
    if ids:
        if source is not None or every:
            raise ValueError("name delivery ids, or --source, or --all: one of them")
        return None
    if source is None and not every:
        raise ValueError("name delivery ids, or --source, or --all")
    query = select(deliveries.c.id).where(deliveries.c.state == DeliveryState.HELD.value)
    if source is not None:
        of_source = (
            select(items.c.id)
            .join(sources, sources.c.id == items.c.source_id)
            .where(sources.c.name == source)
        )
        query = query.where(deliveries.c.item_id.in_(of_source))
    return list(connection.execute(query).scalars())


def _settle_held(
    connection: Connection,
    ids: Collection[int],
    source: str | None,
    every: bool,
    values: Mapping[str, Any],
) -> Change:
    found = _held_rows(connection, ids, source, every)
    why_not = {**_WHY_NOT, DeliveryState.PENDING.value: "is not held (it is queued)"}
    why_not |= {s: f"is not held (it is {s})" for s in _FAILED}
    if found is None:
        change = _change(connection, ids, [DeliveryState.HELD.value], why_not, values)
    elif not found:
        return Change(changed=0)
    else:
        change = _change(connection, found, [DeliveryState.HELD.value], why_not, values)
    _clear_settled_holds(connection)
    return change


def _clear_settled_holds(connection: Connection) -> None:
    """A source marked as holding a flood or changed ids stops being marked once none of
    its deliveries is held any more (``status`` shows the mark until then)."""
    still_held = (
        select(items.c.source_id)
        .join(deliveries, deliveries.c.item_id == items.c.id)
        .where(deliveries.c.state == DeliveryState.HELD.value)
    )
    connection.execute(
        update(sources)
        .where(sources.c.health_reason.in_(HOLD_REASONS), sources.c.id.not_in(still_held))
        .values(health_reason=None)
    )


def release(
    connection: Connection,
    *,
    now: datetime,
    ids: Collection[int] = (),
    source: str | None = None,
    every: bool = False,
) -> Change:
    """Let held rows go out: pending, due now. Their age counts from now: a row held for a
    week waits for the operator, not against the destination's ``max_age_hours``."""
    values = {
        "state": DeliveryState.PENDING.value,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": None,
        "updated_at": now,
    }
    return _settle_held(connection, ids, source, every, values)


def discard(
    connection: Connection,
    *,
    now: datetime,
    ids: Collection[int] = (),
    source: str | None = None,
    every: bool = False,
) -> Change:
    """Never send held rows: skipped, their ``last_error`` saying they were discarded and
    what held them (``why`` shows both)."""
    values = {
        "state": DeliveryState.SKIPPED.value,
        "last_error": literal(f"{DISCARDED}; it was held: ")
        + func.coalesce(deliveries.c.last_error, ""),
        "updated_at": now,
    }
    return _settle_held(connection, ids, source, every, values)
