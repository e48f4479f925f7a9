"""Several processes starting at once on one store: every one starts, each source is
stored once."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from newsbote.store import open_store
from newsbote.store.schema import sources
from tests.helpers import write_config
from tests.servers import FeedServer, rss

PROCESSES = 4
SOURCES = 20


def _start(barrier: Barrier, config: str) -> None:
    """One ``newsbote run --once``, released with the others at the same moment."""
    from newsbote.cli import app

    barrier.wait(120)  # a guard against hanging only
    app(["run", "--once", "--log-level", "WARNING", "-c", config])


def _stored(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(sources.c.name, func.count()).group_by(sources.c.name))
    return {str(name): int(count) for name, count in rows}


@pytest.mark.parametrize("migrated", [False, True], ids=["fresh", "migrated"])
def test_processes_starting_at_once_all_start_and_store_each_source_once(
    feed_server: FeedServer, store_url: str, tmp_path: Path, migrated: bool
) -> None:
    """On PostgreSQL the losers of the race died: on a fresh database with a
    UniqueViolation on Alembic's version table (each created the schema), on a migrated
    one with a UniqueViolation on sources_name_key (each found a source missing and
    inserted it)."""
    for n in range(SOURCES):
        feed_server.set(f"/f{n}.xml", rss([(f"g{n}", f"https://example.org/{n}", f"A{n}")]))
    config = write_config(
        tmp_path,
        store_url,
        [
            {"name": f"s{n}", "url": feed_server.url(f"/f{n}.xml"), "allow_private": True}
            for n in range(SOURCES)
        ],
    )
    if migrated:
        open_store(store_url).close()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a real start
    barrier = context.Barrier(PROCESSES)
    processes = [
        context.Process(target=_start, args=(barrier, str(config))) for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(300)  # a guard against hanging only
    codes = [process.exitcode for process in processes]
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert codes == [0] * PROCESSES
    store = open_store(store_url, migrate_schema=False)
    try:
        assert store.call(_stored) == {f"s{n}": 1 for n in range(SOURCES)}
    finally:
        store.close()
    # the processes shared the polls with leases: each feed fetched once
    assert all(len(feed_server.hits(f"/f{n}.xml")) == 1 for n in range(SOURCES))
