"""The fate of an item at a destination: one of a fixed set of outcomes, with the detail
that decided it, derived from what the store knows (the item's decision and reason, its
version, and its ledger rows there). ``why``, the JSON API and the control panel show the
same outcomes.

One item has one fate per destination: the fate of the ledger row of its latest version
there; without a row, what the item's decision says (the first-run guard, a filter, a
duplicate). A destination the item has no row for and no decision about was routed after
the item was known: it is ``unchanged`` there (only new items and updates are posted).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from newsbote.outbox import DISCARDED, HOLD_APPROVAL
from newsbote.types import Decision, DeliveryState

__all__ = ["Fate", "Judged", "fate_of", "fates"]


class Fate(enum.StrEnum):
    """What became of an item at a destination."""

    POSTED = "posted"
    WOULD_POST = "would post"
    """Queued (or being sent): it goes out at the next delivery round."""
    HELD_FIRST_RUN = "held by the first-run guard"
    HELD_APPROVAL = "held for approval"
    HELD_FLOOD = "held as a flood"
    """Held with the rest of a poll: a flood, or ids that changed at once (unstable identity)."""
    PREVIOUSLY_SEEN = "previously seen"
    """A duplicate of an item already there (from another source), by its canonical link."""
    UNCHANGED = "unchanged"
    UPDATE_IGNORED = "update ignored by policy"
    TOO_OLD = "too old"
    BLOCKED = "blocked by filter"
    OVER_DAILY_CAP = "over the daily cap"
    FAILING = "destination failing"
    DEAD = "dead"
    """Never to be sent: a permanent error, too many attempts, skipped or discarded."""


@dataclass(frozen=True, slots=True)
class Judged:
    """One item's fate at one destination (None: at every destination it would go to)."""

    destination: str | None
    fate: Fate
    detail: str
    delivery: int | None = None
    """The ledger row that decided, if one did."""


_ROW_FATES = {
    DeliveryState.PENDING.value: Fate.WOULD_POST,
    DeliveryState.SENDING.value: Fate.WOULD_POST,
    DeliveryState.FAILED.value: Fate.FAILING,
    DeliveryState.UNKNOWN.value: Fate.FAILING,
    DeliveryState.DEAD.value: Fate.DEAD,
    DeliveryState.SKIPPED.value: Fate.DEAD,
}
_AGE = "blocked by the filter: older than "
"""How a route's reason begins where its filter's ``max_age`` blocked (route.decision)."""


def fate_of(item: Any, row: Any | None, route: int | None = None) -> Judged:
    """The fate of ``item`` (a stored item row) at ``row``'s destination, from ``row``
    (the ledger row of its latest version there); without a row, from the item's
    decision, for the route numbered ``route`` (counted from 1 among the source's routes,
    as the item's reason counts them) or, with None, for all of them."""
    if row is None:
        return _without_row(item, route)
    where = row.destination
    state = row.state
    if state == DeliveryState.SENT.value:
        link = row.remote_url or row.remote_id or "no link"
        if item.version > row.version:
            return Judged(
                where,
                Fate.UPDATE_IGNORED,
                f"version {item.version} not passed on (the route's update policy or "
                f"min_change); version {row.version} {_done(row.action)}: {link}",
                row.id,
            )
        return Judged(where, Fate.POSTED, f"{_done(row.action)}: {link}", row.id)
    note = row.last_error or ""
    if state == DeliveryState.HELD.value:
        fate = Fate.HELD_APPROVAL if note.startswith(HOLD_APPROVAL) else Fate.HELD_FLOOD
        return Judged(where, fate, note or "held", row.id)
    if state == DeliveryState.PENDING.value and note.startswith("over the daily cap"):
        return Judged(where, Fate.OVER_DAILY_CAP, note, row.id)
    fate = _ROW_FATES.get(state, Fate.FAILING)
    if fate is Fate.WOULD_POST:
        detail = (
            "being sent now"
            if state == DeliveryState.SENDING.value
            else f"queued to {row.action} (version {row.version})"
        )
    elif state == DeliveryState.UNKNOWN.value:
        detail = f"whether it arrived is unknown: {note or 'no answer'}"
    elif state == DeliveryState.SKIPPED.value:
        detail = note if note.startswith(DISCARDED) else "skipped by the operator"
    else:
        detail = f"{note or 'no error recorded'} (after {row.attempts} attempt(s))"
    return Judged(where, fate, detail, row.id)


def _done(action: str) -> str:
    return {"edit": "edited", "reply": "replied"}.get(action, "posted")


def _route_parts(reason: str) -> dict[int, str]:
    """The item reason's word per route: ``route 2: blocked by …`` as {2: "blocked by …"}."""
    parts: dict[int, str] = {}
    for part in f"; {reason}".split("; route ")[1:]:
        number, _, said = part.partition(": ")
        if number.isdigit():
            parts.setdefault(int(number), said)
    return parts


def _blocked(said: str) -> bool:
    return said.startswith(("blocked by the filter", "no include word", "excluded by the word"))


def _without_row(item: Any, route: int | None) -> Judged:
    decision, reason = item.decision, item.reason or ""
    if decision == Decision.SEEN.value:
        return Judged(None, Fate.HELD_FIRST_RUN, reason)
    if decision == Decision.DUPLICATE.value:
        return Judged(None, Fate.PREVIOUSLY_SEEN, reason)
    if decision == Decision.RENDER_FAILED.value:
        return Judged(None, Fate.DEAD, f"its message could not be rendered: {reason}")
    if decision == Decision.UNROUTED.value:
        return Judged(None, Fate.BLOCKED, reason)
    parts = _route_parts(reason)
    blocked = {n: said for n, said in parts.items() if _blocked(said)}
    if route is not None:
        blocked = {route: blocked[route]} if route in blocked else {}
    if blocked:
        old = all(said.startswith(_AGE) for said in blocked.values())
        detail = "; ".join(f"route {n}: {said}" for n, said in sorted(blocked.items()))
        return Judged(None, Fate.TOO_OLD if old else Fate.BLOCKED, detail)
    if decision == Decision.FILTERED.value:
        return Judged(None, Fate.BLOCKED, reason)
    return Judged(
        None,
        Fate.UNCHANGED,
        "nothing queued here: the item was known before this destination was routed, and "
        "newsbote posts new items and their updates only",
    )


def fates(item: Any, rows: Sequence[Any], routes: Sequence[Sequence[str]] = ()) -> list[Judged]:
    """An item's fate at each destination it has ledger rows for, and at each destination
    of ``routes`` (the destinations of the source's routes, in order), or, with neither,
    its one fate everywhere."""
    latest: dict[str, Any] = {}
    for row in rows:
        seen = latest.get(row.destination)
        if seen is None or (row.version, row.id) > (seen.version, seen.id):
            latest[row.destination] = row
    judged = [fate_of(item, row) for row in latest.values()]
    for number, destinations in enumerate(routes, start=1):
        for destination in destinations:
            if destination in latest or any(j.destination == destination for j in judged):
                continue
            found = fate_of(item, None, number)
            judged.append(Judged(destination, found.fate, found.detail))
    if not judged:
        judged.append(fate_of(item, None))
    return judged
