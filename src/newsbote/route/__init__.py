"""Route: which destinations an item goes to, by the config's routes and their filters.

A route's ``include`` and ``exclude`` words are checked first, then its ``filter`` tree
(:mod:`newsbote.route.filters`). Everything matched against an item's text runs in RE2 or
plain string comparison: no backtracking over a stranger's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

import re2

from newsbote.route.decision import Decision, Subject, evaluate, subject_of
from newsbote.route.filters import Filter, word_pattern
from newsbote.types import Item

if TYPE_CHECKING:  # the config's schema imports the filter language from this package
    from newsbote.config.schema import RouteConfig

__all__ = [
    "Decision",
    "Filter",
    "RouteCheck",
    "Target",
    "check_route",
    "route_item",
    "routes_for",
    "subject_of",
]


@dataclass(frozen=True, slots=True)
class Target:
    """One destination an item is routed to, and the route that sent it there."""

    destination: str
    route: RouteConfig


@dataclass(frozen=True, slots=True)
class RouteCheck:
    """Whether an item passes one route, and the reason ``why`` and ``filter-test`` show."""

    passed: bool
    reason: str


@lru_cache(maxsize=1024)
def _words(words: tuple[str, ...]) -> tuple[tuple[str, re2._Regexp[str]], ...]:
    """Each word with its compiled RE2 whole-word pattern, compiled once per word list."""
    found: list[tuple[str, re2._Regexp[str]]] = []
    for word in words:
        pattern = word_pattern(word)
        if pattern is not None:
            found.append((word.strip(), pattern))
    return tuple(found)


def _first_word(words: Sequence[str], text: str) -> str | None:
    for word, pattern in _words(tuple(words)):
        if pattern.search(text) is not None:
            return word
    return None


def _haystack(subject: Subject) -> str:
    """Title, text and categories, folded: what include and exclude words are found in."""
    return " ".join(
        (*subject.folded("title"), *subject.folded("content"), *subject.folded("categories"))
    )


def check_route(route: RouteConfig, subject: Subject) -> RouteCheck:
    """Whether ``subject`` passes ``route``'s include and exclude words, then its filter."""
    if route.include or route.exclude:
        text = _haystack(subject)
        if route.include and _first_word(route.include, text) is None:
            return RouteCheck(False, f"no include word matched ({', '.join(route.include)})")
        hit = _first_word(route.exclude, text) if route.exclude else None
        if hit is not None:
            return RouteCheck(False, f"excluded by the word {hit!r}")
    if route.filter is None:
        return RouteCheck(True, "")
    decision: Decision = evaluate(route.filter, subject)
    if decision.passed:
        return RouteCheck(True, f"passed the filter: {decision.reason}")
    return RouteCheck(False, f"blocked by the filter: {decision.reason}")


def routes_for(routes: Sequence[RouteConfig], source: str) -> list[RouteConfig]:
    return [r for r in routes if "*" in r.sources or source in r.sources]


def route_item(
    item: Item,
    routes: Sequence[RouteConfig],
    *,
    language: str | None = None,
    now: datetime | None = None,
) -> tuple[list[Target], list[str]]:
    """The destinations for ``item`` and, for ``why``, the reasons routes let it pass or not.

    ``language`` is the source's language (what a filter on ``language`` sees); ``now`` is
    the time ``max_age`` measures from (default: the clock).
    """
    targets: list[Target] = []
    reasons: list[str] = []
    seen: set[str] = set()
    subject: Subject | None = None
    for index, route in enumerate(routes_for(routes, item.source), start=1):
        if route.include or route.exclude or route.filter is not None:
            if subject is None:
                subject = subject_of(item, language=language, now=now or datetime.now(UTC))
            check = check_route(route, subject)
            if not check.passed:
                reasons.append(f"route {index}: {check.reason}")
                continue
            passed = f"{check.reason}; " if check.reason else ""
        else:
            passed = ""
        for destination in route.destinations:
            if destination not in seen:
                seen.add(destination)
                targets.append(Target(destination, route))
        reasons.append(f"route {index}: {passed}to {', '.join(route.destinations)}")
    return targets, reasons
