"""One source through every stage: the readable map of newsbote.

fetch ─► parse ─► identify ─► enrich ─► route ─► render ─► outbox (and, elsewhere, deliver)

:func:`poll_source` is the whole refresh of one source; :func:`plan_items` is
the pure decision in its middle (first-run guard, routes, templates).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection

from newsbote.config.schema import Config, FirstRun, SourceConfig
from newsbote.deliver import destination_kinds
from newsbote.enrich.fulltext import (
    extract_article,
    feed_kept,
    looks_like_teaser,
    page_too_large,
    without_title,
)
from newsbote.enrich.sanitize import plain_text, sanitize_entry
from newsbote.enrich.teaser import teaser_from_text
from newsbote.errors import FetchError, ParseError, RenderError
from newsbote.fetch import Fetcher, next_check
from newsbote.health import source_failed
from newsbote.identify import Known, canonical_url, identify, item_key
from newsbote.outbox import HOLD_APPROVAL, PostsInStore
from newsbote.parse import Budget, parse_feed
from newsbote.render import RenderContext, Renderer
from newsbote.route import route_item
from newsbote.store import Store
from newsbote.store.items import (
    Prepared,
    Recorded,
    find_lookalikes,
    identity_suspects,
    load_content,
    load_known,
    prepare_items,
    write_items,
)
from newsbote.store.sources import SourceState, record_error, record_fetch
from newsbote.types import (
    Decision,
    Fetched,
    Item,
    Message,
    Outcome,
    ParsedFeed,
    Plan,
    Verdict,
)

log = logging.getLogger("newsbote.pipeline")
P = ParamSpec("P")
T = TypeVar("T")

POLL_CPU_SECONDS = 30.0
"""CPU seconds one poll's parsing, sanitizing and planning may take before its source
fails (a linear pass over the largest body ``max_bytes`` allows takes a few)."""
INLINE_BYTES = 64 * 1024
"""Bodies up to this size are processed on the event loop: every pass being linear, that
holds it for a few ms (100 ms for the most hostile shapes); in a thread, feeds of this
size would cost more CPU in GIL hand-overs between the loop and the threads than in
their own processing."""


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one source did, for logs, metrics and ``check``."""

    source: str
    status: str
    http_status: int | None = None
    entries: int = 0
    recorded: Recorded | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """The long-lived parts a poll needs."""

    config: Config
    store: Store
    fetcher: Fetcher
    renderer: Renderer
    in_store: Mapping[str, PostsInStore] = field(default_factory=dict)
    """Destinations that post as their messages are enqueued (the board), by name."""


async def poll_source(ctx: Context, source: SourceConfig, state: SourceState) -> PollReport:
    """Fetch, parse, identify, plan and record one source; never raises for a bad feed."""
    now = datetime.now(UTC)
    try:
        fetched = await ctx.fetcher.fetch(
            state.url,
            etag=state.etag,
            last_modified=state.last_modified,
            allow_private=source.allow_private,
        )
    except FetchError as exc:
        return await _record_failure(
            ctx,
            source,
            state,
            now,
            exc.message,
            exc.status,
            exc.retry_after,
            gone=exc.status == 410,
        )
    if fetched.not_modified:
        await ctx.store.run_grouped(
            record_fetch,
            state.id,
            now=now,
            next_check_at=_next(ctx, source, now, fetched),
            http_status=304,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            url=fetched.moved_to,
        )
        log.info("poll source=%s status=304", source.name)
        return PollReport(source.name, "not-modified", 304)
    # The CPU work runs in worker threads (the event loop keeps serving the other polls
    # and the web pages), within a budget: past it, this source fails and no other.
    budget = Budget(fetched.final_url, POLL_CPU_SECONDS)
    work = _Work(budget, threaded=len(fetched.body) > INLINE_BYTES)
    try:
        feed, keys, links = await work(_parse, fetched, ctx.config.service.max_bytes, budget)
        # What stays alive while this poll waits for the store is what is still needed:
        # neither the body nor the publisher's HTML (thousands of polls run at once).
        fetched = replace(fetched, body=b"")
        entries = len(feed.entries)
        known = await ctx.store.run_grouped(load_known, state.id, keys, links)
        del keys, links
        verdicts = await work(_identify_and_sanitize, source.name, feed, known, budget)
        feed = replace(feed, entries=())
        verdicts = await _full_text(ctx, source, verdicts, first_run_done=state.first_run_done)
        previous = await _previous_text(ctx, state.id, verdicts)
        # new items that match stored ones by title and date: renumbered ids (a hold)
        suspects = identity_suspects(verdicts, ctx.config.health, state.first_run_done)
        lookalikes = await ctx.store.read(find_lookalikes, state.id, suspects) if suspects else ()
        # the rows are built here, before the transaction: it holds SQLite's write lock
        prepared = await work(
            _plan_and_prepare, ctx, source, state, now, verdicts, feed, previous, budget, lookalikes
        )
    except ParseError as exc:
        return await _record_failure(ctx, source, state, now, str(exc), fetched.status, None)
    del verdicts, previous  # while this poll waits for the store, only its rows stay
    recorded = await ctx.store.run_grouped(
        _record_success, prepared, _next(ctx, source, now, fetched, feed), fetched, feed
    )
    log.info(
        "poll source=%s status=%s entries=%d new=%d changed=%d queued=%d posted=%d",
        source.name,
        fetched.status,
        entries,
        recorded.new_items,
        recorded.changed_items,
        recorded.queued,
        sum((recorded.posted or {}).values()),  # of the queued, those on the board already
    )
    return PollReport(source.name, "ok", fetched.status, entries, recorded)


