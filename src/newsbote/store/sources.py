"""Source state: caching validators, schedule, errors, leases for several workers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from newsbote.config.schema import SourceConfig
from newsbote.health import FLOODING, GONE, UNSTABLE_IDENTITY, Health
from newsbote.store.bulk import execute_many
from newsbote.store.claims import chosen
from newsbote.store.schema import sources

HOLD_REASONS = (FLOODING, UNSTABLE_IDENTITY)
"""Reasons a source's new items are held (the source itself keeps being polled)."""


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers of a source between polls."""

    id: int
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    errors: int
    first_run_done: bool
    disabled_reason: str | None
    health: Health
    """The source's health (:mod:`newsbote.health`) when it was read."""


def _state(row: Any) -> SourceState:
    return SourceState(
        id=row.id,
        name=row.name,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        errors=row.errors,
        first_run_done=row.first_run_done,
        disabled_reason=row.disabled_reason,
        health=health_of(row),
    )


def health_of(row: Any) -> Health:
    """A source row's health."""
    return Health(
        name=row.name,
        state=row.health,
        since=row.failing_since,
        failures=row.errors,
        last_error=row.last_error,
        reason=row.health_reason,
        reason_text=row.disabled_reason,
        announced=row.announced,
    )


def sync_sources(connection: Connection, configured: Sequence[SourceConfig], now: datetime) -> None:
    """Create rows for new sources; a changed config URL resets the source's fetch state.

    Processes starting at once on one store all find a new source missing: each inserts
    it, and the database keeps the first (``ON CONFLICT DO NOTHING``) instead of failing
    the others on the unique name. Rows go in name order, so two inserting processes
    take their row locks in the same order and never wait for each other in a circle.
    """
    existing = {row.name: row for row in connection.execute(select(sources))}
    missing = sorted(
        (source for source in configured if source.name not in existing), key=lambda s: s.name
    )
    if missing:
        connection.execute(
            _insert_if_missing(connection.dialect.name),
            [
                {
                    "name": source.name,
                    "config_url": source.url,
                    "url": source.url,
                    "errors": 0,
                    "first_run_done": False,
                    "next_check_at": now,
                    "created_at": now,
                }
                for source in missing
            ],
        )
    for source in configured:
        row = existing.get(source.name)
        if row is not None and row.config_url != source.url:
            connection.execute(
                update(sources)
                .where(sources.c.id == row.id)
                .values(
                    config_url=source.url,
                    url=source.url,
                    etag=None,
                    last_modified=None,
                    errors=0,
                    disabled_reason=None,
                    next_check_at=now,
                    health="ok",
                    health_reason=None,
                    failing_since=None,
                    announced="ok",
                )
            )


