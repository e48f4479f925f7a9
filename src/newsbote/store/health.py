"""Health in the store: destinations' states, and announcing every change once.

A source's health lives in its row (:mod:`newsbote.store.sources`); a destination's in
``destination_health`` (a destination lives in the config: a row exists once it failed).
:func:`announce` turns every state the operator was not yet told of into a notice
(:mod:`newsbote.store.notices`); the ``announced`` column is moved by a conditional
UPDATE, so of several processes exactly one writes each notice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from newsbote import health as machine
from newsbote.health import Health, Language
from newsbote.store.notices import add_notice, destination_subject, source_subject
from newsbote.store.schema import deliveries, destination_health, notices, sources
from newsbote.store.sources import health_of
from newsbote.types import DeliveryState


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one delivery round did at one destination."""

    arrived: int
    error: str | None = None
    """The round's first error, if nothing arrived."""
    permanent: bool = False
    failed: tuple[int, ...] = ()
    """The ledger rows that failed in the round: if the destination is disabled for
    their errors, they wait (pending) instead of being given up."""


def _destination(row: Any) -> Health:
    return Health(
        name=row.destination,
        state=row.state,
        since=row.since,
        failures=row.failures,
        last_error=row.last_error,
        reason=row.reason,
        reason_text=row.reason_text,
        announced=row.announced,
    )


def destination_states(connection: Connection) -> dict[str, Health]:
    """Every destination that ever failed, by name (the others are ok)."""
    return {
        row.destination: _destination(row) for row in connection.execute(select(destination_health))
    }


def disabled_destinations(connection: Connection) -> set[str]:
    """The names of disabled destinations: nothing is claimed for them."""
    return set(
        connection.execute(
            select(destination_health.c.destination).where(destination_health.c.state == "disabled")
        ).scalars()
    )


def _upsert(connection: Connection, health: Health, now: datetime, config_hash: str | None) -> None:
    values = {
        "state": health.state,
        "since": health.since,
        "failures": health.failures,
        "last_error": health.last_error,
        "last_error_at": now if health.last_error else None,
        "reason": health.reason,
        "reason_text": health.reason_text,
        "announced": health.announced,
        "config_hash": config_hash,
        "updated_at": now,
    }
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(destination_health).values(destination=health.name, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=["destination"], set_=values))


def record_rounds(
    connection: Connection,
    results: Mapping[str, RoundResult],
    now: datetime,
    config_hashes: Mapping[str, str] | None = None,
) -> dict[str, Health]:
    """Record a delivery round's results per destination; the healths that changed."""
    current = destination_states(connection)
    changed: dict[str, Health] = {}
    for name, result in sorted(results.items()):
        before = current.get(name, Health(name))
        after = machine.destination_round(
            before,
            now=now,
            arrived=result.arrived,
            error=result.error,
            permanent=result.permanent,
        )
        if after != before:
            _upsert(connection, after, now, (config_hashes or {}).get(name))
            changed[name] = after
            if after.state == "disabled" and result.failed:
                _keep_waiting(connection, result.failed, now)
    return changed


def _keep_waiting(connection: Connection, ids: Sequence[int], now: datetime) -> None:
    """Deliveries refused by a destination now disabled are not its posts' fault: back to
    pending (not dead), sent once the destination is enabled again."""
    connection.execute(
        update(deliveries)
        .where(
            deliveries.c.id.in_(list(ids)),
            deliveries.c.state.in_((DeliveryState.DEAD.value, DeliveryState.FAILED.value)),
        )
        .values(state=DeliveryState.PENDING.value, next_attempt_at=now, updated_at=now)
    )


def enable_destination(connection: Connection, name: str, now: datetime) -> bool:
    """Enable a disabled (or failing) destination again; False if it was ok."""
    row = connection.execute(
        select(destination_health).where(destination_health.c.destination == name)
    ).first()
    if row is None or row.state == "ok":
        return False
    _upsert(connection, machine.enabled(_destination(row)), now, None)
    return True


def sync_destinations(
    connection: Connection, config_hashes: Mapping[str, str], now: datetime
) -> list[str]:
    """Enable the disabled destinations whose config changed since (the operator fixed
    the token, say); their names. A destination no longer configured keeps its row."""
    enabled: list[str] = []
    for name, health in destination_states(connection).items():
        if health.state != "disabled" or name not in config_hashes:
            continue
        stored = connection.execute(
            select(destination_health.c.config_hash).where(destination_health.c.destination == name)
        ).scalar()
        if stored is not None and stored != config_hashes[name]:
            _upsert(connection, machine.enabled(health), now, None)
            enabled.append(name)
    return enabled


