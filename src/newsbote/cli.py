"""The command line: ``newsbote init | check | run | add | remove | preview | why | status | …``."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from newsbote import __version__, outbox
from newsbote.cli_filter import filter_test_command
from newsbote.cli_holds import discard_command, held_command, release_command, why_command
from newsbote.config import (
    LoadedConfig,
    NewSource,
    add_source,
    add_sources,
    config_path,
    initial_config,
    load_config,
    mask_url,
    remove_source,
)
from newsbote.controls import ESCAPE_SEQUENCE
from newsbote.deliver import Destination
from newsbote.errors import DeliveryError, NewsboteError
from newsbote.fetch import Fetcher
from newsbote.health import Health, destination_action, source_action
from newsbote.identify import canonical_url, identify, item_key
from newsbote.opml import read_opml, write_opml
from newsbote.parse import parse_feed
from newsbote.pipeline import PollReport, plan_items, sanitize_verdicts
from newsbote.render import Renderer
from newsbote.store import Store, open_store
from newsbote.store.health import destination_states, enable_destination
from newsbote.store.items import load_known
from newsbote.store.notices import open_notices
from newsbote.store.queries import item_counts, source_rows
from newsbote.store.sources import HOLD_REASONS, enable, get_state, health_of
from newsbote.types import DeliveryState
from newsbote.worker import Service, build_destinations

app = typer.Typer(
    help="newsbote: every new article of your feeds, posted once, natively, where your community talks.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
# no ":name:" emoji codes: text from feeds is printed, and ours has its symbols as they are
console = Console(emoji=False)
errors = Console(stderr=True, emoji=False)

# Terminal control in text from outside: escape sequences are removed whole (CSI, OSC,
# and ESC with one character), then every other C0 and C1 control character and the
# bidirectional overrides one by one. No pattern backtracks: each part is a run of one
# character class.
_CONTROLS: dict[int, str | None] = dict.fromkeys(
    [*range(0x20), 0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)
_ONE_LINE = {**_CONTROLS, ord("\n"): " ", ord("\t"): " "}
_LINES = {**_CONTROLS, ord("\n"): "\n", ord("\t"): "\t"}
_PASSWORD = re.compile(r"(?<=://)([^\s/?#@:]*):[^\s/?#@]*@")


def shown(text: object, *, lines: bool = False) -> str:
    """Text from outside (a feed, a page, a destination's reply, an error quoting one) as
    the terminal may show it: no escape sequences or other control characters, no
    bidirectional overrides, no password of a URL. Newlines and tabs stay with ``lines``;
    otherwise they are spaces, and the text is one line.

    Every such text the command line prints passes here; in Rich markup also through
    :func:`shown_markup`, so that ``[red]`` in a feed's title is printed as it is.
    """
    text = ESCAPE_SEQUENCE.sub("", str(text))
    text = text.translate(_LINES if lines else _ONE_LINE)
    return _PASSWORD.sub(r"\1:***@", text)


def shown_markup(text: object, *, lines: bool = False) -> str:
    """:func:`shown`, escaped for a string that Rich reads as markup."""
    return escape(shown(text, lines=lines))


class _ShownFormatter(logging.Formatter):
    """Log lines quote feeds and destinations: they pass :func:`shown` too."""

    def format(self, record: logging.LogRecord) -> str:
        return shown(super().format(record), lines=True)


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config file (default: newsbote.toml or $NEWSBOTE_CONFIG)"),
]


def _setup_logging(level: str, process: str = "") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        _ShownFormatter(
            f"%(asctime)s %(levelname)-7s {process}%(name)s %(message)s", datefmt="%H:%M:%S"
        )
    )
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])


def _fail(exc: NewsboteError) -> typer.Exit:
    errors.print(
        f"[bold red]error:[/] {shown_markup(exc, lines=True)}", highlight=False, soft_wrap=True
    )
    return typer.Exit(2)


def _load(path: Path | None) -> LoadedConfig:
    try:
        return load_config(path)
    except NewsboteError as exc:
        raise _fail(exc) from None


def _store(loaded: LoadedConfig) -> Store:
    try:
        return open_store(loaded.config.store)
    except NewsboteError as exc:
        raise _fail(exc) from None


def _when(value: datetime | None) -> str:
    if value is None:
        return "–"
    delta = (value - datetime.now(UTC)).total_seconds()
    text = value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if abs(delta) < 86400:
        text += f" ({'in ' if delta > 0 else ''}{_span(abs(delta))}{'' if delta > 0 else ' ago'})"
    return text


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@app.command()
def init(
    config: ConfigOption = None,
    language: Annotated[str, typer.Option(help="de or en")] = "de",
    source: Annotated[
        list[str] | None, typer.Option("--source", "-s", help="a feed URL (repeatable)")
    ] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write a commented newsbote.toml to start from."""
    path = config_path(config)
    if path.exists() and not force:
        raise _fail(NewsboteError(f"{path} exists already; use --force to overwrite it"))
    if language not in ("de", "en"):
        raise _fail(NewsboteError(f"--language: expected 'de' or 'en', found {language!r}"))
    from newsbote.config.edit import name_for

    named: list[tuple[str, str]] = []
    for url in source or []:
        named.append((name_for(url, {n for n, _ in named}), url))
    path.write_text(initial_config(language, named), encoding="utf-8")
    console.print(
        f"wrote [bold]{path}[/]; next: [bold]newsbote add URL[/], then [bold]newsbote check[/]"
    )


@app.command()
def check(
    config: ConfigOption = None,
    fetch: Annotated[bool, typer.Option(help="test-fetch every source")] = True,
) -> None:
    """Validate the config, templates and destinations, and test-fetch every source."""
    loaded = _load(config)
    cfg = loaded.config
    console.print(
        f"[green]✓[/] config {loaded.path}: {len(cfg.sources)} sources, "
        f"{len(cfg.destinations)} destinations, {len(cfg.routes)} routes"
    )
    renderer = Renderer(loaded.base_dir)
    problems = 0
    for missing in _nothing_to_do(loaded):
        problems += 1
        errors.print(f"[red]✗[/] {missing}", highlight=False)
    for route in cfg.routes:
        for language in {cfg.language, *(s.language for s in cfg.sources if s.language)}:
            try:
                renderer.check(route.template, language)
            except NewsboteError as exc:
                problems += 1
                errors.print(f"[red]✗[/] {shown_markup(exc)}", highlight=False)
    store = _store(loaded)
    try:
        destinations = build_destinations(loaded, store)
        for name, destination in destinations.items():
            try:
                described = asyncio.run(_check_destination(destination))
                console.print(
                    f"[green]✓[/] destination {escape(name)}: {shown_markup(described)}",
                    highlight=False,
                )
            except NewsboteError as exc:
                problems += 1
                errors.print(
                    f"[red]✗[/] destination {escape(name)}: {shown_markup(exc)}", highlight=False
                )
        if fetch and cfg.sources:
            problems += asyncio.run(_check_sources(loaded))
    finally:
        store.close()
    if problems:
        errors.print(f"[red]{problems} problem(s)[/]")
        raise typer.Exit(1)
    console.print("[green]all good[/]")


def _nothing_to_do(loaded: LoadedConfig) -> list[str]:
    """What makes a valid config do nothing: no source to poll, no route to post by."""
    cfg = loaded.config
    missing = []
    if not cfg.sources:
        missing.append("no sources: nothing is polled; add one with 'newsbote add URL'")
    if not cfg.routes:
        missing.append(
            "no routes: nothing is posted; a [[routes]] block names sources and destinations"
        )
    return missing


async def _check_destination(destination: Destination[Any]) -> str:
    try:
        return await destination.check()
    except DeliveryError as exc:
        raise destination.scrub(exc) from None
    finally:
        await destination.close()


async def _check_sources(loaded: LoadedConfig) -> int:
    cfg = loaded.config
    failures: list[str] = []
    results: list[tuple[str, str]] = []
    async with Fetcher(cfg.service) as fetcher:
        with _progress_bar("fetching sources") as progress:
            task = progress.add_task("fetch", total=len(cfg.sources))

            async def one(source_name: str) -> None:
                source = cfg.source(source_name)
                try:
                    fetched = await fetcher.fetch(source.url, allow_private=source.allow_private)
                    feed = parse_feed(
                        fetched.body,
                        fetched.final_url,
                        fetched.content_type,
                        max_bytes=cfg.service.max_bytes,
                    )
                    moved = f", moved permanently to {fetched.moved_to}" if fetched.moved_to else ""
                    results.append(
                        (
                            source.name,
                            f"{shown(feed.title)!r}: {len(feed.entries)} entries ({feed.parser}){moved}",
                        )
                    )
                except NewsboteError as exc:
                    failures.append(f"source {source.name}: {exc}")
                finally:
                    progress.advance(task)

            await asyncio.gather(*(one(s.name) for s in cfg.sources))
    for name, text in sorted(results):
        console.print(f"[green]✓[/] source {escape(name)}: {shown_markup(text)}", highlight=False)
    for failure in failures:
        errors.print(f"[red]✗[/] {shown_markup(failure)}", highlight=False)
    return len(failures)


@app.command()
def run(
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="poll due sources, deliver, and exit")
    ] = False,
    force: Annotated[bool, typer.Option(help="with --once: poll every source, due or not")] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Run the service: polling, delivery and the web server (board at http://HOST:PORT/)."""
    _setup_logging(log_level)
    loaded = _load(config)
    store = _store(loaded)
    try:
        if once:
            started = datetime.now(UTC)
            reports = asyncio.run(_run_once(loaded, store, force))
            failed = [r for r in reports if r.error]
            for report in failed:
                errors.print(
                    f"[red]✗[/] source {escape(report.source)}: {shown_markup(report.error)}",
                    highlight=False,
                )
            undelivered = _report_undelivered(store, started)
            counts = store.call(outbox.counts)
            console.print(f"polled {len(reports)} source(s); ledger: {_counts(counts)}")
            if failed or undelivered:
                raise typer.Exit(1)
        else:
            from newsbote.serve import serve

            web = loaded.config.web
            ready = (
                f"board at http://{web.host}:{web.port}/ (Ctrl-C stops)"
                if web.enabled
                else "running"
            )
            asyncio.run(serve(loaded, store, on_ready=ready))
    except NewsboteError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


@app.command()
def worker(
    config: ConfigOption = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="deliver what is due now, then exit")
    ] = False,
    deliver_only: Annotated[
        bool, typer.Option("--deliver-only", help="deliver, but poll no sources")
    ] = False,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
    helper: Annotated[
        bool, typer.Option("--helper", hidden=True, help="started by newsbote run")
    ] = False,
) -> None:
    """Poll and deliver without the web server. Several workers (and one ``run``) share a
    store: each claims due sources and deliveries with leases, none twice."""
    _setup_logging(log_level, f"[helper {os.getpid()}] " if helper else "")
    loaded = _load(config)
    store = _store(loaded)
    try:
        if drain:
            started = datetime.now(UTC)
            attempted = asyncio.run(_drain(loaded, store))
            undelivered = _report_undelivered(store, started)
            console.print(
                f"attempted {attempted} deliveries; ledger: {_counts(store.call(outbox.counts))}"
            )
            if undelivered:
                raise typer.Exit(1)
        else:
            from newsbote.serve import serve

            what = "delivering" if deliver_only else "polling and delivering"
            asyncio.run(
                serve(
                    loaded,
                    store,
                    on_ready=f"{what} (Ctrl-C stops)",
                    web_app=False,
                    poll=not deliver_only,
                    helper=helper,
                )
            )
    except NewsboteError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