def _insert_if_missing(dialect: str) -> Insert:
    """An insert of source rows that skips a name stored meanwhile by another process."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert(sources).on_conflict_do_nothing(index_elements=[sources.c.name])


def get_state(connection: Connection, name: str) -> SourceState | None:
    row = connection.execute(select(sources).where(sources.c.name == name)).first()
    return _state(row) if row else None


def claim_due(
    connection: Connection,
    names: Sequence[str],
    now: datetime,
    lease: float,
    *,
    limit: int | None = None,
    due_by: datetime | None = None,
) -> list[SourceState]:
    """Lease the due, enabled sources among ``names`` (the most overdue first, at most
    ``limit``); another worker will not take them. ``due_by`` (default: ``now``) is
    when a source must have been due: a cycle passes its start, so a source it polled
    early is not due again before the cycle ends."""
    if not names:
        return []
    dialect = connection.dialect.name
    claimed = connection.execute(
        _claim(dialect, limit is not None),
        {
            "names": _names(dialect, names),
            "now": now,
            "due_by": due_by or now,
            "until": now + timedelta(seconds=lease),
            "limit": limit,
        },
    ).all()
    return [_state(row) for row in claimed]


def _names(dialect: str, names: Sequence[str]) -> object:
    return list(names) if dialect == "postgresql" else _json_names(tuple(names))


@lru_cache(maxsize=4)
def _json_names(names: tuple[str, ...]) -> str:
    """The names as SQLite's ``json_each`` reads them; a service claims among the same
    names all day, so they are encoded once."""
    return json.dumps(names)


def _named(dialect: str) -> ColumnElement[bool]:
    """``sources.name IN :names`` with one parameter, a list (an array on PostgreSQL, a
    JSON text on SQLite): as an expanding ``IN``, SQLAlchemy renders and binds a ``?``
    per name on every call, which took most of a claim among 1,000 sources."""
    if dialect == "postgresql":
        return sources.c.name == func.any(bindparam("names", type_=ARRAY(Text)))
    values: Select[Any] = select(literal_column("value")).select_from(
        func.json_each(bindparam("names", type_=Text))
    )
    return sources.c.name.in_(values.scalar_subquery())


def _due(dialect: str) -> ColumnElement[bool]:
    """Enabled, not leased (or the lease ran out) and due by ``:due_by``."""
    return and_(
        _named(dialect),
        sources.c.disabled_reason.is_(None),
        or_(sources.c.lease_until.is_(None), sources.c.lease_until < bindparam("now")),
        or_(sources.c.next_check_at.is_(None), sources.c.next_check_at <= bindparam("due_by")),
    )


@lru_cache(maxsize=8)
def _claim(dialect: str, limited: bool) -> Any:
    """The claim's UPDATE, built once per dialect (building it cost more than running it)."""
    due = _due(dialect)
    if limited:
        oldest = (
            select(sources.c.id)
            .where(due)
            .order_by(sources.c.next_check_at)
            .limit(bindparam("limit", type_=Integer))
        )
        due = chosen(dialect, sources, oldest)
    return update(sources).where(due).values(lease_until=bindparam("until")).returning(*sources.c)


# Built once: a poll records its outcome with one prebuilt statement (constructing
# an UPDATE per poll costs more than running it). NULL means "keep".
_RECORD_FETCH = (
    update(sources)
    .where(sources.c.id == bindparam("source_id"))
    .values(
        fetched_at=bindparam("now"),
        http_status=bindparam("http_status"),
        next_check_at=bindparam("next_check_at"),
        lease_until=None,
        errors=0,
        health="ok",
        failing_since=None,
        # literal constants: the statement is compiled once for the DBAPI's executemany
        health_reason=case(
            (
                sources.c.health_reason.in_([literal_column(f"'{r}'") for r in HOLD_REASONS]),
                sources.c.health_reason,
            ),
            else_=None,
        ),
        etag=bindparam("etag"),
        last_modified=bindparam("last_modified"),
        url=func.coalesce(bindparam("url", type_=Text), sources.c.url),
        title=func.coalesce(bindparam("title", type_=Text), sources.c.title),
        first_run_done=func.coalesce(
            bindparam("first_run_done", type_=Boolean), sources.c.first_run_done
        ),
    )
)


def record_fetch(
    connection: Connection,
    source_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    http_status: int | None,
    etag: str | None = None,
    last_modified: str | None = None,
    url: str | None = None,
    title: str | None = None,
    first_run_done: bool | None = None,
) -> None:
    """A successful poll (200 or 304): clear errors (the source is healthy again: an
    announced failure is followed by a "recovered" notice), store validators and the next
    check."""
    execute_many(
        connection,
        _RECORD_FETCH,
        [
            {
                "source_id": source_id,
                "now": now,
                "http_status": http_status,
                "next_check_at": next_check_at,
                "etag": etag,
                "last_modified": last_modified,
                "url": url,
                "title": title,
                "first_run_done": first_run_done,
            }
        ],
    )


