"""``newsbote filter-test ROUTE``: which recent items a route's filters let through, and why.

Registered in :mod:`newsbote.cli` as ``app.command("filter-test")(filter_test_command)``;
it takes the command line's helpers from there when it runs, so ``cli`` may import this
module at its top.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from newsbote.errors import NewsboteError
from newsbote.route.trial import MAX_LIMIT, filter_test


def filter_test_command(
    route: Annotated[int, typer.Argument(help="the route, counted from 1 as `why` counts them")],
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="only this source of the route")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT, help="how many recent items")
    ] = 20,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="config file (default: newsbote.toml or $NEWSBOTE_CONFIG)"
        ),
    ] = None,
) -> None:
    """Try a route's words and filter on the recent items of its sources: pass or not, and
    the condition that decided. Reads the store only; nothing is posted."""
    from newsbote.cli import _fail, _load, _store, _when, console, shown_markup

    loaded = _load(config)
    store = _store(loaded)
    try:
        results = filter_test(loaded, store, route, source=source, limit=limit)
    except NewsboteError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if not results:
        console.print(f"route {route}: no stored items of its sources yet (run newsbote once)")
        return
    table = Table(title=f"route {route}: {len(results)} recent item(s)", title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("item")
    table.add_column("source")
    table.add_column("first seen", no_wrap=True)
    table.add_column("decided by")
    for result in results:
        title = shown_markup(result.title or "(no title)")
        if result.link:
            title += f"\n[dim]{shown_markup(result.link)}[/]"
        table.add_row(
            "[green]pass[/]" if result.passed else "[red]skip[/]",
            title,
            shown_markup(result.source),
            _when(result.first_seen),
            shown_markup(result.reason),
        )
    console.print(table, highlight=False)
    passed = sum(r.passed for r in results)
    console.print(f"{passed} of {len(results)} pass", highlight=False)
