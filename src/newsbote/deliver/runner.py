"""Draining the outbox: claim due rows, hand them to their destinations, record outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy import Connection

from newsbote import outbox
from newsbote.deliver.base import Destination
from newsbote.outbox import Delivery, Outcome, Policy
from newsbote.store import Store
from newsbote.types import DeliveryState, Receipt

log = logging.getLogger("newsbote.deliver")


def _claim(
    connection: Connection, destinations: dict[str, Destination], limit: int, lease: float
) -> list[tuple[Delivery, Receipt | None]]:
    """Claim what can go out now: paced destinations (rate limits, digests) only what they take."""
    now = datetime.now(UTC)
    idempotent = [name for name, d in destinations.items() if d.idempotent]
    outbox.reap(connection, now=now, idempotent=idempotent)
    free = [name for name, d in destinations.items() if not d.paced]
    claimed = outbox.claim(connection, now=now, destinations=free, limit=limit, lease=lease)
    for name, destination in destinations.items():
        if destination.paced:
            room = destination.room(connection, now, limit)
            claimed += outbox.claim(
                connection, now=now, destinations=[name], limit=room, lease=lease
            )
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


def _finish(connection: Connection, outcomes: list[Outcome], policies: dict[str, Policy]) -> None:
    outbox.finish(connection, outcomes, now=datetime.now(UTC), policies=policies)


async def deliver_due(
    store: Store, destinations: dict[str, Destination], *, limit: int = 500, lease: float = 120.0
) -> list[Outcome]:
    """One round: claim up to ``limit`` due deliveries, send them, record what happened."""
    batch = await store.run(_claim, destinations, limit, lease)
    if not batch:
        return []
    by_destination: dict[str, list[tuple[Delivery, Receipt | None]]] = defaultdict(list)
    for delivery, receipt in batch:
        by_destination[delivery.destination].append((delivery, receipt))
    groups = await asyncio.gather(
        *(destinations[name].deliver_many(group) for name, group in by_destination.items())
    )
    outcomes = [outcome for group in groups for outcome in group]
    await store.run(_finish, outcomes, {n: d.policy for n, d in destinations.items()})
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
