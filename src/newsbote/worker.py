"""The service: the polling loop, the delivery loop and the web server, with graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from newsbote import metrics
from newsbote.config import LoadedConfig, SourceConfig
from newsbote.deliver import DeliverContext, Destination, destination_kinds
from newsbote.deliver.base import InStoreDestination
from newsbote.deliver.runner import config_hash, deliver_due, send_notices
from newsbote.fetch import Fetcher
from newsbote.pipeline import Context, PollReport, poll_source, record_crash
from newsbote.processes import Helpers
from newsbote.render import Renderer
from newsbote.store import Store
from newsbote.store.health import add_digest, announce, sync_destinations, unannounced
from newsbote.store.sources import (
    SourceState,
    claim_due,
    make_due,
    release,
    sync_sources,
    unfinished,
)

log = logging.getLogger("newsbote.worker")

SOURCE_LEASE = 300.0
STOP_GRACE = 10.0
"""Seconds a stopping service waits for its polls in flight before it cancels them."""
GC_THRESHOLD = (20_000, 20, 50)
"""The cyclic collector's thresholds while a service runs (Python's default: 700, 10, 10)."""
TICK = 1.0


def build_destinations(loaded: LoadedConfig, store: Store) -> dict[str, Destination[Any]]:
    config = loaded.config
    context = DeliverContext(
        store=store, bot=config.bot, language=config.language, base_dir=loaded.base_dir
    )
    kinds = destination_kinds()
    return {
        d.name: kinds[d.kind](d.name, loaded.destination_options[d.name], context)
        for d in config.destinations
    }


def digest_moment(now: datetime, at: str, zone: str) -> datetime:
    """Today's digest time (``at``, HH:MM in ``zone``) as an aware datetime."""
    tz = ZoneInfo(zone)
    hours, minutes = (int(part) for part in at.split(":"))
    return datetime.combine(now.astimezone(tz).date(), time(hours, minutes), tz)


class PollProgress(Protocol):
    """Hears how a cycle goes (``newsbote run --once`` shows a progress bar)."""

    def start(self, total: int) -> None:
        """``total`` sources are due."""

    def advance(self, report: PollReport) -> None:
        """One of them was polled here (with helper processes, others poll the rest)."""


