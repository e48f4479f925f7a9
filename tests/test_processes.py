"""`[service] processes`: helper processes poll beside the service, each source once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from newsbote.errors import NewsboteError
from newsbote.processes import Helpers
from newsbote.store import Store
from newsbote.store.queries import source_rows
from newsbote.worker import Service
from tests.helpers import board_count, board_titles, load, write_config
from tests.servers import FeedServer, rss

SOURCES = 30


def _config(feed_server: FeedServer, store_url: str, tmp_path: Path) -> Path:
    for n in range(SOURCES):
        # slow answers, so both processes have polls in flight at once
        feed_server.set(
            f"/f{n}.xml",
            rss([(f"g{n}", f"https://example.org/{n}", f"Artikel {n}")]),
            delay=0.2,
        )
    sources = [
        {"name": f"s{n}", "url": feed_server.url(f"/f{n}.xml"), "allow_private": True}
        for n in range(SOURCES)
    ]
    return write_config(
        tmp_path, store_url, sources, extra="[service]\nconcurrency = 4\nprocesses = 2"
    )


async def test_a_forced_poll_is_shared_with_the_helper_and_posts_each_article_once(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    loaded = load(_config(feed_server, store_url, tmp_path))
    async with Service(loaded, store, processes=2) as service:
        (helper,) = service.helper_pids
        await service.ready()
        reports = await service.poll_due(force=True)
        # the helper polled some: this process's reports are fewer than the sources,
        # yet every source was fetched once and is on the board once
        assert 0 < len(reports) < SOURCES
        assert all(len(feed_server.hits(f"/f{n}.xml")) == 1 for n in range(SOURCES))
        assert board_count(store) == SOURCES
        assert sorted(board_titles(store)) == sorted(f"Artikel {n}" for n in range(SOURCES))
        rows = store.call(source_rows)
        assert all(row.lease_until is None and row.fetched_at is not None for row in rows)
        again = await service.poll_due(force=True)  # 304s now, shared again
        assert all(len(feed_server.hits(f"/f{n}.xml")) == 2 for n in range(SOURCES))
        assert len(again) < SOURCES and board_count(store) == SOURCES
    # leaving the service stopped the helper
    assert not Path(f"/proc/{helper}").exists() or _is_zombie(helper)


def _is_zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


async def test_a_helper_stops_when_the_services_pipe_closes(
    feed_server: FeedServer, store_url: str, store: Store, tmp_path: Path
) -> None:
    helpers = Helpers(_config(feed_server, store_url, tmp_path), 1)
    await helpers.start()
    await helpers.ready()
    assert helpers.alive == 1
    process = helpers._processes[0]
    assert process.stdin is not None
    process.stdin.close()  # what happens when the service dies, however it dies
    assert await asyncio.wait_for(process.wait(), 30) == 0
    assert helpers.alive == 0
    await helpers.stop()


async def test_a_helper_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "newsbote.toml"
    broken.write_text("store = 42\n")
    helpers = Helpers(broken, 1)
    await helpers.start()
    with pytest.raises(NewsboteError, match=r"helper process \d+ \(\[service\] processes\)"):
        await helpers.ready()
    assert helpers.alive == 0


async def test_the_service_polls_while_its_helper_starts_and_shares_once_it_is_ready(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    loaded = load(_config(feed_server, store_url, tmp_path))
    async with Service(loaded, store, processes=2) as service:
        polling = asyncio.create_task(service.poll_due(force=True))
        await service.ready()  # the helper imports and reads the config: a few 100 ms
        fetched_before = len(feed_server.requests)
        reports = await polling
    assert fetched_before > 0
    assert len(reports) < SOURCES  # the helper joined in
    assert all(len(feed_server.hits(f"/f{n}.xml")) == 1 for n in range(SOURCES))
    assert sorted(board_titles(store)) == sorted(f"Artikel {n}" for n in range(SOURCES))


async def test_a_service_whose_helper_cannot_start_stops_with_a_clear_error(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = load(_config(feed_server, store_url, tmp_path))
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the helper exits at once
    with pytest.raises(NewsboteError, match=r"helper process \d+ \(\[service\] processes\)"):
        async with Service(loaded, store, processes=2) as service:
            await asyncio.wait_for(service.run_forever(), 30)
    assert not any(row.lease_until for row in store.call(source_rows))  # none left leased


async def test_helpers_stopped_by_a_signal_of_their_own_exit_cleanly(
    feed_server: FeedServer, store_url: str, store: Store, tmp_path: Path
) -> None:
    """systemd sends SIGTERM to every process of the service. A helper used to read its
    pipe on a thread, and Python then aborted at exit (SIGABRT, "could not acquire lock
    for <stdin>")."""
    helpers = Helpers(_config(feed_server, store_url, tmp_path), 3)
    await helpers.start()
    await helpers.ready()
    for process in helpers._processes:
        process.terminate()
    codes = [await asyncio.wait_for(p.wait(), 30) for p in helpers._processes]
    await helpers.stop()
    assert codes == [0, 0, 0]
