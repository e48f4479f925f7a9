"""Commands tell the truth: exit codes as documented, errors that name their cause in
plain words, and nothing silently empty or silently undone."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from sqlalchemy import update
from typer.testing import CliRunner

from newsbote import cli
from newsbote.cli import app
from newsbote.config.schema import ServiceConfig
from newsbote.deliver.http import HttpDestination
from newsbote.errors import DeliveryError, FetchError, StorageError
from newsbote.fetch import Fetcher
from newsbote.store import open_store
from newsbote.store.engine import HEAD_REVISION
from newsbote.store.schema import deliveries
from newsbote.worker import build_destinations
from tests.helpers import add_destination, feed_config, load, write_config
from tests.servers import FeedServer, WebhookReceiver, free_port, rss

runner = CliRunner()
ITEMS = [("g1", "https://example.org/1", "Erster Artikel")]
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture(autouse=True)
def wide_terminal() -> Iterator[None]:
    """A terminal wide enough that no line is wrapped: the tests read whole sentences."""
    saved = [(console, console._width) for console in (cli.console, cli.errors)]
    for console, _ in saved:
        console.width = 300
    yield
    for console, width in saved:
        console._width = width


def closed_url(path: str = "/hook") -> str:
    """A URL of 127.0.0.1 at a port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}{path}"


def hook_config(tmp_path: Path, sqlite_url: str, feed_server: FeedServer, url: str) -> Path:
    path = feed_config(tmp_path, sqlite_url, feed_server.url("/feed.xml"), ["hook"])
    add_destination(path, "hook", "webhook", url=url, allow_private=True)
    return path


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(b"unused").start()
    yield server
    server.stop()


# ---- exit codes: non-zero where something the user asked for failed ----


