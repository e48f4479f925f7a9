"""The long-running service: bounded pollers, leases, graceful stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsbote import worker
from newsbote.config import LoadedConfig
from newsbote.pipeline import PollReport
from newsbote.store import Store
from newsbote.store.queries import source_rows
from newsbote.store.sources import claim_due, sync_sources
from newsbote.worker import Service
from tests.helpers import board_count, load, write_config
from tests.servers import FeedServer, rss


def _five_sources(feed_server: FeedServer, store_url: str, tmp_path: Path) -> LoadedConfig:
    """Five sources of one article each, polled by two pollers."""
    for n in range(5):
        feed_server.set(f"/f{n}.xml", rss([(f"g{n}", f"https://example.org/{n}", f"Artikel {n}")]))
    sources = [
        {"name": f"s{n}", "url": feed_server.url(f"/f{n}.xml"), "allow_private": True}
        for n in range(5)
    ]
    return load(write_config(tmp_path, store_url, sources, extra="[service]\nconcurrency = 2"))


async def _run_until_five_posts(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    """Five sources, two pollers: run the service until all five are on the board, then stop."""
    loaded = _five_sources(feed_server, store_url, tmp_path)
    async with Service(loaded, store) as service:
        running = asyncio.create_task(service.run_forever())
        for _ in range(200):
            if board_count(store) == 5:
                break
            await asyncio.sleep(0.1)
        service.stop()
        await asyncio.wait_for(running, 10)
    assert board_count(store) == 5


async def test_service_polls_posts_and_stops_cleanly(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    await _run_until_five_posts(feed_server, store, store_url, tmp_path)
    rows = store.call(source_rows)
    assert all(row.lease_until is None for row in rows)
    assert all(row.next_check_at > datetime.now(UTC) + timedelta(minutes=10) for row in rows)


async def test_pollers_running_low_lease_more_without_waiting_for_the_tick(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # two pollers lease at most four sources per round; the fifth must not wait for the
    # next tick (an hour here): a cold start of many sources is paced by the pollers only
    monkeypatch.setattr(worker, "TICK", 3600.0)
    await _run_until_five_posts(feed_server, store, store_url, tmp_path)


def test_claims_take_the_most_overdue_first_and_respect_the_limit(
    store: Store, tmp_path: Path
) -> None:
    sources = [{"name": f"s{n}", "url": f"https://example.org/{n}.xml"} for n in range(6)]
    loaded = load(write_config(tmp_path, "sqlite:///unused.db", sources))
    now = datetime.now(UTC)
    store.call(sync_sources, loaded.config.sources, now - timedelta(hours=1))
    names = [s.name for s in loaded.config.sources]
    first = store.call(claim_due, names, now, 60.0, limit=4)
    second = store.call(claim_due, names, now, 60.0, limit=4)
    third = store.call(claim_due, names, now, 60.0, limit=4)
    assert len(first) == 4 and len(second) == 2 and third == []
    assert {s.name for s in first} | {s.name for s in second} == set(names)


async def test_a_running_service_collects_cycles_less_often_and_restores_the_default(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    import gc

    before = gc.get_threshold()
    loaded = load(write_config(tmp_path, store_url, []))
    async with Service(loaded, store):
        assert gc.get_threshold() == worker.GC_THRESHOLD
    assert gc.get_threshold() == before


async def test_a_cycle_polls_each_source_once_even_when_it_is_due_again_before_the_cycle_ends(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    # a source due again 10 ms after its poll: the cycle (which takes longer) must end
    feed_server.set("/f.xml", rss([("g", "https://example.org/1", "Eins")]), delay=0.05)
    feed_server.set("/slow.xml", rss([("h", "https://example.org/2", "Zwei")]), delay=0.5)
    sources = [
        {"name": n, "url": feed_server.url(f"/{n}.xml"), "allow_private": True, "interval": 0.01}
        for n in ("f", "slow")
    ]
    extra = "[service]\nmin_interval = 0.01\njitter = 0\nconcurrency = 1"
    loaded = load(write_config(tmp_path, store_url, sources, extra=extra))
    async with Service(loaded, store) as service:
        reports = await asyncio.wait_for(service.poll_due(), 30)
    assert sorted(r.source for r in reports) == ["f", "slow"]
    assert len(feed_server.hits("/f.xml")) == 1


def test_claims_name_their_sources_exactly_whatever_the_names_hold(
    store: Store, tmp_path: Path
) -> None:
    odd = ["Tech-Blog äöü", 'mit "Anführung"', "back\\slash", "s,1", "x' OR '1'='1"]
    sources = [{"name": n, "url": f"https://example.org/{i}.xml"} for i, n in enumerate(odd)]
    loaded = load(write_config(tmp_path, "sqlite:///unused.db", sources))
    now = datetime.now(UTC)
    store.call(sync_sources, loaded.config.sources, now - timedelta(hours=1))
    assert {s.name for s in store.call(claim_due, odd[:2], now, 60.0, limit=10)} == set(odd[:2])
    assert {s.name for s in store.call(claim_due, odd, now, 60.0)} == set(odd[2:])


async def test_a_crashed_poll_frees_its_source_and_shows_the_error(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed_server.set("/f.xml", rss([("g", "https://example.org/1", "Eins")]))
    sources = [{"name": "f", "url": feed_server.url("/f.xml"), "allow_private": True}]
    loaded = load(write_config(tmp_path, store_url, sources))

    async def crash(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(worker, "poll_source", crash)
    async with Service(loaded, store) as service:
        reports = await service.poll_due(force=True)
    assert [(r.status, r.error) for r in reports] == [("crashed", "internal error, see the log")]
    (row,) = store.call(source_rows)
    assert row.lease_until is None and row.errors == 1
    assert row.last_error == "internal error, see the log"
    assert row.next_check_at > datetime.now(UTC)  # retried after a backoff, not at once


class _Recorder:
    def __init__(self) -> None:
        self.totals: list[int] = []
        self.polled: list[str] = []

    def start(self, total: int) -> None:
        self.totals.append(total)

    def advance(self, report: PollReport) -> None:
        self.polled.append(report.source)


async def test_a_cycle_tells_its_progress_how_many_sources_are_due_and_each_poll(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    loaded = _five_sources(feed_server, store_url, tmp_path)
    first, again, forced = _Recorder(), _Recorder(), _Recorder()
    async with Service(loaded, store) as service:
        await service.run_once(progress=first)
        await service.run_once(progress=again)  # nothing is due a second time
        await service.run_once(force=True, progress=forced)
    assert first.totals == [5] and sorted(first.polled) == [f"s{n}" for n in range(5)]
    assert again.totals == [0] and again.polled == []
    assert forced.totals == [5] and len(forced.polled) == 5
