"""Draining the outbox: claim due rows, hand them to their destinations, record outcomes."""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from newsbote import outbox
from newsbote.deliver.base import Destination, InStoreDestination
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, Outcome, Policy
from newsbote.render.limits import fit
from newsbote.store import Store
from newsbote.store.health import RoundResult, disabled_destinations, record_rounds
from newsbote.store.notices import (
    NoticeSend,
    SendResult,
    body_of,
    claim_sends,
    fan_out,
    finish_sends,
    has_work,
    title_of,
)
from newsbote.types import DeliveryState, Message, Receipt

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
    # a disabled destination's deliveries wait, pending, until it is enabled again
    disabled = await store.read(disabled_destinations)
    if disabled:
        destinations = {n: d for n, d in destinations.items() if n not in disabled}
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
    if outcomes:
        results = round_results(outcomes)
        hashes = {name: config_hash(destinations[name]) for name in results}
        changed = await store.run(record_rounds, results, datetime.now(UTC), hashes)
        for name, health in changed.items():
            log.log(
                logging.INFO if health.state == "ok" else logging.WARNING,
                "health destination=%s state=%s failures=%d reason=%s",
                name,
                health.state,
                health.failures,
                health.reason or "",
            )
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


def round_results(outcomes: Sequence[Outcome]) -> dict[str, RoundResult]:
    """Per destination: how many posts arrived in a round, and its first error."""
    arrived: Counter[str] = Counter()
    errors: dict[str, DeliveryError] = {}
    failed: dict[str, list[int]] = defaultdict(list)
    for outcome in outcomes:
        name = outcome.delivery.destination
        if outcome.error is None:
            arrived[name] += 1
        else:
            errors.setdefault(name, outcome.error)
            failed[name].append(outcome.delivery.id)
    return {
        name: RoundResult(
            arrived[name],
            None if arrived[name] or name not in errors else errors[name].detail,
            bool(name in errors and errors[name].permanent),
            tuple(failed[name]),
        )
        for name in {*arrived, *errors}
    }


def config_hash(destination: Destination[Any]) -> str:
    """A digest of a destination's options: a disabled destination whose config changed
    (a new token, another room) is enabled again."""
    text = f"{destination.kind}\n{destination.options.model_dump_json()}"
    return hashlib.sha256(text.encode()).hexdigest()


# -- notices ---------------------------------------------------------------------------


def notice_message(send: NoticeSend, destination: Destination[Any], language: str) -> Message:
    """A notice as a message in the destination's markup, in the bot's voice: its text's
    paragraphs (``- `` lines a list, `code` spans), the title on top where the platform
    has no title field, cut to the platform's length."""
    title = title_of(send.text) or ("Hinweis" if language == "de" else "Notice")
    blocks: list[str] = []
    if destination.title_in_body:
        blocks.append(f"<p><strong>{html.escape(title)}</strong></p>")
    for paragraph in body_of(send.text).split("\n\n"):
        lines = paragraph.splitlines()
        if lines and all(line.startswith("- ") for line in lines[1:]) and len(lines) > 1:
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines[1:])
            blocks.append(f"<p>{_inline(lines[0])}</p><ul>{items}</ul>")
        elif paragraph.strip():
            blocks.append(f"<p>{'<br>'.join(_inline(line) for line in lines)}</p>")
    body = fit("".join(blocks), destination.markup, destination.max_length, destination.measure)
    return Message(
        destination=destination.name,
        title=title,
        body=body,
        link=None,
        markup=destination.markup,
        meta={"notice": send.kind, "subject": send.subject},
    )


def _inline(text: str) -> str:
    """A line of a notice as HTML: escaped, with `code` spans."""
    parts = html.escape(text, quote=False).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick stays a backtick
        parts[-2:] = [parts[-2] + "`" + parts[-1]]
    return "".join(
        f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts)
    )


def _notice_delivery(send: NoticeSend, message: Message) -> Delivery:
    """A notice as the delivery a destination sends: its id is the send row's (negative:
    never a ledger row's), its key the notice's at this destination."""
    return Delivery(
        id=-send.id,
        item_id=0,
        destination=send.destination,
        dedupe_key=f"notice:{send.notice_id}",
        version=1,
        action="post",
        attempts=send.attempts,
        message=message,
        created_at=send.created_at,
    )


async def send_notices(
    store: Store,
    destinations: Mapping[str, Destination[Any]],
    notify: Sequence[str],
    *,
    language: str,
    lease: float = 120.0,
) -> list[SendResult]:
    """Send the notices due to the ``notify`` destinations (not a disabled one: theirs
    wait), each through the destination's own ``send``; record how it went."""
    now = datetime.now(UTC)
    if not await store.read(has_work, now):
        return []
    await store.run(fan_out, notify, now)
    disabled = await store.read(disabled_destinations)
    usable = [name for name in notify if name in destinations and name not in disabled]
    claimed = await store.run(claim_sends, usable, now, lease=lease)
    if not claimed:
        return []

    async def one(send: NoticeSend) -> SendResult:
        # send, not deliver_many: a notice goes out now, never into a mail digest
        destination = destinations[send.destination]
        try:
            message = notice_message(send, destination, language)
            if destination.bucket is not None:
                await destination.bucket.take()
            receipt = await destination.send(_notice_delivery(send, message))
        except DeliveryError as exc:
            error = destination.scrub(exc)
            return SendResult(send.id, error=error.detail, permanent=error.permanent)
        except Exception as exc:  # a bug: this notice's alone, retried later
            return SendResult(send.id, error=destination.unexpected(exc, "sending a notice").detail)
        return SendResult(send.id, remote_id=receipt.remote_id)

    results = list(await asyncio.gather(*(one(send) for send in claimed)))
    await store.run(finish_sends, results, datetime.now(UTC))
    for send, result in zip(claimed, results, strict=True):
        if result.error is None:
            log.info(
                "notice id=%d kind=%s destination=%s state=sent",
                send.notice_id,
                send.kind,
                send.destination,
            )
        else:
            log.warning(
                "notice id=%d kind=%s destination=%s attempt=%d error=%s",
                send.notice_id,
                send.kind,
                send.destination,
                send.attempts,
                result.error,
            )
    return results
