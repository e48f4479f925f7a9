"""Read-only questions the operator asks: ``status`` and ``why``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, or_, select

from newsbote.fate import Judged, fates
from newsbote.identify import canonical_url
from newsbote.store.schema import deliveries, events, items, sources


def source_rows(connection: Connection) -> list[Any]:
    return list(connection.execute(select(sources).order_by(sources.c.name)).all())


def item_counts(connection: Connection) -> dict[int, int]:
    rows = connection.execute(
        select(items.c.source_id, func.count()).group_by(items.c.source_id)
    ).all()
    return dict(rows)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything the store knows about one item."""

    item: Any
    source: Any
    events: list[Any]
    deliveries: list[Any]
    fates: list[Judged] = field(default_factory=list)
    """Its fate at each destination (:func:`newsbote.fate.fates`)."""


def explain(
    connection: Connection,
    query: str,
    routes: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> list[Explanation]:
    """Items whose key, link or canonical link is ``query``, each with its fate at each
    destination; ``routes`` gives, by source name, the destinations of its routes in
    order (without it, only destinations with ledger rows have a fate of their own)."""
    canonical = canonical_url(query)
    conditions = [items.c.key == query, items.c.link == query]
    if canonical:
        conditions.append(items.c.canonical_url == canonical)
    if query.isdigit():
        conditions.append(items.c.id == int(query))
    found = connection.execute(select(items).where(or_(*conditions)).order_by(items.c.id)).all()
    result = []
    for item in found:
        source = connection.execute(select(sources).where(sources.c.id == item.source_id)).one()
        item_events = connection.execute(
            select(events).where(events.c.item_id == item.id).order_by(events.c.at, events.c.id)
        ).all()
        item_deliveries = connection.execute(
            select(deliveries).where(deliveries.c.item_id == item.id).order_by(deliveries.c.id)
        ).all()
        judged = fates(item, item_deliveries, (routes or {}).get(source.name, ()))
        result.append(Explanation(item, source, list(item_events), list(item_deliveries), judged))
    return result