def _report_undelivered(store: Store, since: datetime) -> int:
    """Print each delivery whose attempt since ``since`` failed; return how many."""
    rows = store.call(outbox.failed_since, since)
    for row in rows:
        errors.print(
            f"[red]✗[/] delivery #{row.id} to {shown_markup(row.destination)}: {row.state}: "
            f"{shown_markup(row.last_error or '')}",
            highlight=False,
        )
    return len(rows)


async def _drain(loaded: LoadedConfig, store: Store) -> int:
    async with Service(loaded, store) as service:
        return await service.deliver_all()


async def _run_once(loaded: LoadedConfig, store: Store, force: bool) -> list[PollReport]:
    async with Service(loaded, store) as service:
        with _progress_bar("polling sources") as bar:
            return await service.run_once(force=force, progress=_PollBar(bar))


@contextmanager
def _progress_bar(what: str) -> Iterator[Progress]:
    """A bar for long work, on the terminal only and gone when the work is done; log
    lines meanwhile print above it."""
    with Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        # Rich shows the bar with sys.stderr redirected to print above it; the log
        # handlers hold the stderr of before and would write through the bar
        moved = [
            handler
            for handler in logging.getLogger().handlers
            if type(handler) is logging.StreamHandler and handler.stream is sys.__stderr__
        ]
        for handler in moved:
            handler.setStream(sys.stderr)
        try:
            yield bar
        finally:
            for handler in moved:
                handler.setStream(sys.__stderr__)


