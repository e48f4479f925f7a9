"""Whether an item passes a filter tree, and the facts about it that decided."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from newsbote.route.filters import (
    VERBS,
    Any,
    Condition,
    Filter,
    MaxAge,
    Not,
    age_text,
    normalize,
    quoted,
)
from newsbote.types import Item


@dataclass(frozen=True, slots=True)
class Subject:
    """What a filter looks at: an item's fields as text, its date and the time of asking."""

    title: str
    summary: str
    content: str
    author: str
    categories: tuple[str, ...]
    link: str
    language: str
    date: datetime | None
    date_kind: str
    """Which date ``date`` is: "published", "updated" or "first seen"."""
    now: datetime
    folded_values: dict[str, tuple[str, ...]] = dataclasses.field(
        default_factory=dict, repr=False, compare=False, hash=False
    )
    """The fields already folded by :func:`normalize`: each is folded once, however many
    conditions and routes look at it."""

    def values(self, name: str) -> tuple[str, ...]:
        if name == "categories":
            return self.categories
        return (cast(str, getattr(self, name)),)

    def folded(self, name: str) -> tuple[str, ...]:
        found = self.folded_values.get(name)
        if found is None:
            found = self.folded_values[name] = tuple(map(normalize, self.values(name)))
        return found


def subject_of(
    item: Item, *, language: str | None, now: datetime, first_seen: datetime | None = None
) -> Subject:
    """What a filter sees of ``item``: ``first_seen`` defaults to ``now`` (a new item)."""
    from newsbote.enrich.sanitize import plain_text

    entry = item.entry
    summary = entry.summary_html
    dated = [
        (kind, value)
        for kind, value in (
            ("published", entry.published),
            ("updated", entry.updated),
            ("first seen", first_seen or now),
        )
        if value is not None
    ]
    kind, date = dated[0]
    return Subject(
        title=entry.title,
        summary=plain_text(summary) if summary and summary != entry.content_html else entry.plain,
        content=entry.plain,
        author=entry.author or "",
        categories=entry.categories,
        link=entry.link or item.canonical_url or "",
        language=language or "",
        date=date,
        date_kind=kind,
        now=now,
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether an item passes, and ``reason``: the facts about it that decided, each true."""

    passed: bool
    reason: str


def evaluate(tree: Filter, subject: Subject) -> Decision:
    """Whether ``subject`` passes ``tree``, with the facts that decided it.

    Every reason states what holds for the item (``title contains "Linux"``, ``categories
    do not equal "Anzeige"``), so a ``not`` keeps its inner reason and flips the verdict, and
    facts join with "and" without parentheses. ``all`` is decided by its first failing
    child (or, passing, by all of them); ``any`` by its first passing child (or, failing,
    by all of them).
    """
    if isinstance(tree, Condition):
        return _condition(tree, subject)
    if isinstance(tree, MaxAge):
        return _max_age(tree, subject)
    if isinstance(tree, Not):
        inner = evaluate(tree.filter, subject)
        return Decision(not inner.passed, inner.reason)
    wanted = isinstance(tree, Any)
    reasons: list[str] = []
    for child in tree.filters:
        decision = evaluate(child, subject)
        if decision.passed is wanted:
            return decision
        reasons.append(decision.reason)
    return Decision(not wanted, " and ".join(reasons))


def _condition(condition: Condition, subject: Subject) -> Decision:
    values = subject.values(condition.field)
    seen = values if condition.op == "matches" else subject.folded(condition.field)
    yes, no = VERBS[condition.op]
    value = quoted(condition.value)
    for text, looked_at in zip(values, seen, strict=True):
        if condition.matcher(looked_at):
            if condition.field == "categories":
                return Decision(True, f"category {quoted(text)} {yes} {value}")
            return Decision(True, f"{condition.field} {yes} {value}")
    if condition.field == "categories":
        if not values:
            return Decision(False, f"no categories (so none {yes} {value})")
        return Decision(False, f"no category {yes} {value}")
    return Decision(False, f"{condition.field} {no} {value}")


def _max_age(limit: MaxAge, subject: Subject) -> Decision:
    age = age_text(limit.seconds)
    if subject.date is None:
        return Decision(True, f"no date, so not older than {age}")
    date = subject.date if subject.date.tzinfo is not None else subject.date.replace(tzinfo=UTC)
    when = f"{subject.date_kind} {date.astimezone(UTC).strftime('%Y-%m-%d %H:%M')} UTC"
    older = (subject.now - date).total_seconds() > limit.seconds
    if older:
        return Decision(False, f"older than {age} ({when})")
    return Decision(True, f"not older than {age} ({when})")