async def _previous_text(
    ctx: Context, source_id: int, verdicts: Sequence[Verdict]
) -> dict[str, str]:
    """The stored text of changed items, where some route sets a ``min_change`` threshold."""
    if not any(route.min_change > 0 for route in ctx.config.routes):
        return {}
    keys = [
        v.known_key or v.item.key for v in verdicts if v.outcome is not Outcome.NEW and v.changed
    ]
    if not keys:
        return {}
    stored = await ctx.store.read(load_content, source_id, keys)
    return {key: plain_text(html) for key, html in stored.items()}


@dataclass(frozen=True, slots=True)
class _Work:
    """Runs the CPU-bound steps of one poll within its budget, in a worker thread when
    its body is large (the event loop goes on meanwhile), else in place."""

    budget: Budget
    threaded: bool

    async def __call__(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self.threaded:
            return await asyncio.to_thread(self.budget.run, function, *args, **kwargs)
        return self.budget.run(function, *args, **kwargs)


def _parse(
    fetched: Fetched, max_bytes: int, budget: Budget
) -> tuple[ParsedFeed, list[str], list[str]]:
    """The feed of a fetched body, and its entries' keys and links (what the store is
    asked about): the first part of a poll's CPU work, in a worker thread."""
    feed = parse_feed(
        fetched.body,
        fetched.final_url,
        fetched.content_type,
        sanitize=False,
        max_bytes=max_bytes,
        budget=budget,
        content_location=fetched.content_location,
    )
    budget.check("identifying the entries")
    keys = [item_key(e)[0] for e in feed.entries]
    links = [link for e in feed.entries if (link := canonical_url(e.link))]
    return feed, keys, links


def _identify_and_sanitize(
    name: str, feed: ParsedFeed, known: Known, budget: Budget
) -> list[Verdict]:
    """The second part, in a worker thread: verdicts, new and changed entries sanitized."""
    verdicts = identify(name, feed.entries, known)
    return sanitize_verdicts(verdicts, budget)


def _plan_and_prepare(
    ctx: Context,
    source: SourceConfig,
    state: SourceState,
    now: datetime,
    verdicts: list[Verdict],
    feed: ParsedFeed,
    previous: dict[str, str],
    budget: Budget,
    lookalikes: Collection[str] = (),
) -> Prepared:
    """The last part, in a worker thread: the plans (routes, rendered messages) as rows."""
    plans = plan_items(
        verdicts,
        source=source,
        config=ctx.config,
        renderer=ctx.renderer,
        feed=feed,
        first_run_done=state.first_run_done,
        previous=previous,
        budget=budget,
        lookalikes=lookalikes,
    )
    language = source.language or ctx.config.language
    return prepare_items(
        state.id, plans, now, ctx.in_store, feed.title or source.name, language=language
    )


def sanitize_verdicts(verdicts: Sequence[Verdict], budget: Budget | None = None) -> list[Verdict]:
    """Sanitize the entries that go on (new, changed, renamed); unchanged ones are dropped
    unread, so a poll where one entry is new costs one sanitizing, not twenty."""
    result = []
    for verdict in verdicts:
        if verdict.outcome is Outcome.UNCHANGED:
            result.append(_forget_content(verdict))
            continue
        if budget is not None:
            budget.check(f"sanitizing entry {len(result) + 1} of {len(verdicts)}")
        entry = sanitize_entry(verdict.item.entry)
        result.append(verdict.with_item(verdict.item.with_entry(entry)))
    return result


def _forget_content(verdict: Verdict) -> Verdict:
    """An unchanged entry's HTML is never read again: drop it (it is unsanitized, too)."""
    entry = replace(verdict.item.entry, content_html="", summary_html="", text="", sanitized=True)
    return verdict.with_item(verdict.item.with_entry(entry))


async def _full_text(
    ctx: Context, source: SourceConfig, verdicts: list[Verdict], *, first_run_done: bool
) -> list[Verdict]:
    """Replace teasers of the items about to be posted with their article's full text."""
    if source.fulltext == "never":
        return verdicts
    allowed = None if first_run_done else first_run_selection(verdicts, source.first_run)
    limit = asyncio.Semaphore(4)

    def reason(verdict: Verdict) -> str | None:
        """Why this verdict's article page is fetched (None: it is not)."""
        entry = verdict.item.entry
        wanted = verdict.outcome is Outcome.NEW and (allowed is None or verdict.item.key in allowed)
        if not (wanted and entry.link):
            return None
        return "fulltext = always" if source.fulltext == "always" else looks_like_teaser(entry)

    async def enrich(verdict: Verdict, why: str) -> Verdict:
        entry = verdict.item.entry
        assert entry.link is not None
        async with limit:
            try:
                page = await ctx.fetcher.fetch_page(
                    entry.link, allow_private=source.allow_private_pages
                )
            except FetchError as exc:
                log.info(
                    "fulltext source=%s item=%s fetch failed: %s",
                    source.name,
                    verdict.item.key,
                    exc,
                )
                return replace(
                    verdict, reason=f"{verdict.reason}; article page not fetched ({exc.message})"
                )
            too_large = page_too_large(len(page.body))
            if too_large:
                log.info("fulltext source=%s item=%s %s", source.name, verdict.item.key, too_large)
                return replace(verdict, reason=f"{verdict.reason}; {too_large}, feed text kept")
            extracted = await asyncio.to_thread(extract_article, page.body, page.final_url)
        kept = feed_kept(entry, extracted, source.fulltext)
        if kept is not None or extracted is None:
            # never silently: an empty or boilerplate page says so in the item's reason
            log.info(
                "fulltext source=%s item=%s article page not used: %s",
                source.name,
                verdict.item.key,
                kept,
            )
            return replace(
                verdict, reason=f"{verdict.reason}; article page not used ({kept}), feed text kept"
            )
        body = without_title(extracted.html, entry.title)
        full = replace(
            entry, content_html=body, text=plain_text(body), image=entry.image or extracted.image
        )
        # the fingerprint stays the feed's: the next poll compares feed with feed
        item = replace(verdict.item, entry=full)
        return replace(
            verdict, item=item, reason=f"{verdict.reason}; full text from the article page ({why})"
        )

    # a task only for the teasers (usually none): not one per entry
    wanted = [(index, why) for index, v in enumerate(verdicts) if (why := reason(v))]
    enriched = await asyncio.gather(*(enrich(verdicts[index], why) for index, why in wanted))
    result = list(verdicts)
    for (index, _), verdict in zip(wanted, enriched, strict=True):
        result[index] = verdict
    return result


def _next(
    ctx: Context,
    source: SourceConfig,
    now: datetime,
    fetched: Fetched | None,
    feed: ParsedFeed | None = None,
) -> datetime:
    return next_check(
        now,
        interval=source.interval,
        service=ctx.config.service,
        max_age=fetched.max_age if fetched else None,
        ttl_minutes=feed.ttl_minutes if feed else None,
    )


def _record_success(
    connection: Connection,
    prepared: Prepared,
    next_at: datetime,
    fetched: Fetched,
    feed: ParsedFeed,
) -> Recorded:
    recorded = write_items(connection, prepared)
    record_fetch(
        connection,
        prepared.source_id,
        now=prepared.now,
        next_check_at=next_at,
        http_status=fetched.status,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
        url=fetched.moved_to,
        title=feed.title,
        first_run_done=True,
    )
    return recorded


async def record_crash(ctx: Context, source: SourceConfig, state: SourceState) -> PollReport:
    """A poll that failed inside newsbote, recorded like a failed fetch: the source is
    free again (not leased until its lease runs out), retried after a backoff, and the
    error shows in ``status``."""
    report = await _record_failure(
        ctx, source, state, datetime.now(UTC), "internal error, see the log", None, None
    )
    return replace(report, status="crashed")


async def _record_failure(
    ctx: Context,
    source: SourceConfig,
    state: SourceState,
    now: datetime,
    message: str,
    http_status: int | None,
    retry_after: float | None,
    *,
    gone: bool = False,
) -> PollReport:
    errors = state.errors + 1
    next_at = next_check(
        now,
        interval=source.interval,
        service=ctx.config.service,
        retry_after=retry_after,
        errors=errors,
    )
    # failing, or disabled (gone, or failing for [health] disable_after): the service
    # announces the change to the [health] notify destinations
    health = source_failed(
        state.health,
        now=now,
        message=message,
        http_status=http_status,
        disable_after=ctx.config.health.disable_after,
        gone=gone,
    )
    await ctx.store.run_grouped(
        record_error,
        state.id,
        now=now,
        next_check_at=next_at,
        message=message,
        http_status=http_status,
        health=health,
    )
    log.warning(
        "poll source=%s status=error errors=%d health=%s error=%s",
        source.name,
        errors,
        health.state,
        message,
    )
    disabled = health.state == "disabled"
    return PollReport(
        source.name,
        "gone" if gone else "disabled" if disabled else "error",
        http_status,
        error=message,
    )


def first_run_selection(verdicts: Sequence[Verdict], rule: FirstRun) -> set[str]:
    """Keys of the new items a source's first poll may post; the rest are only recorded."""
    new = [v for v in verdicts if v.outcome is Outcome.NEW]
    if rule.since is not None:
        return {
            v.item.key
            for v in new
            if v.item.entry.published and v.item.entry.published.date() >= rule.since
        }
    if rule.newest is None:
        return {v.item.key for v in new}
    order = sorted(
        enumerate(new),
        key=lambda pair: (
            pair[1].item.entry.published is not None,
            pair[1].item.entry.published or datetime.min.replace(tzinfo=UTC),
            -pair[0],
        ),
        reverse=True,
    )
    return {v.item.key for _, v in order[: rule.newest]}


UPDATE_ACTIONS = {"edit": "edit", "reply": "reply", "repost": "post"}
"""A route's ``update`` policy as the action its deliveries take (a repost is a new post)."""


def _limit(configured: int | None, platform: int | None) -> int | None:
    """A destination's ``max_length`` option, never above what the platform takes."""
    if configured is None:
        return platform
    return min(configured, platform) if platform is not None else configured


def changed_fraction(before: str | None, item: Item) -> float:
    """How much of an item's text changed, 0 to 1: the words removed and added, over all
    words of both versions (1 when the old text is unknown). Linear in the text's length,
    so a hostile feed cannot make it slow, as a sequence alignment could be made.
    """
    if before is None:
        return 1.0
    old, new = Counter(before.split()), Counter(item.entry.plain.split())
    total = old.total() + new.total()
    if not total:
        return 0.0
    return ((old - new).total() + (new - old).total()) / total


def plan_items(
    verdicts: Sequence[Verdict],
    *,
    source: SourceConfig,
    config: Config,
    renderer: Renderer,
    feed: ParsedFeed,
    first_run_done: bool,
    previous: Mapping[str, str] | None = None,
    budget: Budget | None = None,
    lookalikes: Collection[str] = (),
) -> list[Plan]:
    """Decide, for each verdict, what to store and which messages to enqueue. Pure but for templates.

    ``previous`` holds the stored text of changed items by key, for the routes'
    ``min_change`` threshold (an item missing from it counts as wholly changed).
    ``budget`` is checked before each verdict. ``lookalikes`` are the keys of new items
    that match a stored item of the source by title and date (see :func:`poll_hold`).

    Messages wait for the operator (``Plan.held``) where their route wants approval,
    and every new item's do where the whole poll is held (:func:`poll_hold`).
    """
    allowed = None if first_run_done else first_run_selection(verdicts, source.first_run)
    hold = poll_hold(verdicts, config, first_run_done=first_run_done, lookalikes=lookalikes)
    language = source.language or config.language
    context = RenderContext(
        bot=config.bot, language=language, source_title=feed.title or source.name
    )
    kinds = destination_kinds()
    plans: list[Plan] = []
    for verdict in verdicts:
        if budget is not None:
            budget.check(f"planning item {len(plans) + 1} of {len(verdicts)}")
        item = verdict.item.with_entry(
            verdict.item.entry, teaser=teaser_from_text(verdict.item.entry.plain)
        )
        verdict = verdict.with_item(item)
        if verdict.outcome is Outcome.UNCHANGED or (
            verdict.outcome is Outcome.RENAMED and not verdict.changed
        ):
            plans.append(Plan(verdict, Decision.UNCHANGED, verdict.reason))
            continue
        if allowed is not None and item.key not in allowed:
            reason = f"first run of source {source.name!r}: it posts {source.first_run.describe()}; this one was recorded as seen"
            plans.append(Plan(verdict, Decision.SEEN, reason))
            continue
        targets, route_reasons = route_item(item, config.routes, language=language)
        updating = verdict.outcome is not Outcome.NEW
        if updating:
            change = changed_fraction((previous or {}).get(verdict.known_key or item.key), item)
            targets = [
                t for t in targets if t.route.update != "ignore" and change >= t.route.min_change
            ]
        if not targets:
            decision = (
                Decision.UNCHANGED
                if updating
                else (Decision.FILTERED if route_reasons else Decision.UNROUTED)
            )
            why = "; ".join(route_reasons) or f"no route includes source {source.name!r}"
            if updating:
                why = f"{verdict.reason}; no route passes updates on (update policy, min_change)"
            plans.append(Plan(verdict, decision, why))
            continue
        messages: list[Message] = []
        held: dict[str, str] = {}
        try:
            for target in targets:
                if target.route.approve:
                    held[target.destination] = HOLD_APPROVAL
                elif hold is not None and not updating:
                    held[target.destination] = hold
                destination = config.destination(target.destination)
                kind = kinds[destination.kind]
                limit = _limit((destination.model_extra or {}).get("max_length"), kind.max_length)
                action = UPDATE_ACTIONS[target.route.update] if updating else "post"
                if action == "edit" and not kind.can_edit:
                    action = "reply"
                message = renderer.render(
                    item,
                    destination=target.destination,
                    markup=kind.markup,
                    context=context,
                    template=target.route.template,
                    limit=limit,
                    measure=kind.measure,
                    headline=kind.title_in_body,
                    action=action,
                )
                messages.append(message)
        except RenderError as exc:
            log.error("render source=%s item=%s error=%s", source.name, item.key, exc)
            plans.append(Plan(verdict, Decision.RENDER_FAILED, str(exc)))
            continue
        decision = Decision.UPDATED if updating else Decision.QUEUED
        why = f"{verdict.reason}; " + "; ".join(route_reasons)
        if hold is not None and not updating:
            why += f"; held for the operator ({hold})"
        plans.append(Plan(verdict, decision, why, tuple(messages), held))
    return plans


def poll_hold(
    verdicts: Sequence[Verdict],
    config: Config,
    *,
    first_run_done: bool,
    lookalikes: Collection[str] = (),
) -> str | None:
    """Why this poll's new items wait for the operator, or None (they go out).

    Only a source past its first run is judged (a first run holds back by its own rule).

    - A flood: more new items than ``[health] flood_limit`` in one poll.
    - An unstable identity: of the poll's items, ``[health] unstable_share`` or more (and
      at least two) are new to identify, yet match a stored item of the source by title and
      publication date (``lookalikes``): the publisher renumbered its ids or moved its
      links in a way the canonical link does not catch.

    Changed items are not held: their ids are known, so their updates are no surprise.
    """
    if not first_run_done:
        return None
    new = sum(1 for v in verdicts if v.outcome is Outcome.NEW)
    if new > config.health.flood_limit:
        return f"flood: {new} new items in one poll"
    count = len(lookalikes)
    if count >= 2 and count >= config.health.unstable_share * len(verdicts):
        return (
            f"unstable identity: {count} of {len(verdicts)} items have new ids but the "
            "title and date of a stored item"
        )
    return None