def test_run_once_exits_1_when_a_source_fails(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    """It exited 0 with the failure as a yellow note."""
    feed_server.set("/feed.xml", status=500, conditional=False)
    path = feed_config(tmp_path, sqlite_url, feed_server.url("/feed.xml"), ["board"])
    code, output = invoke("run", "--once", "-c", str(path))
    assert code == 1, output
    assert "✗ source blog:" in output and "HTTP 500" in output


def test_run_once_and_drain_exit_1_when_a_delivery_fails(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    """A delivery that failed in the run was only in the ledger counts; exit 0."""
    feed_server.set("/feed.xml", rss(ITEMS))
    path = hook_config(tmp_path, sqlite_url, feed_server, closed_url())
    code, output = invoke("run", "--once", "-c", str(path))
    assert code == 1, output
    assert "✗ delivery #1 to hook: failed:" in output
    assert "connection refused by 127.0.0.1:" in output

    store = open_store(sqlite_url)
    try:  # due again now: a drain attempts it, and says it failed
        store.call(lambda c: c.execute(update(deliveries).values(next_attempt_at=LONG_AGO)))
    finally:
        store.close()
    code, output = invoke("worker", "--drain", "-c", str(path))
    assert code == 1, output
    assert "attempted 1 deliveries" in output and "✗ delivery #1 to hook" in output


def test_run_once_exits_0_when_all_went_well(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    """The other side of the exit code: a good run is 0."""
    feed_server.set("/feed.xml", rss(ITEMS))
    path = feed_config(tmp_path, sqlite_url, feed_server.url("/feed.xml"), ["board"])
    code, output = invoke("run", "--once", "-c", str(path))
    assert code == 0, output


def test_check_fails_for_a_webhook_that_cannot_be_reached(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer, receiver: WebhookReceiver
) -> None:
    """check only rendered a sample body: an unreachable URL passed as ✓."""
    path = hook_config(tmp_path, sqlite_url, feed_server, closed_url())
    code, output = invoke("check", "--no-fetch", "-c", str(path))
    assert code == 1, output
    assert "✗ destination hook:" in output and "connection refused by 127.0.0.1:" in output

    path = hook_config(tmp_path, sqlite_url, feed_server, receiver.url("/hook"))
    code, output = invoke("check", "--no-fetch", "-c", str(path))
    assert code == 0, output
    # the receiver takes POST only: its 405 to HEAD is an answer, so it is reachable
    assert "✓ destination hook: webhook to" in output and "HTTP 405" in output


def test_check_of_a_config_that_does_nothing_is_not_all_good(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The config init writes (no source) said "all good"."""
    path = write_config(tmp_path, sqlite_url, [])
    code, output = invoke("check", "-c", str(path))
    assert code == 1, output
    assert "no sources" in output and "newsbote add URL" in output and "all good" not in output


# ---- errors that name their cause ----


def test_a_bad_environment_variable_is_named_not_the_file(tmp_path: Path, sqlite_url: str) -> None:
    """It said "newsbote.toml:21: web.port: …" of a line that holds 8080."""
    path = write_config(tmp_path, sqlite_url, [], extra="[web]\nport = 8080\n")
    code, output = invoke("check", "-c", str(path), env={"NEWSBOTE_WEB_PORT": "abc"})
    assert code == 2, output
    assert "environment variable NEWSBOTE_WEB_PORT:" in output and "'abc'" in output
    assert str(path) not in output


def test_an_unsupported_store_names_the_supported_ones(tmp_path: Path) -> None:
    """It said "No module named 'MySQLdb'"."""
    with pytest.raises(StorageError) as caught:
        open_store("mysql://user:secret@localhost/news")
    message = str(caught.value)
    assert "'mysql' is not a supported database" in message
    assert "SQLite" in message and "PostgreSQL" in message
    assert "MySQLdb" not in message and "secret" not in message


def test_a_postgresql_error_has_no_sqlalchemy_background_link() -> None:
    """A refused login or connection ended in "(Background on this error at:
    https://sqlalche.me/…)": SQLAlchemy's page, not the operator's problem."""
    with pytest.raises(StorageError) as caught:
        open_store(f"postgresql://user:secret@127.0.0.1:{free_port()}/news")
    message = str(caught.value)
    assert "sqlalche.me" not in message and "Background on this error" not in message
    assert "postgresql://user:***@127.0.0.1" in message and "Connection refused" in message


def test_the_first_start_logs_no_alembic_lines(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Creating the schema logged seven "alembic … setup plugin" lines and one per revision."""
    with caplog.at_level(logging.INFO):
        open_store(sqlite_url).close()
    names = [record.name for record in caplog.records]
    assert not [name for name in names if name.startswith("alembic")], names
    assert [r.getMessage() for r in caplog.records if r.name == "newsbote.store"] == [
        f"store created url={sqlite_url} schema={HEAD_REVISION}"
    ]


# ---- the ledger commands ----


@pytest.fixture
def ledger(tmp_path: Path, sqlite_url: str, feed_server: FeedServer) -> Path:
    """A config whose ledger holds delivery 1, sent to the board."""
    feed_server.set("/feed.xml", rss(ITEMS))
    path = feed_config(tmp_path, sqlite_url, feed_server.url("/feed.xml"), ["board"])
    assert invoke("run", "--once", "-c", str(path))[0] == 0
    return path


def test_deliveries_refuses_an_unknown_state_destination_or_source(ledger: Path) -> None:
    """Each showed an empty table and exited 0."""
    code, output = invoke("deliveries", "--state", "dаed", "-c", str(ledger))
    assert code == 2 and "--state: expected one of pending, sending, sent" in output
    code, output = invoke("deliveries", "--state", "sen", "-c", str(ledger))
    assert code == 2 and "did you mean 'sent'?" in output
    code, output = invoke("deliveries", "--destination", "bord", "-c", str(ledger))
    assert code == 2 and "--destination" in output and "did you mean 'board'?" in output
    code, output = invoke("deliveries", "--source", "nope", "-c", str(ledger))
    assert code == 2 and "--source: expected a source's name, found 'nope'" in output
    code, output = invoke("deliveries", "--state", "dead", "-c", str(ledger))
    assert code == 0, output  # a known state with no rows is a plain empty listing


def test_retry_and_skip_say_why_they_did_not(ledger: Path) -> None:
    """Both said "0 delivery(ies) queued again" with exit 0."""
    code, output = invoke("retry", "9999", "-c", str(ledger))
    assert code == 1 and "delivery 9999 no such delivery" in output
    code, output = invoke("retry", "1", "-c", str(ledger))
    assert code == 1 and "delivery 1 was sent already" in output
    code, output = invoke("skip", "1", "9999", "-c", str(ledger))
    assert code == 1
    assert "delivery 1 was sent already" in output and "delivery 9999 no such" in output
    code, output = invoke("resolve", "9999", "--not-sent", "-c", str(ledger))
    assert code == 1 and "delivery 9999 no such delivery" in output


def test_a_skipped_delivery_shows_no_next_attempt(
    tmp_path: Path, sqlite_url: str, feed_server: FeedServer
) -> None:
    """A skipped row is never sent; the listing showed its old next attempt time."""
    feed_server.set("/feed.xml", rss(ITEMS))
    path = hook_config(tmp_path, sqlite_url, feed_server, closed_url())
    invoke("run", "--once", "-c", str(path))
    code, output = invoke("deliveries", "-c", str(path))
    assert "(in " in output  # the failed row: its next attempt
    code, output = invoke("skip", "1", "-c", str(path))
    assert code == 0 and "1 delivery(ies) skipped" in output
    code, output = invoke("deliveries", "-c", str(path))
    row = next(line for line in output.splitlines() if "skipped" in line)
    assert "(in " not in row and "–" in row


# ---- the config file and OPML ----

OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="Tech"><outline type="rss" text="heise" title="heise" xmlUrl="http://127.0.0.1/heise.rdf"/></outline>
  <outline type="rss" text="Zweiter  Blog" xmlUrl="http://127.0.0.1/two.xml"/>
  <outline type="rss" text="" xmlUrl="https://www.example.org/three.xml"/>
</body></opml>
"""


def test_import_opml_names_sources_by_their_titles(tmp_path: Path, sqlite_url: str) -> None:
    """An exported "heise" came back as "127.0.0.1"."""
    path = write_config(tmp_path, sqlite_url, [])
    opml = tmp_path / "in.opml"
    opml.write_text(OPML)
    code, output = invoke("import-opml", str(opml), "-c", str(path))
    assert code == 0 and "imported 3 new source(s) of 3" in output
    names = [s.name for s in load(path).config.sources]
    assert names == ["heise", "Zweiter Blog", "example.org"]


def test_import_of_a_file_that_is_no_opml_fails(tmp_path: Path, sqlite_url: str) -> None:
    """An RSS file given by mistake "imported 0 new source(s) of 0" with exit 0."""
    path = write_config(tmp_path, sqlite_url, [])
    before = path.read_bytes()
    feed = tmp_path / "feed.xml"
    feed.write_text(rss(ITEMS))
    code, output = invoke("import-opml", str(feed), "-c", str(path))
    assert code == 2 and "not an OPML file: its root element is <rss>" in output
    empty = tmp_path / "empty.opml"
    empty.write_text('<opml version="2.0"><body><outline text="folder"/></body></opml>')
    code, output = invoke("import-opml", str(empty), "-c", str(path))
    assert code == 2 and "no feed in it" in output
    assert path.read_bytes() == before


def test_export_opml_writes_a_local_file_as_the_config_does(
    tmp_path: Path, sqlite_url: str
) -> None:
    """It wrote the absolute path the config resolves the file to."""
    (tmp_path / "feeds").mkdir()
    path = write_config(tmp_path, sqlite_url, [{"name": "local", "url": "feeds/mine.xml"}])
    code, output = invoke("export-opml", "-c", str(path))
    assert code == 0, output
    assert 'xmlUrl="feeds/mine.xml"' in output and str(tmp_path) not in output


def test_add_puts_a_source_after_the_sources_with_a_blank_line(tmp_path: Path) -> None:
    """A new source went below the destinations' comments, with no blank line before
    the next block."""
    path = tmp_path / "newsbote.toml"
    assert invoke("init", "-c", str(path), "-s", "https://a.example/feed")[0] == 0
    assert invoke("add", "https://b.example/feed", "-c", str(path))[0] == 0
    text = path.read_text()
    assert (
        'url = "https://a.example/feed"\ninterval = "15m"\n\n'
        '[[sources]]\nname = "b.example"\nurl = "https://b.example/feed"\n\n# Destinations:'
    ) in text
    empty = tmp_path / "empty.toml"
    assert invoke("init", "-c", str(empty))[0] == 0
    assert invoke("add", "https://b.example/feed", "-c", str(empty))[0] == 0
    text = empty.read_text()
    assert text.index("[[sources]]") < text.index("# Destinations:")
    assert '\n\n[[sources]]\nname = "b.example"\nurl = "https://b.example/feed"\n\n#' in text
    assert [s.name for s in load(empty).config.sources] == ["b.example"]


@pytest.mark.parametrize("language", ["de", "en"])
def test_init_comments_in_one_language_with_links_that_exist(tmp_path: Path, language: str) -> None:
    """The German file had German and English comments, a dashboard that does not exist
    and "docs/" paths an installed package does not have."""
    path = tmp_path / "newsbote.toml"
    assert invoke("init", "-c", str(path), "--language", language)[0] == 0
    comments = "\n".join(line for line in path.read_text().splitlines() if "#" in line)
    assert "Konfiguration" not in comments and "Datenbank" not in comments
    assert "dashboard" not in comments.lower()
    assert "docs/" not in comments.replace("/tree/main/docs/", "")
    assert "https://github.com/newsbote/newsbote/tree/main/docs/configuration.md" in comments


# ---- transport errors in plain words, against real sockets ----

SERVICE = ServiceConfig(timeout=5)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


async def _tls_server(certificate: trustme.LeafCert) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    application = web.Application()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    application.router.add_route("*", "/{tail:.*}", answer)
    server = web.AppRunner(application)
    await server.setup()
    port = free_port()
    site = web.TCPSite(server, "127.0.0.1", port, ssl_context=context)
    await site.start()
    try:
        yield port
    finally:
        await server.cleanup()


@pytest.fixture
async def untrusted_tls(authority: trustme.CA) -> AsyncIterator[int]:
    """An HTTPS server on 127.0.0.1 whose certificate no system authority issued."""
    async for port in _tls_server(authority.issue_cert("127.0.0.1")):
        yield port


async def _fetch_error(url: str, fetcher: Fetcher | None = None) -> str:
    async with fetcher or Fetcher(SERVICE) as client:
        with pytest.raises(FetchError) as caught:
            await client.fetch(url, allow_private=True)
    return str(caught.value)


async def test_a_refused_fetch_says_so_and_what_to_check() -> None:
    """It said "connection failed: Cannot connect to host 127.0.0.1:9 ssl:default
    [Connect call failed ('127.0.0.1', 9)]"."""
    url = closed_url("/feed.xml")
    port = url.split(":")[2].split("/")[0]
    message = await _fetch_error(url.replace("://", "://reader:s3cret-pw@"))
    assert message == (
        f"http://reader:***@127.0.0.1:{port}/feed.xml: connection refused by "
        f"127.0.0.1:{port} (is the server running? is the port right?)"
    )


async def test_an_unknown_host_is_named_as_such() -> None:
    message = await _fetch_error("http://no-such-host.invalid/feed.xml")
    assert message.startswith("http://no-such-host.invalid/feed.xml: no such host")
    assert "'no-such-host.invalid'" in message and "Cannot connect" not in message


async def test_a_certificate_problem_is_named(untrusted_tls: int) -> None:
    message = await _fetch_error(f"https://127.0.0.1:{untrusted_tls}/feed.xml")
    assert f"the TLS certificate of 127.0.0.1:{untrusted_tls} is not accepted" in message
    assert "unable to get local issuer certificate" in message
    assert "ClientConnector" not in message and "ssl:" not in message


async def test_a_timeout_names_the_wait(feed_server: FeedServer) -> None:
    feed_server.set("/slow.xml", rss([]), delay=3)
    message = await _fetch_error(feed_server.url("/slow.xml"), Fetcher(ServiceConfig(timeout=1)))
    assert message.endswith("/slow.xml: timed out after 1s without an answer "
                            "(is the server overloaded? the address right?)")  # fmt: skip


def _destination(tmp_path: Path, sqlite_url: str, url: str) -> HttpDestination[Any]:
    path = write_config(tmp_path, sqlite_url, [])
    add_destination(path, "hook", "webhook", url=url, allow_private=True)
    loaded = load(path)
    store = open_store(sqlite_url)
    try:
        destination = build_destinations(loaded, store)["hook"]
    finally:
        store.close()
    assert isinstance(destination, HttpDestination)
    return destination


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("closed", "connection refused by 127.0.0.1:"),
        ("dns", "no such host 'no-such-host.invalid'"),
        ("untrusted", "is not accepted: unable to get local issuer certificate"),
    ],
)
async def test_a_destination_names_its_transport_problem(
    tmp_path: Path, sqlite_url: str, untrusted_tls: int, where: str, expected: str
) -> None:
    """It said "cannot connect: Cannot connect to host … ssl:default [Connect call failed …]"
    for the first and the library's class name for the others."""
    url = {
        "closed": closed_url("/hook/secret-token"),
        "dns": "http://no-such-host.invalid/hook/secret-token",
        "untrusted": f"https://127.0.0.1:{untrusted_tls}/hook/secret-token",
    }[where]
    destination = _destination(tmp_path, sqlite_url, url)
    try:
        with pytest.raises(DeliveryError) as caught:
            await destination.request("POST", url, json_body={})
    finally:
        await destination.close()
    message = str(caught.value)
    assert expected in message, message
    origin = url.rsplit("/hook", 1)[0]
    assert message.startswith(f"destination 'hook': {origin}: ")
    assert "secret-token" not in message and "Cannot connect" not in message
