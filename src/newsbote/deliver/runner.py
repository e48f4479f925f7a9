"""Draining the outbox: claim due rows, hand them to their destinations, record outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from newsbote import outbox
from newsbote.deliver.base import Destination, InStoreDestination
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, Outcome, Policy
from newsbote.store import Store
from newsbote.types import DeliveryState, Receipt

log = logging.getLogger("newsbote.deliver")


def _claim(
    connection: Connection,
    destinations: Mapping[str, Destination[Any]],
    limit: int,
    lease: float | None,
    idempotent: list[str] | None = None,
) -> list[tuple[Delivery, Receipt | None]]:
    """Claim what can go out now: paced destinations (rate limits, digests) only what they take.

    With ``idempotent`` (the names of all idempotent destinations), expired leases are
    reaped first. With ``lease=None`` the rows are taken for this transaction only.
    """
    now = datetime.now(UTC)
    if idempotent is not None:
        outbox.reap(connection, now=now, idempotent=idempotent)
    free = [name for name, d in destinations.items() if not d.paced]
    claimed = outbox.claim(connection, now=now, destinations=free, limit=limit, lease=lease)
    for name, destination in destinations.items():
        if destination.paced:
            room = destination.room(connection, now, limit)
            cap = destination.cap_room(connection, now)
            if cap is None:
                claimed += outbox.claim(
                    connection, now=now, destinations=[name], limit=room, lease=lease
                )
                continue
            claimed += _claim_capped(connection, destination, now, room, cap, lease)
    # unknown posts, for destinations that can look them up first (a reply's fate is the
    # operator's: a lookup would find the post it answers)
    lookups = [name for name, d in destinations.items() if d.can_lookup]
    claimed += outbox.claim(
        connection,
        now=now,
        destinations=lookups,
        limit=max(1, limit // 10),
        lease=lease,
        states=(DeliveryState.UNKNOWN.value,),
        actions=("post",),
    )
    return [
        (
            d,
            outbox.receipt_of_post(connection, d.item_id, d.destination)
            if d.action in ("edit", "reply")
            else None,
        )
        for d in claimed
    ]


def _claim_capped(
    connection: Connection,
    destination: Destination[Any],
    now: datetime,
    room: int,
    cap: int,
    lease: float | None,
) -> list[Delivery]:
    """Edits as the pace allows, posts and replies also within today's ``cap``; the posts
    over the cap move to the next day (:meth:`Destination.hold_over_cap`)."""
    names = [destination.name]
    edits = outbox.claim(
        connection, now=now, destinations=names, limit=room, lease=lease, actions=("edit",)
    )
    posts = outbox.claim(
        connection,
        now=now,
        destinations=names,
        limit=min(room - len(edits), cap),
        lease=lease,
        actions=("post", "reply"),
    )
    if len(posts) == cap:  # the cap, not the pace, is what stops the rest today
        destination.hold_over_cap(connection, now, [d.id for d in posts])
    return sorted(edits + posts, key=lambda d: d.id)


def _finish(connection: Connection, outcomes: list[Outcome], policies: dict[str, Policy]) -> None:
    outbox.finish(connection, outcomes, now=datetime.now(UTC), policies=policies)


def _by_destination(
    batch: list[tuple[Delivery, Receipt | None]],
) -> dict[str, list[tuple[Delivery, Receipt | None]]]:
    grouped: dict[str, list[tuple[Delivery, Receipt | None]]] = defaultdict(list)
    for delivery, receipt in batch:
        grouped[delivery.destination].append((delivery, receipt))
    return grouped


def _deliver_in_store(
    connection: Connection,
    destinations: dict[str, InStoreDestination[Any]],
    limit: int,
    idempotent: list[str] | None,
) -> list[Outcome]:
    """Claim, post and record in one transaction: for destinations inside the store.

    Nothing is ever half-done here, so no lease is needed: a failure rolls the
    posts back with the ledger's record of them.
    """
    batch = _claim(connection, destinations, limit, None, idempotent)
    outcomes = [
        outcome
        for name, group in _by_destination(batch).items()
        for outcome in destinations[name].write(connection, group)
    ]
    _finish(connection, outcomes, {n: d.policy for n, d in destinations.items()})
    return outcomes


async def _deliver_group(
    destination: Destination[Any], group: list[tuple[Delivery, Receipt | None]]
) -> list[Outcome]:
    """One outcome for each delivery of ``group``, whatever ``destination`` does.

    ``deliver_many`` settles each delivery on its own (a send that raises leaves the
    others' outcomes); an override that raises, or leaves a delivery out, makes those
    deliveries uncertain: which of them arrived is not known, so none is resent blindly.
    """
    try:
        outcomes = await destination.deliver_many(group)
    except Exception as exc:
        error = destination.unexpected(exc)
        return [Outcome(delivery, error=error) for delivery, _ in group]
    given = {o.delivery.id: o for o in outcomes}
    missing = DeliveryError(
        destination.name, "the destination reported no outcome for it", uncertain=True
    )
    return [given.get(delivery.id) or Outcome(delivery, error=missing) for delivery, _ in group]


async def deliver_due(
    store: Store,
    destinations: dict[str, Destination[Any]],
    *,
    limit: int = 500,
    lease: float = 120.0,
) -> list[Outcome]:
    """One round: claim up to ``limit`` due deliveries, send them, record what happened.

    Destinations inside the store (the board) take theirs in a transaction of their own.
    """
    local = {n: d for n, d in destinations.items() if isinstance(d, InStoreDestination)}
    remote = {n: d for n, d in destinations.items() if n not in local}
    idempotent = [name for name, d in destinations.items() if d.idempotent]
    outcomes = await store.run(_deliver_in_store, local, limit, idempotent) if local else []
    reaping = None if local else idempotent  # reaped once per round, for every destination
    batch = await store.run(_claim, remote, limit, lease, reaping) if remote else []
    if batch:
        # no destination's failure escapes: each delivery of the round gets its outcome
        groups = await asyncio.gather(
            *(_deliver_group(remote[name], group) for name, group in _by_destination(batch).items())
        )
        sent = [outcome for group in groups for outcome in group]
        await store.run(_finish, sent, {n: d.policy for n, d in remote.items()})
        outcomes += sent
    for outcome in outcomes:
        if outcome.error is not None:
            log.warning(
                "deliver id=%d destination=%s attempt=%d error=%s",
                outcome.delivery.id,
                outcome.delivery.destination,
                outcome.delivery.attempts,
                outcome.error,
            )
        else:
            log.info(
                "deliver id=%d destination=%s state=sent remote=%s",
                outcome.delivery.id,
                outcome.delivery.destination,
                outcome.receipt.remote_id if outcome.receipt else "",
            )
    return outcomes
