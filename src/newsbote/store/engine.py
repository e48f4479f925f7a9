"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema migrations."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from newsbote.config.load import mask_url
from newsbote.errors import StorageError

fcntl: Any = None
with contextlib.suppress(ImportError):  # POSIX; elsewhere SQLite's own locking only
    import fcntl

log = logging.getLogger("newsbote.store")
MIGRATIONS = Path(__file__).parent / "migrations"


SUPPORTED = "SQLite (sqlite:///PATH) and PostgreSQL (postgresql://USER@HOST/DATABASE)"
_DRIVERS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg"), "postgres": ("",)}


def plain(exc: BaseException) -> str:
    """An error of SQLAlchemy or a driver as the operator reads it: without SQLAlchemy's
    "(Background on this error at: https://sqlalche.me/…)" line, which explains
    SQLAlchemy, not the store."""
    lines = str(exc).splitlines()
    return "\n".join(
        line for line in lines if not line.startswith("(Background on this error at:")
    ).strip()


def check_supported(url: str) -> None:
    """Refuse a store URL of a database newsbote does not support, naming the ones it does
    (not the driver module SQLAlchemy would fail to import)."""
    scheme = url.partition("://")[0] if "://" in url else ""
    dialect, _, driver = scheme.lower().partition("+")
    if driver not in _DRIVERS.get(dialect, ()):
        raise StorageError(
            f"cannot open store {mask_url(url)}: "
            + (f"{scheme!r} is not a supported database" if scheme else "not a database URL")
            + f"; newsbote supports {SUPPORTED}"
        )


def normalize_url(url: str) -> str:
    """Pick the drivers we ship: psycopg 3 for PostgreSQL, the stdlib for SQLite."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL (None for an in-memory database or another kind)."""
    url = normalize_url(url)
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[1] if "///" in url else ""
    return path if path and path != ":memory:" else None


