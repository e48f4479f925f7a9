"""`[service] processes`: helper processes poll beside the service, each source once."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path

import pytest
from aiohttp import web

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


class HeldFeedServer(FeedServer):
    """A feed server that holds its answers until as many requests wait as only two
    processes polling at once can send: then both are polling. Counts, not the clock,
    decide: on a slow machine a helper that joins late still joins."""

    def __init__(self, waiting: int) -> None:
        super().__init__()
        self.waiting = waiting
        self.held = 0
        self.first_request = threading.Event()
        self._open: asyncio.Event | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._open is None:
            self._open = asyncio.Event()  # on the server's own loop
        self.first_request.set()
        self.held += 1
        if self.held >= self.waiting:
            self._open.set()
        await self._open.wait()
        return await super()._handle(request)


def _starting_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Helpers start only once the returned file exists (a helper that is slow to start,
    as on a loaded machine)."""
    gate = tmp_path / "helpers-may-start"
    wrapper = tmp_path / "python-after-gate"
    wrapper.write_text(
        f"#!/bin/sh\nwhile [ ! -e '{gate}' ]; do sleep 0.01; done\nexec '{sys.executable}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(wrapper))
    return gate


async def test_the_service_polls_while_its_helper_starts_and_shares_once_it_is_ready(
    store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process polls before its helper is ready, and the helper then takes a share.

    The service's own requests (``concurrency`` of them) are held by the server until the
    helper's first one arrives too, so neither depends on how fast the helper starts:
    the test assumed it joined within about 1.5 s, and failed under load."""
    concurrency = 4
    server = HeldFeedServer(waiting=concurrency + 1).start()
    try:
        loaded = load(_config(server, store_url, tmp_path))
        gate = _starting_late(tmp_path, monkeypatch)
        async with Service(loaded, store, processes=2) as service:
            polling = asyncio.create_task(service.poll_due(force=True))
            # the helper cannot start yet: requests arrive all the same
            assert await asyncio.to_thread(server.first_request.wait, 120)
            assert server.held > 0
            gate.touch()
            await service.ready()
            reports = await asyncio.wait_for(polling, 120)  # a guard against hanging only
        assert 0 < len(reports) < SOURCES  # the helper joined in
        assert all(len(server.hits(f"/f{n}.xml")) == 1 for n in range(SOURCES))
        assert sorted(board_titles(store)) == sorted(f"Artikel {n}" for n in range(SOURCES))
    finally:
        server.stop()


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
