"""Read-only questions the operator asks: ``status`` and ``why``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, or_, select

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


def explain(connection: Connection, query: str) -> list[Explanation]:
    """Items whose key, link or canonical link is ``query``."""
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
        result.append(Explanation(item, source, list(item_events), list(item_deliveries)))
    return result
