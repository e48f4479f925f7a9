"""Notices: what the bot tells the operator (a source fails, a destination is disabled,
items are held), and their sending, once, to every ``[health] notify`` destination.

A notice is written in the transaction that changes what it tells of, so it cannot be
lost to a crash between the change and the announcement. Its sending has a small ledger
of its own, ``notice_sends``, one row per notice and notify destination (unique: the
idempotency key), not rows of the delivery ledger: a delivery belongs to an item of a
source, is routed, deduplicated by the item's key and counted in a destination's daily
cap, none of which fits "the source heise is failing".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from newsbote.store.claims import chosen
from newsbote.store.schema import notice_sends, notices

SOURCE = "source:"
DESTINATION = "destination:"


def source_subject(name: str) -> str:
    """The subject of a notice about a source."""
    return SOURCE + name


def destination_subject(name: str) -> str:
    """The subject of a notice about a destination (never sent to that destination)."""
    return DESTINATION + name


def add_notice(connection: Connection, *, kind: str, subject: str, text: str, now: datetime) -> int:
    """Record a notice to send to every ``[health] notify`` destination; its id.

    ``kind`` says what happened (``source_failing``, ``held``, …), ``subject`` what it is
    about (:func:`source_subject` or :func:`destination_subject`), ``text`` is the
    message in the bot's voice and the configured language (plain text; a blank line
    separates paragraphs). Call it inside the transaction that makes the change.
    """
    result = connection.execute(
        insert(notices)
        .values(kind=kind, subject=subject, text=text, created_at=now, fanned_out=False)
        .returning(notices.c.id)
    )
    return int(result.scalar_one())


# -- sending, once per notice and notify destination -----------------------------------

RETRY_BASE = 30.0
RETRY_MAX = 3600.0
FAN_OUT_BATCH = 200


@dataclass(frozen=True, slots=True)
class NoticeSend:
    """A notice claimed for sending to one destination."""

    id: int
    notice_id: int
    destination: str
    kind: str
    subject: str
    text: str
    attempts: int
    created_at: datetime

    @property
    def key(self) -> str:
        """The idempotency key of this notice at this destination (a Matrix transaction
        id, a Message-ID): the same on every retry."""
        digest = hashlib.blake2b(
            f"notice\n{self.notice_id}\n{self.destination}".encode(), digest_size=16
        ).hexdigest()
        return f"newsbote-notice-{digest}"


@dataclass(frozen=True, slots=True)
class SendResult:
    """How sending one claimed notice went."""

    send_id: int
    remote_id: str | None = None
    error: str | None = None
    permanent: bool = False


def fan_out(connection: Connection, notify: Sequence[str], now: datetime) -> int:
    """Give every new notice a pending send row per ``notify`` destination (none to the
    destination a notice is about); how many rows. Each notice is fanned out once: to
    the notify list of that moment."""
    pending = connection.execute(
        select(notices.c.id, notices.c.subject)
        .where(notices.c.fanned_out.is_(False))
        .order_by(notices.c.id)
        .limit(FAN_OUT_BATCH)
    ).all()
    if not pending:
        return 0
    rows = [
        {
            "notice_id": notice.id,
            "destination": name,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
        }
        for notice in pending
        for name in notify
        if notice.subject != destination_subject(name)
    ]
    if rows:
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(insert(notice_sends).on_conflict_do_nothing(), rows)
    connection.execute(
        update(notices)
        .where(notices.c.id.in_([notice.id for notice in pending]))
        .values(fanned_out=True)
    )
    return len(rows)


def claim_sends(
    connection: Connection,
    destinations: Sequence[str],
    now: datetime,
    *,
    lease: float,
    limit: int = 50,
) -> list[NoticeSend]:
    """Lease the due sends to ``destinations`` (the enabled notify destinations): pending
    ones due now, and ``sending`` ones whose lease ran out (a process died mid-send)."""
    if not destinations:
        return []
    due = or_(
        and_(notice_sends.c.state == "pending", notice_sends.c.next_attempt_at <= now),
        and_(notice_sends.c.state == "sending", notice_sends.c.lease_until < now),
    )
    oldest = (
        select(notice_sends.c.id)
        .where(notice_sends.c.destination.in_(list(destinations)), due)
        .order_by(notice_sends.c.id)
        .limit(limit)
    )
    claimed = (
        connection.execute(
            update(notice_sends)
            .where(chosen(connection.dialect.name, notice_sends, oldest))
            .values(
                state="sending",
                lease_until=now + timedelta(seconds=lease),
                attempts=notice_sends.c.attempts + 1,
            )
            .returning(notice_sends.c.id)
        )
        .scalars()
        .all()
    )
    if not claimed:
        return []
    rows = connection.execute(
        select(
            notice_sends, notices.c.kind, notices.c.subject, notices.c.text, notices.c.created_at
        )
        .join(notices, notices.c.id == notice_sends.c.notice_id)
        .where(notice_sends.c.id.in_(list(claimed)))
        .order_by(notice_sends.c.id)
    ).all()
    return [
        NoticeSend(
            id=row.id,
            notice_id=row.notice_id,
            destination=row.destination,
            kind=row.kind,
            subject=row.subject,
            text=row.text,
            attempts=row.attempts,
            created_at=row.created_at,
        )
        for row in rows
    ]


def finish_sends(connection: Connection, results: Sequence[SendResult], now: datetime) -> None:
    """Record how the claimed sends went: sent; failed for good (kept, with its error,
    for ``status``); or pending again after a backoff."""
    for result in results:
        row = notice_sends.c
        if result.error is None:
            values: dict[str, Any] = {
                "state": "sent",
                "sent_at": now,
                "remote_id": result.remote_id,
                "lease_until": None,
                "last_error": None,
            }
        elif result.permanent:
            values = {"state": "failed", "lease_until": None, "last_error": result.error}
        else:
            attempts = connection.execute(
                select(row.attempts).where(row.id == result.send_id)
            ).scalar_one()
            wait = min(RETRY_MAX, RETRY_BASE * 2 ** max(0, attempts - 1))
            values = {
                "state": "pending",
                "lease_until": None,
                "last_error": result.error,
                "next_attempt_at": now + timedelta(seconds=wait),
            }
        connection.execute(
            update(notice_sends)
            .where(row.id == result.send_id, row.state == "sending")
            .values(**values)
        )


@dataclass(frozen=True, slots=True)
class OpenNotice:
    """A notice not yet sent everywhere, for ``status``."""

    id: int
    kind: str
    subject: str
    title: str
    created_at: datetime
    destination: str | None
    state: str
    attempts: int
    last_error: str | None


def open_notices(connection: Connection, limit: int = 50) -> list[OpenNotice]:
    """Notices waiting to be fanned out, and sends not (yet) done: pending, out now, or
    failed for good."""
    found = [
        OpenNotice(
            row.id, row.kind, row.subject, title_of(row.text), row.created_at, None, "new", 0, None
        )
        for row in connection.execute(
            select(notices)
            .where(notices.c.fanned_out.is_(False))
            .order_by(notices.c.id)
            .limit(limit)
        )
    ]
    found += [
        OpenNotice(
            row.notice_id,
            row.kind,
            row.subject,
            title_of(row.text),
            row.created_at,
            row.destination,
            row.state,
            row.attempts,
            row.last_error,
        )
        for row in connection.execute(
            select(
                notice_sends,
                notices.c.kind,
                notices.c.subject,
                notices.c.text,
                notices.c.created_at,
            )
            .join(notices, notices.c.id == notice_sends.c.notice_id)
            .where(notice_sends.c.state != "sent")
            .order_by(notice_sends.c.id)
            .limit(limit)
        )
    ]
    return found


def title_of(text: str) -> str:
    """A notice's title: its first paragraph when a blank line follows it, else empty."""
    head, sep, _ = text.partition("\n\n")
    return head if sep and "\n" not in head else ""


def body_of(text: str) -> str:
    """A notice's text without its title."""
    head, sep, rest = text.partition("\n\n")
    return rest if sep and "\n" not in head else text


def has_work(connection: Connection, now: datetime) -> bool:
    """Whether a notice waits to be fanned out or a send is due (a read: the service asks
    every second, and writes only when there is something to do)."""
    new = connection.execute(
        select(notices.c.id).where(notices.c.fanned_out.is_(False)).limit(1)
    ).first()
    if new is not None:
        return True
    due = connection.execute(
        select(notice_sends.c.id)
        .where(
            or_(
                and_(notice_sends.c.state == "pending", notice_sends.c.next_attempt_at <= now),
                and_(notice_sends.c.state == "sending", notice_sends.c.lease_until < now),
            )
        )
        .limit(1)
    ).first()
    return due is not None
