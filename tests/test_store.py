"""The SQLite store's housekeeping: its log checkpointed off the event loop, one writer at a time."""

from __future__ import annotations

import asyncio
import os
import platform
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

import newsbote.store as store_module
from newsbote.store import Store, open_store
from newsbote.store.engine import Checkpointer, WriteLock
from newsbote.store.schema import events

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _write_ten_megabytes(store: Store) -> None:
    with store.begin() as connection:
        connection.execute(
            events.insert(),
            [{"at": NOW, "kind": "note", "message": "x" * 4000} for _ in range(2500)],
        )


def _file_size(path: Path) -> int:
    return os.stat(path).st_size


def test_the_log_is_copied_back_by_the_checkpointer_not_by_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "newsbote.db"
    monkeypatch.setattr(Checkpointer, "LIMIT", 1 << 40)  # the thread waits: nobody else copies
    store = open_store(f"sqlite:///{path}")
    try:
        _write_ten_megabytes(store)
        time.sleep(3 * Checkpointer.INTERVAL)
        assert _file_size(Path(f"{path}-wal")) > 10_000_000
        assert _file_size(path) < 1_000_000  # no commit checkpointed (SQLite's default would)
    finally:
        store.close()
    assert _file_size(path) > 10_000_000  # closing checkpoints what is left


def test_the_checkpointer_keeps_up_while_the_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "newsbote.db"
    store = open_store(f"sqlite:///{path}")
    try:
        _write_ten_megabytes(store)
        deadline = time.monotonic() + 10
        while _file_size(path) < 10_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _file_size(path) > 10_000_000
    finally:
        store.close()


def test_an_in_memory_store_has_no_checkpointer() -> None:
    store = open_store("sqlite:///:memory:")
    try:
        assert store._checkpointer is None
    finally:
        store.close()


def test_two_holders_of_the_write_lock_take_turns(tmp_path: Path) -> None:
    # two WriteLocks are two open lock files, as two processes have: one holder at a time
    locks = [WriteLock(str(tmp_path / "newsbote.db")) for _ in range(2)]
    inside: list[int] = []
    overlaps: list[int] = []

    def hold(lock: WriteLock, n: int) -> None:
        for _ in range(20):
            with lock:
                inside.append(n)
                if len(inside) > 1:
                    overlaps.append(n)
                time.sleep(0.002)
                inside.remove(n)

    threads = [threading.Thread(target=hold, args=(lock, n)) for n, lock in enumerate(locks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for lock in locks:
        lock.close()
    assert overlaps == [] and inside == []


def test_a_store_writes_under_its_write_lock(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'newsbote.db'}")
    other = WriteLock(str(tmp_path / "newsbote.db"))
    try:
        with other:  # held elsewhere: the store's transaction waits for it
            done = threading.Event()

            def write() -> None:
                store.call(lambda connection: None)
                done.set()

            thread = threading.Thread(target=write)
            thread.start()
            assert not done.wait(0.3)
        assert done.wait(10)
        thread.join()
    finally:
        other.close()
        store.close()


def test_the_write_lock_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    import fcntl

    lock = WriteLock(str(tmp_path / "newsbote.db"))
    other = os.open(lock.path, os.O_RDWR | os.O_CREAT)  # another process's view of the file

    def free() -> bool:
        try:
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(other, fcntl.LOCK_UN)
        return True

    with lock, lock:
        assert not free()  # held through both levels
    assert free()  # released on the way out: the next holder gets it at once
    lock.close()
    os.close(other)


def test_a_new_database_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    from newsbote.store.engine import PAGE_SIZE

    new = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    assert new.call(lambda c: c.exec_driver_sql("PRAGMA page_size").scalar()) == PAGE_SIZE
    new.close()
    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as made_before:  # a store from before: 4 KB pages, WAL
        made_before.execute("PRAGMA page_size=4096")
        made_before.execute("PRAGMA journal_mode=WAL")
        made_before.execute("CREATE TABLE t (x)")
    made_before.close()
    old = open_store(f"sqlite:///{old_path}")
    assert old.call(lambda c: c.exec_driver_sql("PRAGMA page_size").scalar()) == 4096
    assert old.is_current()
    old.close()


async def test_a_read_neither_waits_for_a_writer_nor_takes_the_write_lock(
    tmp_path: Path,
) -> None:
    path = tmp_path / "newsbote.db"
    store = open_store(f"sqlite:///{path}")
    writer = sqlite3.connect(path, isolation_level=None)
    other = WriteLock(str(path))

    def count(connection: Connection) -> int:
        return int(connection.exec_driver_sql("SELECT count(*) FROM events").scalar_one())

    try:
        with other:  # another process is writing: it holds both locks
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO events (at, kind, message) VALUES ('2026-11-01', 'n', 'x')")
            # the snapshot before the other's commit, at once (a write would wait for it)
            assert await asyncio.wait_for(asyncio.to_thread(store.read_now, count), 5) == 0
            writer.execute("COMMIT")
        assert await store.read(count) == 1
    finally:
        writer.close()
        other.close()
        store.close()


ARENA_PROBE = """
import ctypes, ctypes.util, sys, threading
from newsbote.store.engine import limit_malloc_arenas
limited = limit_malloc_arenas(2) if sys.argv[1] == "limit" else False
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
started, done = threading.Barrier(9), threading.Event()
def work():
    kept = [bytearray(65536) for _ in range(20)]  # from the thread's arena, not mmap
    started.wait()
    done.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads:
    thread.start()
started.wait()
report = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, report)
libc.fclose(report)
done.set()
for thread in threads:
    thread.join()
print(limited, open(sys.argv[2]).read().count("<heap nr="))
"""


def _arenas(tmp_path: Path, mode: str, **environment: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | environment
    done = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, mode, str(tmp_path / f"{mode}.xml")],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    limited, heaps = done.stdout.split()
    return limited, int(heaps)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")
def test_the_store_threads_share_two_malloc_arenas(tmp_path: Path) -> None:
    """Eight threads that allocate get eight arenas of their own, unless limited."""
    assert _arenas(tmp_path, "free") == ("False", 9)  # the main thread's and eight more
    assert _arenas(tmp_path, "limit") == ("True", 2)
    # an operator's MALLOC_ARENA_MAX wins
    assert _arenas(tmp_path, "limit", MALLOC_ARENA_MAX="4") == ("False", 4)


def test_a_postgresql_store_limits_the_arenas_and_sqlite_leaves_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def limit() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(store_module, "limit_malloc_arenas", limit)
    open_store(f"sqlite:///{tmp_path / 'newsbote.db'}").close()
    assert calls == []
    Store("postgresql://nobody@127.0.0.1:1/none").close()  # connects only when used
    assert calls == [1]


def test_a_new_database_and_its_log_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """The database holds every article, the ledger and the board: with the common umask
    022 SQLite made it (and its -wal and -shm files) readable by every local user."""
    previous = os.umask(0o022)
    try:
        path = tmp_path / "sub" / "newsbote.db"
        store = open_store(f"sqlite:///{path}")
        try:
            _write_ten_megabytes(store)  # a log that is not yet copied back
            made = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(p.exists() for p in made)
            assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == {
                p.name: "0o600" for p in made
            }
        finally:
            store.close()
    finally:
        os.umask(previous)


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "newsbote.db"
    open_store(f"sqlite:///{path}").close()
    path.chmod(0o640)  # an operator's choice, e.g. for a backup group
    open_store(f"sqlite:///{path}").close()
    assert path.stat().st_mode & 0o777 == 0o640