class Service:
    """Runs polls and deliveries against one store until stopped.

    With ``processes`` > 1 it starts that many minus one helper processes on the same
    store (:mod:`newsbote.processes`), which poll and deliver beside it.
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        store: Store,
        *,
        processes: int = 1,
        polls_when_woken: bool = False,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.store = store
        self.fetcher = Fetcher(self.config.service)
        self.destinations = build_destinations(loaded, store)
        self.context = Context(
            config=self.config,
            store=store,
            fetcher=self.fetcher,
            renderer=Renderer(loaded.base_dir),
            in_store={
                name: d
                for name, d in self.destinations.items()
                if isinstance(d, InStoreDestination) and d.posts_while_enqueued
            },
        )
        self._stop = asyncio.Event()
        self._work = asyncio.Event()
        self._schedule = asyncio.Event()
        self._polls: set[asyncio.Task[None]] = set()
        self._busy = 0
        self._idle = asyncio.Event()
        """Set while no poll runs."""
        self._idle.set()
        self._gc_threshold = gc.get_threshold()
        self._woken = not polls_when_woken
        """A helper polls once the service woke it: it polls what the service made due."""
        self._helpers = Helpers(loaded.path, processes - 1) if processes > 1 else None
        self._joining: asyncio.Task[None] | None = None
        """The helpers' start, awaited beside this process's first polls."""
        self._queue: asyncio.Queue[tuple[SourceConfig, SourceState]] = asyncio.Queue()
        self._digest_checked: datetime | None = None
        """Today's digest moment, once this process wrote (or found) its digest."""

    def stop(self) -> None:
        self._stop.set()
        self._work.set()
        self._schedule.set()

    @property
    def helper_pids(self) -> list[int]:
        """The helper processes' ids (none without ``processes`` > 1)."""
        return self._helpers.pids if self._helpers is not None else []

    def wake(self) -> None:
        """Look for due sources now (another process made some due)."""
        self._woken = True
        self._schedule.set()

    async def __aenter__(self) -> Service:
        # Store threads (PostgreSQL) hand the GIL back after each statement; a shorter
        # switch interval keeps them from queueing 5 ms behind the event loop each time.
        sys.setswitchinterval(0.001)
        await self.store.run(sync_sources, self.config.sources, datetime.now(UTC))
        hashes = {name: config_hash(d) for name, d in self.destinations.items()}
        for name in await self.store.run(sync_destinations, hashes, datetime.now(UTC)):
            log.info("health destination=%s state=ok reason=config_changed", name)
        # What exists now (modules, config, templates) lives as long as the service:
        # the cyclic collector need not walk it again on every full collection.
        gc.freeze()
        if self._helpers is not None:
            # they take a moment to import and read the config: this process polls meanwhile
            await self._helpers.start()
            self._joining = asyncio.create_task(self._join(self._helpers))
        # A poll allocates thousands of short-lived, acyclic objects (freed by their
        # reference counts); collecting every 700 allocations walked them for nothing:
        # 0.3 s of a cold start of 1,000 feeds, 0.05 s with this (peak RSS unchanged).
        self._gc_threshold = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLD)
        return self

    async def _join(self, helpers: Helpers) -> None:
        """Let the helpers poll once they are ready; if one cannot start, stop the service
        (leaving it raises the error)."""
        try:
            await helpers.ready()
        except Exception:  # NewsboteError naming the helper; anything else is a bug
            self.stop()
            raise
        helpers.wake()  # what this process made due meanwhile, they share from now on

    async def ready(self) -> None:
        """Wait until the helper processes poll (at once without helpers); raises
        :class:`~newsbote.errors.NewsboteError` if one cannot start."""
        if self._joining is not None:
            await asyncio.shield(self._joining)

    async def __aexit__(self, *exc: object) -> None:
        gc.set_threshold(*self._gc_threshold)
        joining = self._joining
        if joining is not None and not joining.done():
            joining.cancel()
            await asyncio.gather(joining, return_exceptions=True)
        if self._helpers is not None:
            await self._helpers.stop()
        queued: list[int] = []
        while not self._queue.empty():
            queued.append(self._queue.get_nowait()[1].id)
        if queued:  # leased but never started: free them for the next start or another worker
            await self.store.run(release, queued)
        # the polls in flight end (a cancelled one would keep its source leased for minutes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE)
        for task in list(self._polls):
            task.cancel()
        await asyncio.gather(*self._polls, return_exceptions=True)
        await self.fetcher.close()
        for destination in self.destinations.values():
            await destination.close()
        if joining is not None and joining.done() and not joining.cancelled():
            failure = joining.exception()  # retrieved either way
            if failure is not None and exc[0] is None:
                raise failure

    async def poll_due(
        self, *, force: bool = False, progress: PollProgress | None = None
    ) -> list[PollReport]:
        """Poll every due source once (with ``force``: every enabled one), ``concurrency``
        at a time, and wait for all of them; ``progress`` hears how many and each poll.

        Sources are leased a chunk at a time, as pollers need them: a cycle of 10,000
        never holds (or reads back) 10,000 rows at once. With helper processes the
        chunks are small, so the processes share the work, and this waits for the
        helpers' polls too (the reports are this process's).
        """
        enabled = {s.name: s for s in self.config.sources if s.enabled}
        names = list(enabled)
        started = datetime.now(UTC)
        if force:
            await self.store.run(make_due, names, started)
        if progress is not None:
            progress.start(await self.store.read(unfinished, names, started))
        concurrency = self.config.service.concurrency
        # a claim reads every configured source's row: few claims for many sources, but
        # small ones beside helpers, so that no process holds work another could do
        chunk = max(concurrency, len(names) // 10)
        if self._helpers is not None:
            self._helpers.wake()
            chunk = max(1, concurrency // 10, len(names) // 100)
        pending: deque[SourceState] = deque()
        reports: list[PollReport] = []
        claiming = asyncio.Lock()
        exhausted = False

        async def worker() -> None:
            nonlocal exhausted
            while True:
                if not pending:
                    async with claiming:  # one claim at a time, however many pollers wait
                        if not pending and not exhausted:
                            claimed = await self.store.run(
                                claim_due,
                                names,
                                datetime.now(UTC),
                                SOURCE_LEASE,
                                limit=chunk,
                                due_by=started,
                            )
                            exhausted = not claimed
                            pending.extend(claimed)
                    if not pending:
                        return
                    continue
                state = pending.popleft()
                reports.append(await self._poll(enabled[state.name], state))
                if progress is not None:
                    progress.advance(reports[-1])

        while True:
            exhausted = False
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            if self._helpers is None or not self._helpers.alive:
                return reports
            if not await self.store.read(unfinished, names, datetime.now(UTC), started):
                return reports
            await asyncio.sleep(0.02)  # the helpers' polls in flight (or a claim raced)

    async def _poll(self, source: SourceConfig, state: SourceState) -> PollReport:
        self._busy += 1
        self._idle.clear()
        try:
            report = await poll_source(self.context, source, state)
        except Exception:
            log.exception("poll source=%s crashed; it will be retried after a backoff", source.name)
            try:
                report = await record_crash(self.context, source, state)
            except Exception:  # the store itself failed: the lease frees the source later
                log.exception("poll source=%s: its crash was not recorded", source.name)
                report = PollReport(source.name, "crashed", error="internal error, see the log")
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()
        metrics.count_poll(report.status)
        recorded = report.recorded
        if recorded is not None:
            posted = recorded.posted or {}
            for destination, count in posted.items():
                metrics.count_delivery(destination, "sent", count)
            if recorded.queued > sum(posted.values()):
                self._work.set()
        return report

    async def deliver_all(self) -> int:
        """Deliver until nothing is due now, or until the service stops (after the round
        in flight: a backlog of thousands does not hold up a stop); return how many
        deliveries were attempted."""
        attempted = 0
        while not self._stop.is_set():
            outcomes = await deliver_due(
                self.store, self.destinations, lease=self.config.service.delivery_lease
            )
            for outcome in outcomes:
                metrics.count_delivery(
                    outcome.delivery.destination, "sent" if outcome.receipt else "error"
                )
            attempted += len(outcomes)
            if not outcomes:
                break
        await self.health_round()
        return attempted

    async def health_round(self) -> None:
        """Announce the health changes not yet told (a source or destination failing,
        disabled, recovered), write the daily digest when due, and send the notices to
        the ``[health] notify`` destinations."""
        health = self.config.health
        now = datetime.now(UTC)
        if await self.store.read(unannounced, health.notify_after):
            written = await self.store.run(
                announce,
                language=self.config.language,
                notify_after=health.notify_after,
                disable_after=health.disable_after,
                now=now,
                configured=[s.name for s in self.config.sources],
            )
            if written:
                log.info("health notices=%d", len(written))
        if health.digest:
            moment = digest_moment(now, health.digest_at, health.timezone)
            if now >= moment and self._digest_checked != moment:
                await self.store.run(
                    add_digest, since=moment, language=self.config.language, now=now
                )
                self._digest_checked = moment
        await send_notices(
            self.store,
            self.destinations,
            health.notify,
            language=self.config.language,
            lease=self.config.service.delivery_lease,
        )

    async def run_once(
        self, *, force: bool = False, progress: PollProgress | None = None
    ) -> list[PollReport]:
        reports = await self.poll_due(force=force, progress=progress)
        await self.deliver_all()
        return reports

    async def run_forever(self, *, poll: bool = True) -> None:
        """Poll and deliver until :meth:`stop` is called; ``poll=False`` only delivers
        (a ``newsbote worker``: several may drain one PostgreSQL ledger side by side).
        """
        if not poll:
            await self._loop(self._deliver_round, self._stop)
            return
        if self._helpers is not None:
            self._helpers.wake()
        for _ in range(self.config.service.concurrency):
            task = asyncio.create_task(self._poller())
            self._polls.add(task)
            task.add_done_callback(self._polls.discard)
        await asyncio.gather(
            self._loop(self._schedule_round, self._schedule),
            self._loop(self._deliver_round, self._work),
        )

    async def _loop(self, round_: Callable[[], Awaitable[None]], wake: asyncio.Event) -> None:
        """Run ``round_`` every TICK, or sooner when ``wake`` is set (a poll queued posts)."""
        while not self._stop.is_set():
            try:
                await round_()
            except Exception:
                log.exception("service round failed; continuing")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), TICK)
            if wake is not self._stop:
                wake.clear()

    async def _schedule_round(self) -> None:
        """Lease only what the pollers can start soon: a source is not held for nothing
        (nor kept from a helper process that could poll it sooner)."""
        if not self._woken:
            return
        concurrency = self.config.service.concurrency
        room = concurrency - self._busy - self._queue.qsize()
        if room <= 0 or (room < max(1, concurrency // 4) and self._queue.qsize()):
            return  # a claim per finished poll would cost more than it gains
        enabled = {s.name: s for s in self.config.sources if s.enabled}
        claimed = await self.store.run(
            claim_due, list(enabled), datetime.now(UTC), SOURCE_LEASE, limit=room
        )
        for state in claimed:
            self._queue.put_nowait((enabled[state.name], state))

    async def _poller(self) -> None:
        while True:
            source, state = await self._queue.get()
            try:
                await self._poll(source, state)
            finally:
                self._queue.task_done()
                if self._queue.qsize() < self.config.service.concurrency:
                    self._schedule.set()  # running low: lease more now, not at the next tick

    async def _deliver_round(self) -> None:
        await self.deliver_all()