# -- announcing ------------------------------------------------------------------------


def _source_due(notify_after: int) -> Any:
    return or_(
        and_(sources.c.health == "disabled", sources.c.announced != "disabled"),
        and_(
            sources.c.health == "failing",
            sources.c.errors >= notify_after,
            sources.c.announced != "failing",
        ),
        and_(sources.c.health == "ok", sources.c.announced != "ok"),
    )


def _destination_due(notify_after: int) -> Any:
    table = destination_health.c
    return or_(
        and_(table.state == "disabled", table.announced != "disabled"),
        and_(
            table.state == "failing", table.failures >= notify_after, table.announced != "failing"
        ),
        and_(table.state == "ok", table.announced != "ok"),
    )


def unannounced(connection: Connection, notify_after: int) -> int:
    """How many health changes wait to be announced (a read, to skip a write when none)."""
    count = connection.execute(
        select(func.count()).select_from(sources).where(_source_due(notify_after))
    ).scalar_one()
    count += connection.execute(
        select(func.count()).select_from(destination_health).where(_destination_due(notify_after))
    ).scalar_one()
    return int(count)


def announce(
    connection: Connection,
    *,
    language: Language,
    notify_after: int,
    disable_after: float,
    now: datetime,
    configured: Sequence[str] | None = None,
) -> list[int]:
    """Write a notice for every health change not yet announced; the notices' ids.

    ``configured`` (the source names in the config) leaves out rows of sources removed
    from it. Each change is claimed by moving ``announced`` with a conditional UPDATE:
    a second process finds it moved and writes nothing.
    """
    written: list[int] = []
    for row in connection.execute(select(sources).where(_source_due(notify_after))).all():
        if configured is not None and row.name not in configured:
            continue
        health = health_of(row)
        target = machine.due_announcement(health, notify_after)
        if target is None:
            continue
        claimed = connection.execute(
            update(sources)
            .where(sources.c.id == row.id, sources.c.announced == health.announced)
            .values(announced=target)
        ).rowcount
        if claimed:
            text = machine.source_text(
                health,
                target,
                language,
                http_status=row.http_status,
                disable_after=disable_after,
            )
            written.append(
                add_notice(
                    connection,
                    kind=text.kind,
                    subject=source_subject(health.name),
                    text=text.title + "\n\n" + text.text,
                    now=now,
                )
            )
    table = destination_health.c
    for row in connection.execute(
        select(destination_health).where(_destination_due(notify_after))
    ).all():
        health = _destination(row)
        target = machine.due_announcement(health, notify_after)
        if target is None:
            continue
        claimed = connection.execute(
            update(destination_health)
            .where(table.destination == health.name, table.announced == health.announced)
            .values(announced=target)
        ).rowcount
        if claimed:
            text = machine.destination_text(health, target, language)
            written.append(
                add_notice(
                    connection,
                    kind=text.kind,
                    subject=destination_subject(health.name),
                    text=text.title + "\n\n" + text.text,
                    now=now,
                )
            )
    return written


def open_problems(
    connection: Connection, configured: Sequence[str] | None = None
) -> tuple[list[Health], list[Health]]:
    """The sources and destinations not ok now."""
    found = [
        health_of(row)
        for row in connection.execute(
            select(sources).where(sources.c.health != "ok").order_by(sources.c.name)
        )
    ]
    if configured is not None:
        found = [h for h in found if h.name in configured]
    destinations = sorted(
        (h for h in destination_states(connection).values() if h.state != "ok"),
        key=lambda h: h.name,
    )
    return found, destinations


def add_digest(
    connection: Connection, *, since: datetime, language: Language, now: datetime
) -> int | None:
    """Write today's digest of open problems, unless one was written since ``since``
    (today's digest time) or nothing is open; its notice id."""
    if connection.dialect.name == "postgresql":  # two processes: one digest
        connection.execute(select(func.pg_advisory_xact_lock(func.hashtext("newsbote.digest"))))
    done = connection.execute(
        select(func.count())
        .select_from(notices)
        .where(notices.c.kind == "digest", notices.c.created_at >= since)
    ).scalar_one()
    if done:
        return None
    found, destinations = open_problems(connection)
    text = machine.digest_text(found, destinations, language)
    if text is None:
        return None
    return add_notice(
        connection, kind="digest", subject="digest", text=text.title + "\n\n" + text.text, now=now
    )


__all__ = [
    "RoundResult",
    "add_digest",
    "announce",
    "destination_states",
    "disabled_destinations",
    "enable_destination",
    "open_problems",
    "record_rounds",
    "sync_destinations",
    "unannounced",
]