def make_engine(url: str, *, checkpointer: Checkpointer | None = None) -> Engine:
    """An engine; with a ``checkpointer`` (SQLite only) its connections never checkpoint."""
    check_supported(url)
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path:
            _create_private(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        if checkpointer is not None:
            event.listen(engine, "connect", _no_checkpoints)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (it holds every article and
    the delivery ledger; its URL may hold tokens). SQLite gives the write-ahead log and
    its index the database file's mode; an existing file keeps its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Let the threads created from now on share ``arenas`` glibc malloc arenas.

    glibc gives each thread that allocates its own arena (up to 8 per core), and an
    arena keeps what it once held. The PostgreSQL store's eight threads each build a
    group's rows, so at 10,000 sources their arenas held about 20 MB more than two
    would (peak RSS 182 → 166 MB, at the same speed: the threads mostly wait for the
    database, and Python code runs one thread at a time anyway). A
    ``MALLOC_ARENA_MAX`` in the environment wins; elsewhere than glibc this does nothing.
    Returns whether the limit was set.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    import ctypes

    try:  # the process's own symbols, libc's among them (no search for the library)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, arenas) == 1)


class WriteLock:
    """One writer at a time across the processes sharing a SQLite file, woken at once.

    SQLite itself makes a blocked writer poll, sleeping up to 100 ms between tries; with
    helper processes (``[service] processes``) that left a process idle while the lock
    had long been free. An ``flock`` on a file beside the database wakes the next writer
    the moment the lock is released. Reentrant within a thread; a no-op where there is
    no ``flock`` (SQLite's own locking still serializes writers there).
    """

    def __init__(self, path: str) -> None:
        self.path = f"{path}-newsbote.lock"
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        self._depth += 1
        if self._depth == 1 and fcntl is not None:
            try:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._depth -= 1
                self._thread_lock.release()
                raise

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Checkpointer:
    """Copies SQLite's write-ahead log back into the database file, on a thread of its own.

    By default SQLite does this on the committing connection, every 1,000 pages: in a
    burst of writes every few commits then waits for the disk, on the event loop
    (measured: 0.5 s of a 6.5 s cold start of 1,000 feeds). The store's connections
    never checkpoint here; this thread does, whenever the log has grown past
    :attr:`LIMIT` bytes, and once more when the store closes. sqlite3 lets go of the
    GIL while it copies, so the service runs on meanwhile.
    """

    INTERVAL = 0.2
    LIMIT = 4 << 20

    def __init__(self, path: str) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="newsbote-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _log_size(self) -> int:
        try:
            return os.stat(f"{self.path}-wal").st_size
        except OSError:
            return 0

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.INTERVAL):
                if self._log_size() > self.LIMIT:
                    connection = self._checkpoint(connection)
            if self._log_size():
                connection = self._checkpoint(connection)
        finally:
            if connection is not None:
                connection.close()

    def _checkpoint(self, connection: sqlite3.Connection | None) -> sqlite3.Connection | None:
        try:
            if connection is None:
                # opened once there is a log to copy: the database is in WAL mode by then
                connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                connection.execute("PRAGMA cache_size=4").close()  # copying needs no cache
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # the next round tries again; the log only grows meanwhile
            log.warning("checkpoint of %s failed: %s", self.path, exc)
        return connection

    def close(self) -> None:
        """Checkpoint once more and stop the thread."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()


def _no_checkpoints(connection: Any, _record: Any) -> None:
    connection.execute("PRAGMA wal_autocheckpoint=0").close()


PAGE_SIZE = 32768


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (BEGIN IMMEDIATE below), not the sqlite3 module.
    connection.isolation_level = None
    cursor = connection.cursor()
    # A new database gets 32 KB pages (an existing one keeps its own): an article's rows
    # are a few KB each, and with SQLite's 4 KB default most took a page (and its index
    # updates more) of their own. Measured on the poll benchmark: cold start of 1,000
    # feeds 5.2 s -> 4.8 s in one process, 3.5 s -> 3.1 s in two.
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


READ_ONLY = {"newsbote_read_only": True}
"""Execution options of a connection that only reads (``Store.read``)."""


def _sqlite_begin(connection: Any) -> None:
    # A write lock from the start: no deadlock between two upgrading readers. A reader
    # takes a snapshot and no lock: it waits for no writer, and no writer for it.
    read_only = connection.get_execution_options().get("newsbote_read_only")
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config as AlembicConfig  # migrations only: not resident

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


HEAD_REVISION = "0005"
"""The newest migration; a test keeps it equal to Alembic's head."""


MIGRATION_LOCK = 0x6E657773_62746501
"""The PostgreSQL advisory lock a migration holds (any constant of our own)."""


def _stored_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except SQLAlchemyError:
        return None


def migrate(engine: Engine, url: str | None = None) -> None:
    """Bring the schema to the newest revision (creating it on a fresh database).

    An up-to-date database is recognised without loading Alembic (it would stay resident).
    Alembic's own INFO lines (its plugins, each revision) stay out of the log: one line
    of ours says what happened. ``url`` is the store as the operator wrote it, for errors.
    """
    shown = mask_url(url or str(engine.url))
    stored = _stored_revision(engine)
    if stored == HEAD_REVISION:
        return
    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(max(level, logging.WARNING))
    try:
        from alembic import command  # its plugins log as they load

        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes starting at once on a fresh database migrate one after the
                # other (SQLite's BEGIN IMMEDIATE does the same); Alembic reads the
                # revision after the wait, so the later ones find nothing to do.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            command.upgrade(_alembic_config(connection), "head")
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot migrate store {shown}: {plain(exc)}") from exc
    finally:
        alembic_log.setLevel(level)
    log.info(
        "store %s url=%s schema=%s",
        "migrated" if stored else "created",
        shown,
        HEAD_REVISION,
    )


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest schema revision."""
    return _stored_revision(engine) == HEAD_REVISION


def alembic_head() -> str | None:
    """The head revision as Alembic sees the migration scripts."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