class _PollBar:
    """A cycle's polls on a progress bar."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task = bar.add_task("poll", total=None)

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)

    def advance(self, report: PollReport) -> None:
        self.bar.advance(self.task)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{state} {count}" for state, count in sorted(counts.items())) or "empty"


@app.command()
def add(
    url: str,
    config: ConfigOption = None,
    name: Annotated[str | None, typer.Option(help="source name (default: from the host)")] = None,
    interval: Annotated[str | None, typer.Option(help="poll interval, e.g. 15m")] = None,
    first_run: Annotated[
        str | None, typer.Option(help="what the first poll posts: N, none, since:DATE")
    ] = None,
) -> None:
    """Add a source to the config file (its comments are kept)."""
    path = config_path(config)
    try:
        value: int | str | None = int(first_run) if first_run and first_run.isdigit() else first_run
        chosen = add_source(path, url, name=name, interval=interval, first_run=value)
    except NewsboteError as exc:
        raise _fail(exc) from None
    console.print(f"added source [bold]{escape(chosen)}[/] → {shown_markup(url)}", highlight=False)


@app.command()
def remove(url_or_name: str, config: ConfigOption = None) -> None:
    """Remove a source from the config file (its stored items are kept)."""
    try:
        name = remove_source(config_path(config), url_or_name)
    except NewsboteError as exc:
        raise _fail(exc) from None
    console.print(f"removed source [bold]{escape(name)}[/]", highlight=False)


@app.command("import-opml")
def import_opml(file: Path, config: ConfigOption = None) -> None:
    """Add every feed of an OPML file as a source."""
    path = config_path(config)
    try:
        outlines = read_opml(file)
        if not outlines:
            raise NewsboteError(
                f"{file}: no feed in it (no <outline> with an xmlUrl); nothing was imported"
            )
        # an OPML file comes from elsewhere: none of its outlines may name a local file
        local = [o.url for o in outlines if not o.url.lower().startswith(("http://", "https://"))]
        if local:
            raise NewsboteError(
                f"{file}: {len(local)} outline(s) are not http(s) URLs, for example "
                f"{local[0]!r}; nothing was imported"
            )
        load_config(path)  # a config that is broken already is not edited
        added = add_sources(
            path, [NewSource(o.url, title=o.title) for o in outlines], skip_known=True
        )
    except NewsboteError as exc:
        raise _fail(exc) from None
    console.print(
        f"imported {len(added)} new source(s) of {len(outlines)} in {shown_markup(file)}",
        highlight=False,
    )


@app.command("export-opml")
def export_opml(
    config: ConfigOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file (default: stdout)")
    ] = None,
) -> None:
    """Write the configured sources as OPML."""
    loaded = _load(config)
    text = write_opml(loaded.config.sources, urls=_written_urls(loaded))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _written_urls(loaded: LoadedConfig) -> dict[str, str]:
    """Each source's URL as the config file writes it: a local file's path relative to
    the file, as there, not the absolute path it is resolved to."""
    import tomllib

    try:
        raw = tomllib.loads(loaded.path.read_text(encoding="utf-8")).get("sources")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    if not isinstance(raw, list):
        return {}
    return {
        str(table["name"]): table["url"]
        for table in raw
        if isinstance(table, dict) and isinstance(table.get("url"), str) and "name" in table
    }


@app.command()
def status(config: ConfigOption = None) -> None:
    """Show sources (last fetch, HTTP status, next check, health and what to do), the
    destinations' health, the ledger counts and the notices not yet sent."""
    loaded = _load(config)
    store = _store(loaded)
    try:
        rows = store.call(source_rows)
        counts = store.call(item_counts)
        ledger = store.call(outbox.counts)
        destination_health = store.call(destination_states)
        waiting = store.call(open_notices)
    finally:
        store.close()
    language = loaded.config.language
    configured = {s.name for s in loaded.config.sources}
    table = Table(
        title=f"sources ({shown_markup(mask_url(loaded.config.store))})", title_justify="left"
    )
    for column in ("source", "items", "last fetch", "HTTP", "next check", "health", "problem"):
        table.add_column(column)
    for row in rows:
        health = health_of(row)
        problem = ""
        if row.disabled_reason:
            problem = f"disabled: {row.disabled_reason}"
        elif row.errors:
            problem = row.last_error or ""
        if problem and row.last_error:  # what the operator can do about it
            problem += "\n→ " + source_action(row.last_error, row.http_status, language)
        if health.reason in HOLD_REASONS:
            problem = f"items held ({health.reason}): newsbote release / discard\n{problem}"
        name = row.name if row.name in configured else f"{row.name} (not in config)"
        name = shown_markup(name)
        if row.url != row.config_url:  # where the feed moved: the publisher's word
            name += f"\n→ {shown_markup(row.url)}"
        table.add_row(
            name,
            str(counts.get(row.id, 0)),
            _when(row.fetched_at),
            str(row.http_status or "–"),
            _when(row.next_check_at),
            _health(health),
            shown_markup(problem.strip()),
        )
    console.print(table)
    if loaded.config.destinations:
        places = Table(title="destinations", title_justify="left")
        for column in ("destination", "kind", "health", "problem"):
            places.add_column(column)
        for destination in loaded.config.destinations:
            health = destination_health.get(destination.name, Health(destination.name))
            problem = (health.last_error or "") if health.state != "ok" else ""
            if health.state == "disabled":
                problem = (
                    f"disabled: {problem}\n→ {destination_action(health.reason, language)}; "
                    f"then newsbote enable {destination.name}"
                )
            places.add_row(
                shown_markup(destination.name),
                shown_markup(destination.kind),
                _health(health),
                shown_markup(problem),
            )
        console.print(places)
    console.print(f"deliveries: {_counts(ledger)}")
    for notice in waiting:
        where = f" → {notice.destination}" if notice.destination else ""
        tries = f", {notice.attempts} attempt(s)" if notice.attempts else ""
        error = f": {notice.last_error}" if notice.last_error else ""
        console.print(  # a subject or a destination's reply may hold control characters
            shown(
                f"notice #{notice.id} {notice.kind} ({notice.subject}){where}: "
                f"{notice.state}{tries}{error}"
            ),
            markup=False,
            highlight=False,
        )


