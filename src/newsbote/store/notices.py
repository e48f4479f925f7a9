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

from datetime import datetime

from sqlalchemy import Connection, insert

from newsbote.store.schema import notices

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
