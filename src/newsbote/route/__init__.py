"""Route: which destinations an item goes to, by the config's routes and their filters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from newsbote.config.schema import RouteConfig
from newsbote.types import Item


@dataclass(frozen=True, slots=True)
class Target:
    """One destination an item is routed to, and the route that sent it there."""

    destination: str
    route: RouteConfig


@lru_cache(maxsize=1024)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w.strip()) for w in words if w.strip())
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _haystack(item: Item) -> str:
    entry = item.entry
    return " ".join((entry.title, entry.plain, " ".join(entry.categories)))


def routes_for(routes: Sequence[RouteConfig], source: str) -> list[RouteConfig]:
    return [r for r in routes if "*" in r.sources or source in r.sources]


def route_item(item: Item, routes: Sequence[RouteConfig]) -> tuple[list[Target], list[str]]:
    """The destinations for ``item`` and, for ``why``, the reasons routes let it pass or not."""
    targets: list[Target] = []
    reasons: list[str] = []
    text: str | None = None
    seen: set[str] = set()
    for index, route in enumerate(routes_for(routes, item.source), start=1):
        if route.include or route.exclude:
            text = text if text is not None else _haystack(item)
            if route.include and not _word_pattern(tuple(route.include)).search(text):
                reasons.append(
                    f"route {index}: no include word matched ({', '.join(route.include)})"
                )
                continue
            if route.exclude:
                hit = _word_pattern(tuple(route.exclude)).search(text)
                if hit:
                    reasons.append(f"route {index}: excluded by the word {hit.group(0)!r}")
                    continue
        for destination in route.destinations:
            if destination not in seen:
                seen.add(destination)
                targets.append(Target(destination, route))
        reasons.append(f"route {index}: to {', '.join(route.destinations)}")
    return targets, reasons