def _health(health: Health) -> str:
    """A health state for a table cell: the state, its reason, since when, how often."""
    if health.state == "ok":
        return "ok"
    text = health.state + (f" ({health.reason})" if health.reason else "")
    if health.failures:
        text += f", {health.failures}×"
    if health.since is not None:
        text += f"\nsince {_when(health.since)}"
    return shown_markup(text)


@app.command()
def preview(
    source: Annotated[str, typer.Argument(help="source name or URL")],
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="how many of the newest items")] = 3,
) -> None:
    """Print the exact post each routed destination would get, without sending or recording."""
    loaded = _load(config)
    cfg = loaded.config
    chosen = next((s for s in cfg.sources if source in (s.name, s.url)), None)
    if chosen is None:
        from newsbote.config.load import _suggest

        hint = _suggest(source, [s.name for s in cfg.sources])
        raise _fail(NewsboteError(f"no source named {source!r}" + (f"; {hint}" if hint else "")))
    try:
        asyncio.run(_preview(loaded, chosen.name, limit))
    except NewsboteError as exc:
        raise _fail(exc) from None


async def _preview(loaded: LoadedConfig, name: str, limit: int) -> None:
    cfg = loaded.config
    source = cfg.source(name)
    store = Store(cfg.store)
    try:
        state = store.call(get_state, name) if store.is_current() else None
    except NewsboteError:
        state = None
    async with Fetcher(cfg.service) as fetcher:
        fetched = await fetcher.fetch(
            state.url if state else source.url, allow_private=source.allow_private
        )
    feed = parse_feed(
        fetched.body,
        fetched.final_url,
        fetched.content_type,
        sanitize=False,
        max_bytes=cfg.service.max_bytes,
    )
    entries = feed.entries[:limit]
    known = (
        store.call(
            load_known,
            state.id,
            [item_key(e)[0] for e in entries],
            [u for e in entries if (u := canonical_url(e.link))],
        )
        if state
        else None
    )
    store.close()
    from newsbote.identify import Known

    verdicts = sanitize_verdicts(identify(name, entries, known or Known()))
    plans = plan_items(
        verdicts,
        source=source,
        config=cfg,
        renderer=Renderer(loaded.base_dir),
        feed=feed,
        first_run_done=state.first_run_done if state else False,
    )
    console.print(
        f"[bold]{shown_markup(feed.title)}[/] ({feed.parser}, {len(feed.entries)} entries); "
        f"newest {len(entries)}:",
        highlight=False,
    )
    for plan in plans:
        console.rule(Text(shown(plan.verdict.item.title or plan.verdict.item.key)), align="left")
        console.print(
            f"decision: {plan.decision.value}: {shown(plan.reason)}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for message in plan.messages:
            console.print(
                f"\n→ {shown(message.destination)} ({message.markup.value})",
                style="bold",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            console.print(
                f"title: {shown(message.title)}\n{shown(message.body, lines=True)}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if not plan.messages:
            console.print(
                "nothing would be sent for this item",
                style="dim",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


@app.command()
def deliveries(
    config: ConfigOption = None,
    state: Annotated[
        str | None,
        typer.Option(help="pending, sending, sent, failed, dead, unknown, skipped, held"),
    ] = None,
    destination: Annotated[str | None, typer.Option(help="only this destination")] = None,
    source: Annotated[str | None, typer.Option(help="only items of this source")] = None,
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 50,
) -> None:
    """List the delivery ledger (filter by state, destination, source)."""
    states = [s.value for s in DeliveryState]
    if state is not None and state not in states:
        raise _fail(_unknown("--state", state, states, "one of " + ", ".join(states)))
    loaded = _load(config)
    store = _store(loaded)
    try:
        rows = store.call(
            outbox.listing, state=state, destination=destination, source=source, limit=limit
        )
        if not rows:  # a misspelt name finds nothing: say so, not an empty table
            _known_names(loaded, store, destination=destination, source=source)
    finally:
        store.close()
    table = Table(title="deliveries", title_justify="left")
    for column in (
        "id",
        "state",
        "destination",
        "source",
        "item",
        "tries",
        "next / where",
        "last error",
    ):
        table.add_column(column)
    for row in rows:
        where = (
            row.remote_url
            if row.state == DeliveryState.SENT
            else _when(row.next_attempt_at)
            if row.state in _WAITING
            else None
        )
        table.add_row(
            str(row.id), row.state, shown_markup(f"{row.destination} ({row.action} v{row.version})"),
            shown_markup(row.source), shown_markup(shown(row.title)[:60]), str(row.attempts),
            shown_markup(where or "–"), shown_markup(shown(row.last_error or "")[:80]),
        )  # fmt: skip
    console.print(table)


_WAITING = {DeliveryState.PENDING, DeliveryState.FAILED, DeliveryState.UNKNOWN}
"""States whose row has a next attempt (a skipped, dead or sent one has none)."""


def _unknown(option: str, value: str, choices: list[str], expected: str) -> NewsboteError:
    from newsbote.config.load import _suggest

    hint = _suggest(value, choices)
    return NewsboteError(
        f"{option}: expected {expected}, found {value!r}" + (f"; {hint}" if hint else "")
    )


def _known_names(
    loaded: LoadedConfig, store: Store, *, destination: str | None, source: str | None
) -> None:
    """Refuse a ``--destination`` or ``--source`` that names nothing configured or stored."""
    if destination is not None:
        names = sorted({d.name for d in loaded.config.destinations})
        if destination not in names:
            raise _fail(_unknown("--destination", destination, names, "a destination's name"))
    if source is not None:
        names = sorted({s.name for s in loaded.config.sources} | {
            row.name for row in store.call(source_rows)
        })  # fmt: skip
        if source not in names:
            raise _fail(_unknown("--source", source, names, "a source's name"))


@app.command()
def retry(
    ids: Annotated[list[int] | None, typer.Argument(help="delivery ids")] = None,
    config: ConfigOption = None,
    dead: Annotated[bool, typer.Option("--dead", help="every dead delivery")] = False,
) -> None:
    """Send failed, dead, skipped or unknown deliveries again now."""
    if not ids and not dead:
        raise _fail(NewsboteError("name delivery ids or use --dead"))
    change = _ledger_change(config, outbox.retry, ids=ids or [], dead=dead)
    if dead and not change.changed:
        console.print("no dead delivery to queue again")
        return
    _report_change(change, "queued again", "retry takes failed, dead, skipped or unknown ones")


@app.command()
def skip(ids: list[int], config: ConfigOption = None) -> None:
    """Never send these deliveries."""
    change = _ledger_change(config, outbox.skip, ids=ids)
    _report_change(change, "skipped", "skip takes pending, failed, dead or unknown ones")


def _report_change(change: outbox.Change, done: str, takes: str) -> None:
    """What a ledger command changed, and why it left each other named delivery alone;
    exit 1 where it left one."""
    console.print(f"{change.changed} delivery(ies) {done}")
    for row_id, reason in change.refused:
        errors.print(f"[red]✗[/] delivery {row_id} {reason}", highlight=False)
    if change.refused:
        errors.print(f"({takes}; see 'newsbote deliveries')", highlight=False)
        raise typer.Exit(1)


@app.command()
def resolve(
    delivery_id: int,
    config: ConfigOption = None,
    sent: Annotated[str | None, typer.Option("--sent", help="it arrived: the post's URL")] = None,
    not_sent: Annotated[
        bool, typer.Option("--not-sent", help="it did not arrive: send it again")
    ] = False,
) -> None:
    """Settle a delivery whose outcome is unknown (its worker stopped mid-send)."""
    if bool(sent) == not_sent:
        raise _fail(NewsboteError("say either --sent URL or --not-sent"))
    change = _ledger_change(config, outbox.resolve, row_id=delivery_id, sent_url=sent)
    for row_id, reason in change.refused:
        errors.print(f"[red]✗[/] delivery {row_id} {reason}", highlight=False)
        raise typer.Exit(1)
    console.print(
        f"delivery {delivery_id} resolved as {'sent' if sent else 'not sent (queued again)'}"
    )


def _ledger_change(config: Path | None, change: Any, **arguments: Any) -> outbox.Change:
    loaded = _load(config)
    store = _store(loaded)
    try:
        result: outbox.Change = store.call(change, now=datetime.now(UTC), **arguments)
        return result
    finally:
        store.close()


@app.command("enable")
def enable_source(name: str, config: ConfigOption = None) -> None:
    """Re-enable a disabled source (for example after HTTP 410) or destination (after it
    refused its credentials); a destination's waiting posts go out at the next round."""
    loaded = _load(config)
    store = _store(loaded)
    now = datetime.now(UTC)
    is_destination = name in {d.name for d in loaded.config.destinations}
    try:
        source = store.call(enable, name, now)
        destination = is_destination and store.call(enable_destination, name, now)
        if not source and not destination:
            raise _fail(
                NewsboteError(
                    f"destination {name!r} is not disabled"
                    if is_destination
                    else f"no stored source or configured destination named {name!r}"
                )
            )
    finally:
        store.close()
    if source:
        console.print(
            f"source [bold]{escape(name)}[/] enabled; it is polled at the next round",
            highlight=False,
        )
    if destination:
        console.print(
            f"destination [bold]{escape(name)}[/] enabled; its waiting posts go out at the "
            "next round",
            highlight=False,
        )


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="where the demo keeps its config and database")
    ] = Path(".demo"),
    port: Annotated[int, typer.Option(help="board port")] = 8080,
    feed_port: Annotated[int, typer.Option(help="port of the sample feed server")] = 8081,
    language: Annotated[str, typer.Option(help="de or en")] = "de",
) -> None:
    """Run the demo: sample sources served locally, News-Bote posting to the board."""
    from newsbote.demo.run import run_demo

    _setup_logging("INFO")
    try:
        asyncio.run(run_demo(directory, port=port, feed_port=feed_port, language=language))
    except NewsboteError as exc:
        raise _fail(exc) from None


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"newsbote {__version__}")


app.command("filter-test")(filter_test_command)
app.command("why")(why_command)
app.command("held")(held_command)
app.command("release")(release_command)
app.command("discard")(discard_command)


def main() -> None:
    app()
