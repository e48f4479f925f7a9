"""The store: SQLite (WAL) by default, PostgreSQL to scale out; one schema for both.

Database work runs in a small thread pool (one thread for SQLite, so writes
never contend) and is awaited by the asyncio service through :meth:`Store.run`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from newsbote.config.load import mask_url
from newsbote.errors import StorageError
from newsbote.store.engine import is_current, make_engine, migrate

P = ParamSpec("P")
T = TypeVar("T")


class Store:
    """A database handle: transactions, migrations, and a bridge for asyncio callers."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine = make_engine(url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StorageError(f"cannot open store {mask_url(url)}: {exc}") from exc
        workers = 1 if self.is_sqlite else 8
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="newsbote-store"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        migrate(self.engine)

    def is_current(self) -> bool:
        try:
            return is_current(self.engine)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read store {mask_url(self.url)}: {exc}") from exc

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction; errors come out as :class:`StorageError`."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StorageError(f"store {mask_url(self.url)}: {exc}") from exc

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn(connection, *args)`` in one transaction, synchronously."""
        with self.begin() as connection:
            return fn(connection, *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn(connection, *args)`` in one transaction on the store's thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self.call, fn, *args, **kwargs)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.engine.dispose()


def open_store(url: str, *, migrate_schema: bool = True) -> Store:
    store = Store(url)
    if migrate_schema:
        store.migrate()
    return store


__all__ = ["Store", "open_store"]
