"""Fixtures: the feed server, stores on SQLite and PostgreSQL, config files."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from newsbote.store import Store, open_store
from tests.mail import SmtpServer, smtp_server
from tests.misago import Forum, misago, misago_python
from tests.servers import FeedServer
from tests.synapse import Homeserver, homeserver, synapse_python
from tests.wordpress import Site, wordpress
from tests.wordpress import missing as wordpress_missing

CORPUS = Path(
    os.environ.get("NEWSBOTE_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus"
).resolve()
"""The shared corpus of real feeds and pages (beside the clone in CI and on developers'
machines; ``$NEWSBOTE_CORPUS`` names another place). Without it, the tests that need it
skip with one notice at the end, unless ``NEWSBOTE_REQUIRE_CORPUS=1`` (CI) makes them
fail. tests/fixtures/ holds small feeds of our own for the same behaviours."""
REQUIRE_CORPUS = os.environ.get("NEWSBOTE_REQUIRE_CORPUS") == "1"
POSTGRES = os.environ.get("NEWSBOTE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_POSTGRES = os.environ.get("NEWSBOTE_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def feed_server_session() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def feed_server(feed_server_session: FeedServer) -> FeedServer:
    feed_server_session.reset()
    return feed_server_session


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(POSTGRES, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    return _require_postgres()


def _require_postgres() -> str:
    problem = _postgres_available()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (NEWSBOTE_REQUIRE_POSTGRES=1) but unreachable: {problem}"
            )
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {problem}")
    return POSTGRES


def fresh_postgres(admin: str) -> Iterator[str]:
    name = f"newsbote_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in a temp dir, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'newsbote.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    yield from fresh_postgres(admin)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    handle = open_store(store_url)
    yield handle
    handle.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "corpus: needs the shared corpus (see CORPUS)")
    config.stash[_CORPUS_SKIPPED] = 0


_CORPUS_SKIPPED = pytest.StashKey[int]()


def _needs_corpus(item: pytest.Item) -> bool:
    """Marked ``corpus``, using the ``corpus`` fixture, or a test function whose own code
    names ``CORPUS``."""
    if item.get_closest_marker("corpus") is not None:
        return True
    if "corpus" in getattr(item, "fixturenames", ()):
        return True
    function = getattr(item, "function", None)
    return function is not None and "CORPUS" in function.__code__.co_names


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if CORPUS.is_dir() or not _needs_corpus(item):
        return
    if REQUIRE_CORPUS:
        pytest.fail(
            f"the shared corpus is required (NEWSBOTE_REQUIRE_CORPUS=1) but missing at {CORPUS}"
        )
    item.config.stash[_CORPUS_SKIPPED] += 1
    pytest.skip(f"corpus not found at {CORPUS}")


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    skipped = config.stash.get(_CORPUS_SKIPPED, 0)
    if skipped:
        terminalreporter.write_line(
            f"corpus not found at {CORPUS}; set NEWSBOTE_CORPUS=/path/to/corpus to run them "
            f"— {skipped} tests skipped (tests/fixtures/ covered the same behaviours)",
            yellow=True,
        )


@pytest.fixture
def corpus() -> Path:
    """The corpus's directory (a test using this is skipped or failed without it)."""
    return CORPUS


REQUIRE_SERVICES = os.environ.get("NEWSBOTE_REQUIRE_SERVICES") == "1"


def missing_service(what: str, problem: str) -> None:
    """Skip with a visible reason, or fail where CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (NEWSBOTE_REQUIRE_SERVICES=1): {problem}")
    pytest.skip(f"{what} unavailable: {problem}")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'newsbote.db'}"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    handle = open_store(sqlite_url)
    yield handle
    handle.close()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Homeserver]:
    """One real Synapse for the whole run (rooms keep the tests apart)."""
    if synapse_python() is None:
        missing_service("Synapse", "not installed in .synapse/ (make test installs it)")
    with homeserver(tmp_path_factory.mktemp("synapse")) as server:
        yield server


@pytest.fixture
def wordpress_site(tmp_path: Path) -> Iterator[Site]:
    """A fresh real WordPress with an editor and an application password."""
    problem = wordpress_missing()
    if problem:
        missing_service("WordPress", problem)
    with wordpress(tmp_path) as site:
        yield site


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1: STARTTLS required, then AUTH."""
    with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def misago_forum(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forum]:
    """One real Misago on the CI's PostgreSQL for the whole run (threads keep tests apart)."""
    if misago_python() is None:
        missing_service("Misago", "not installed in .misago/ (make test installs it)")
    admin = _require_postgres()
    with misago(admin, tmp_path_factory.mktemp("misago")) as forum:
        yield forum
