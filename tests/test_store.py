"""The SQLite store's housekeeping: its write-ahead log is checkpointed off the event loop."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbote.store import open_store
from newsbote.store.engine import Checkpointer
from newsbote.store.schema import events

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _file_size(path: Path) -> int:
    return os.stat(path).st_size


def test_the_log_is_copied_back_by_the_checkpointer_not_by_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "newsbote.db"
    monkeypatch.setattr(Checkpointer, "LIMIT", 1 << 40)  # the thread waits: nobody else copies
    store = open_store(f"sqlite:///{path}")
    try:
        with store.begin() as connection:
            connection.execute(
                events.insert(),
                [{"at": NOW, "kind": "note", "message": "x" * 4000} for _ in range(2500)],
            )
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
        with store.begin() as connection:
            connection.execute(
                events.insert(),
                [{"at": NOW, "kind": "note", "message": "x" * 4000} for _ in range(2500)],
            )
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
