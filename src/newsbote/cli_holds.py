"""``newsbote held | release | discard`` (the deliveries that wait for the operator) and
``newsbote why`` (every item's fate at each destination, and what decided it).

Registered in :mod:`newsbote.cli` as::

    app.command("held")(held_command)
    app.command("release")(release_command)
    app.command("discard")(discard_command)
    app.command("why")(why_command)

Each takes the command line's helpers from there when it runs, so ``cli`` may import
this module at its top.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from newsbote import outbox
from newsbote.errors import NewsboteError
from newsbote.identify import canonical_url
from newsbote.route import routes_for
from newsbote.store.queries import Explanation, explain

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: newsbote.toml or $NEWSBOTE_CONFIG)"),
]
Ids = Annotated[list[int] | None, typer.Argument(help="held delivery ids")]
SourceOption = Annotated[
    str | None, typer.Option("--source", "-s", help="every held delivery of this source")
]
AllOption = Annotated[bool, typer.Option("--all", help="every held delivery")]


def held_command(
    source: Annotated[str | None, typer.Option("--source", "-s", help="only this source")] = None,
    destination: Annotated[
        str | None, typer.Option("--destination", "-d", help="only this destination")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """List the deliveries held for the operator (a flood, changed ids, a route's
    approval), with why; newsbote release or newsbote discard settles them."""
    from newsbote.cli import _known_names, _load, _store, _when, console, shown, shown_markup

    loaded = _load(config)
    store = _store(loaded)
    try:
        rows = store.call(outbox.held, source=source, destination=destination)
        if not rows:
            _known_names(loaded, store, destination=destination, source=source)
    finally:
        store.close()
    if not rows:
        console.print("no delivery is held")
        return
    table = Table(title=f"held deliveries: {len(rows)}", title_justify="left")
    for column in ("id", "source", "destination", "item", "held since", "why"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.id),
            shown_markup(row.source),
            shown_markup(f"{row.destination} ({row.action} v{row.version})"),
            shown_markup(shown(row.title)[:60]),
            _when(row.created_at),
            shown_markup(shown(row.reason or "")),
        )
    console.print(table)
    console.print(
        "newsbote release ID… | --source NAME | --all sends them; newsbote discard … never does",
        highlight=False,
    )


def release_command(
    ids: Ids = None,
    source: SourceOption = None,
    every: AllOption = False,
    config: ConfigOption = None,
) -> None:
    """Send held deliveries: the named ones, a source's, or all."""
    _settle(outbox.release, "released (they go out at the next round)", ids, source, every, config)


def discard_command(
    ids: Ids = None,
    source: SourceOption = None,
    every: AllOption = False,
    config: ConfigOption = None,
) -> None:
    """Never send held deliveries (recorded as discarded): the named ones, a source's, or all."""
    _settle(outbox.discard, "discarded (never sent)", ids, source, every, config)


def _settle(
    change: Callable[..., outbox.Change],
    done: str,
    ids: list[int] | None,
    source: str | None,
    every: bool,
    config: Path | None,
) -> None:
    from newsbote.cli import _fail, _known_names, _load, _report_change, _store, console

    chosen = sum((bool(ids), source is not None, every))
    if chosen != 1:
        raise _fail(
            NewsboteError("name held delivery ids, or --source NAME, or --all: one of them")
        )
    loaded = _load(config)
    store = _store(loaded)
    try:
        if source is not None:
            _known_names(loaded, store, destination=None, source=source)
        result = store.call(
            change, now=datetime.now(UTC), ids=ids or [], source=source, every=every
        )
    finally:
        store.close()
    if not ids and not result.changed:
        console.print("no delivery is held" + (f" for source {source!r}" if source else ""))
        return
    _report_change(result, done, "only a held delivery is released or discarded")


def why_command(query: str, config: ConfigOption = None) -> None:
    """Explain an item (by URL, key or id): identity, first run, route, and its fate at
    each destination with what decided it."""
    from newsbote.cli import _load, _store, errors, shown_markup

    loaded = _load(config)
    routes = {
        source.name: [route.destinations for route in routes_for(loaded.config.routes, source.name)]
        for source in loaded.config.sources
    }
    store = _store(loaded)
    try:
        found = store.call(explain, query, routes)
    finally:
        store.close()
    if not found:
        errors.print(
            f"no stored item has the key, link or id {shown_markup(repr(query))} "
            f"(canonical form: {shown_markup(canonical_url(query))})",
            highlight=False,
        )
        raise typer.Exit(1)
    for explanation in found:
        show_why(explanation)


def why_lines(explanation: Explanation) -> list[str]:
    """What ``why`` says of one item, line by line (unescaped: the caller makes it safe)."""
    from newsbote.cli import _when

    item = explanation.item
    lines = [
        item.title or "",
        f"source:      {explanation.source.name}",
        f"identified:  by {item.key_kind} {item.key!r}",
        f"link:        {item.link or '–'} (canonical {item.canonical_url or '–'})",
        f"first seen:  {_when(item.first_seen_at)}; version {item.version}",
        f"decision:    {item.decision}: {item.reason}",
    ]
    for event in explanation.events:
        lines.append(f"event:       {_when(event.at)} {event.kind}: {event.message}")
    for row in explanation.deliveries:
        remote = f" → {row.remote_url or row.remote_id}" if row.remote_id else ""
        error = f" ({row.last_error})" if row.last_error else ""
        lines.append(
            f"delivery:    #{row.id} {row.destination} v{row.version} {row.action}: "
            f"{row.state} after {row.attempts} attempt(s){remote}{error}"
        )
    if not explanation.deliveries:
        lines.append("delivery:    none queued")
    for judged in explanation.fates:
        where = judged.destination or "every destination"
        lines.append(f"outcome:     {where}: {judged.fate.value}: {judged.detail}")
    return lines


def show_why(explanation: Explanation, console: Any = None) -> None:
    """Print one item's explanation as a panel."""
    from newsbote import cli

    (console or cli.console).print(
        Panel(
            Text("\n".join(cli.shown(line) for line in why_lines(explanation))),
            title=f"item #{explanation.item.id}",
            title_align="left",
        ),
        highlight=False,
    )
