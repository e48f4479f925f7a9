"""``newsbote filter-test``: a route's filters tried on the recent items of its sources.

The items come from the store as they were recorded (title, content, summary, author,
categories, link, published date); nothing is fetched and nothing is changed.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from newsbote.config.load import LoadedConfig
from newsbote.errors import ConfigError
from newsbote.route import check_route
from newsbote.route.decision import subject_of
from newsbote.store import Store
from newsbote.store.schema import items, sources
from newsbote.types import Entry, Item, KeyKind

MAX_LIMIT = 1000
"""The most items one trial reads."""


@dataclass(frozen=True, slots=True)
class TrialResult:
    """One recent item and what the route's filters make of it."""

    source: str
    title: str
    link: str | None
    first_seen: datetime
    passed: bool
    reason: str
    """The deciding condition (``title contains "Linux"``), or why nothing was checked."""


def _recent(connection: Connection, names: list[str], limit: int) -> list[Any]:
    query = (
        select(
            items.c.key,
            items.c.key_kind,
            items.c.canonical_url,
            items.c.link,
            items.c.title,
            items.c.author,
            items.c.published,
            items.c.content_html,
            items.c.summary_html,
            items.c.categories,
            items.c.fingerprint,
            items.c.first_seen_at,
            sources.c.name.label("source"),
        )
        .join(sources, sources.c.id == items.c.source_id)
        .where(sources.c.name.in_(names))
        .order_by(items.c.first_seen_at.desc(), items.c.id.desc())
        .limit(limit)
    )
    return list(connection.execute(query).all())


def _categories(stored: str) -> tuple[str, ...]:
    try:
        found = json.loads(stored)
    except ValueError:
        return ()
    return tuple(c for c in found if isinstance(c, str)) if isinstance(found, list) else ()


def _item(row: Any) -> Item:
    entry = Entry(
        guid=None,
        link=row.link,
        title=row.title,
        # stored empty when it was the content (see store.items)
        content_html=row.content_html,
        summary_html=row.summary_html or row.content_html,
        author=row.author,
        published=row.published,
        categories=_categories(row.categories),
    )
    try:
        kind = KeyKind(row.key_kind)
    except ValueError:
        kind = KeyKind.GUID
    return Item(row.source, row.key, kind, row.canonical_url, entry, row.fingerprint)


def filter_test(
    loaded: LoadedConfig,
    store: Store,
    route: int,
    *,
    source: str | None,
    limit: int,
    now: datetime | None = None,
) -> list[TrialResult]:
    """The ``limit`` most recently seen items of route ``route``'s sources (1-based, as
    ``why`` counts routes), or of ``source`` alone, newest first, each with whether it
    passes the route's words and filter and the condition that decided."""
    config = loaded.config
    if not 1 <= route <= len(config.routes):
        raise ConfigError(
            f"no route {route}: the config has {len(config.routes)} route(s), counted from 1",
            file=str(loaded.path),
            key="routes",
        )
    chosen = config.routes[route - 1]
    known = [s.name for s in config.sources]
    names = known if "*" in chosen.sources else list(chosen.sources)
    if source is not None:
        if source not in names:
            close = difflib.get_close_matches(source, names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "its sources: " + ", ".join(names)
            raise ConfigError(
                f"route {route} does not take source {source!r}",
                file=str(loaded.path),
                key="routes.sources",
                hint=hint,
            )
        names = [source]
    rows = store.read_now(_recent, names, max(0, min(limit, MAX_LIMIT)))
    moment = now or datetime.now(UTC)
    results: list[TrialResult] = []
    for row in rows:
        item = _item(row)
        settings = next((s for s in config.sources if s.name == row.source), None)
        language = (settings.language if settings else None) or config.language
        subject = subject_of(item, language=language, now=moment, first_seen=row.first_seen_at)
        check = check_route(chosen, subject)
        reason = check.reason or "no words or filter: every item passes"
        results.append(
            TrialResult(
                source=row.source,
                title=row.title,
                link=row.link,
                first_seen=row.first_seen_at,
                passed=check.passed,
                reason=reason,
            )
        )
    return results