def record_error(
    connection: Connection,
    source_id: int,
    *,
    now: datetime,
    next_check_at: datetime,
    message: str,
    http_status: int | None,
    health: Health | None = None,
    disable: bool = False,
) -> None:
    """A failed poll: count it, keep the message and the source's new ``health`` (from
    :func:`newsbote.health.source_failed`); a disabled health disables the source, its
    reason text kept in ``disabled_reason``. Without ``health``, ``disable`` disables it
    with ``message`` as the reason (gone)."""
    if health is None:
        health = Health("", state="disabled" if disable else "failing", since=now)
        if disable:
            health = replace(health, reason=GONE, reason_text=message)
    values: dict[str, Any] = {
        "fetched_at": now,
        "http_status": http_status,
        "next_check_at": next_check_at,
        "lease_until": None,
        "errors": sources.c.errors + 1,
        "last_error": message,
        "last_error_at": now,
        "health": health.state,
        "failing_since": func.coalesce(sources.c.failing_since, health.since or now),
        "health_reason": health.reason,
    }
    if health.state == "disabled":
        values["disabled_reason"] = health.reason_text or message
    connection.execute(update(sources).where(sources.c.id == source_id).values(**values))


def make_due(connection: Connection, names: Sequence[str], now: datetime) -> None:
    """Make these sources due now (a forced poll, which helper processes share)."""
    if names:
        dialect = connection.dialect.name
        connection.execute(
            update(sources).where(_named(dialect)).values(next_check_at=bindparam("now")),
            {"names": _names(dialect, names), "now": now},
        )


def unfinished(
    connection: Connection, names: Sequence[str], now: datetime, due_by: datetime | None = None
) -> int:
    """How many of these (enabled) sources are being polled now, or were due by ``due_by``
    (default: ``now``) and are not polled yet."""
    if not names:
        return 0
    dialect = connection.dialect.name
    return int(
        connection.execute(
            _unfinished(dialect),
            {"names": _names(dialect, names), "now": now, "due_by": due_by or now},
        ).scalar_one()
    )


@lru_cache(maxsize=4)
def _unfinished(dialect: str) -> Any:
    return (
        select(func.count())
        .select_from(sources)
        .where(
            _named(dialect),
            sources.c.disabled_reason.is_(None),
            or_(
                sources.c.lease_until >= bindparam("now"),
                sources.c.next_check_at.is_(None),
                sources.c.next_check_at <= bindparam("due_by"),
            ),
        )
    )


def release(connection: Connection, source_ids: Sequence[int]) -> None:
    """Give up the leases of sources that were claimed but not polled."""
    connection.execute(
        update(sources).where(sources.c.id.in_(list(source_ids))).values(lease_until=None)
    )


def enable(connection: Connection, name: str, now: datetime) -> bool:
    """Clear a source's disabled reason (after a 410 the operator can try again); its
    health is ok and known to be (the operator needs no notice of their own act)."""
    result = connection.execute(
        update(sources)
        .where(sources.c.name == name)
        .values(
            disabled_reason=None,
            errors=0,
            next_check_at=now,
            health="ok",
            health_reason=None,
            failing_since=None,
            announced="ok",
        )
    )
    return result.rowcount > 0


def note_hold(connection: Connection, source_id: int, reason: str) -> None:
    """Mark a source whose new items are held for the operator (``flooding`` or
    ``unstable_identity``); ``status`` shows it until :func:`clear_hold`."""
    if reason not in HOLD_REASONS:
        raise ValueError(f"a hold's reason is one of {sorted(HOLD_REASONS)}, not {reason!r}")
    connection.execute(
        update(sources).where(sources.c.id == source_id).values(health_reason=reason)
    )


def clear_hold(connection: Connection, source_id: int) -> None:
    """The operator released or discarded a source's held items."""
    connection.execute(
        update(sources)
        .where(sources.c.id == source_id, sources.c.health_reason.in_(HOLD_REASONS))
        .values(health_reason=None)
    )
