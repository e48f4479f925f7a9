"""The SSRF guard, local files and capped reads, against real local servers.

A refused address is proven refused by what did not happen: the local server
that the address would reach records no request, or the guard's socket factory
refused the socket (so no connect was attempted). "No file opened" is read from
Python's audit events, which every ``open`` raises.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel, ValidationError

from newsbote.config import ServiceConfig
from newsbote.config.schema import BotConfig, SourceConfig
from newsbote.deliver.base import DeliverContext
from newsbote.deliver.http import MAX_ANSWER, Answer
from newsbote.deliver.webhook import Webhook, WebhookOptions
from newsbote.errors import BlockedAddressError, DeliveryError, FetchError
from newsbote.fetch import Fetcher
from newsbote.fetch.guard import (
    Guard,
    RefusedAddress,
    connector,
    is_public_address,
    literal_address,
    refused_address,
)
from newsbote.store import Store
from newsbote.urlmask import mask_url
from tests.servers import FeedServer, Seen, rss

SERVICE = ServiceConfig(timeout=5, max_bytes=200_000)

# spellings of 127.0.0.1 that reach the local servers if the guard lets them through
LOOPBACK = (
    "①②⑦.0.0.1",
    "１２７．０．０．１",
    "127。0。0。1",
    "2130706433",
    "0x7f.1",
    "0177.0.0.1",
    "127.1",
    "[::ffff:127.0.0.1]",
    "localhost",
    "127.0.0.1",
)
# spellings of private addresses nothing listens on: refused before any socket exists
ELSEWHERE = (
    "①⑥⑨.②⑤④.①⑥⑨.②⑤④",
    "[::127.0.0.1]",
    "[64:ff9b::7f00:1]",
    "[64:ff9b::a00:1]",
    "[2002:7f00:1::]",
    "[64:ff9b:1::1]",
    "[fe80::1]",
    "10.0.0.1",
)


# -- observing file opens --------------------------------------------------------------

_opened: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _opened is not None:
        _opened.append(os.fsdecode(args[0]) if isinstance(args[0], str | bytes) else str(args[0]))


sys.addaudithook(_audit)


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """The paths opened (by ``open`` or ``os.open``) while the test runs."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


# -- servers ---------------------------------------------------------------------------


class ReplyServer(FeedServer):
    """A destination that answers any request: a huge streamed body, odd bytes, or a status
    with headers. ``sent`` counts the bytes of the huge body it managed to write."""

    HUGE = 50 * 1024 * 1024

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.finished = threading.Event()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._reply)

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Seen(request.path, dict(request.headers)))
        if request.path != "/huge":
            return await self._handle(request)
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            while self.sent < self.HUGE:
                await response.write(chunk)
                self.sent += len(chunk)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.finished.set()
        return response


@pytest.fixture
def other_server() -> Iterator[FeedServer]:
    """A second local server: a redirect's target that must receive nothing."""
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def reply_server() -> Iterator[ReplyServer]:
    server = ReplyServer().start()
    yield server
    server.stop()


def _hook(store: Store, url: str, *, allow_private: bool) -> Webhook:
    options = WebhookOptions(url=url, allow_private=allow_private)
    return Webhook("hook", options, DeliverContext(store=store, bot=BotConfig(), language="de"))


# -- classification --------------------------------------------------------------------


def test_ipv6_forms_are_judged_by_the_ipv4_address_they_carry() -> None:
    for refused in (
        "::ffff:127.0.0.1",
        "::127.0.0.1",
        "::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::808:808",  # local-use NAT64: never public
        "2002:7f00:1::",
        "2002:a00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
        "::",
        "::1",
    ):
        assert not is_public_address(refused), refused
    for public in ("::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111"):
        assert is_public_address(public), public


def test_legacy_ipv4_spellings_are_read_as_the_address_they_name() -> None:
    for spelling in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001", "127.0.0.1."):
        assert literal_address(spelling) == "127.0.0.1", spelling
    assert literal_address("[::ffff:7f00:1]") == "::ffff:7f00:1"
    for name in ("cafe.be", "example.org", "deadbeef", "localhost"):
        assert literal_address(name) is None, name


def test_the_socket_factory_refuses_every_non_public_address() -> None:
    guard = Guard()
    for family, sockaddr in (
        (socket.AF_INET, ("127.0.0.1", 80)),
        (socket.AF_INET, ("169.254.169.254", 80)),
        (socket.AF_INET6, ("::ffff:127.0.0.1", 80, 0, 0)),
        (socket.AF_INET6, ("64:ff9b::7f00:1", 80, 0, 0)),
        (socket.AF_INET6, ("2002:7f00:1::", 80, 0, 0)),
        (socket.AF_INET6, ("fe80::1%1", 80, 0, 1)),
    ):
        with pytest.raises(RefusedAddress):
            guard.open_socket((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
    with guard.open_socket(
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.215.14", 80))
    ) as sock:
        assert sock.family == socket.AF_INET
    with Guard(allow_private=True).open_socket(
        (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80))
    ):
        pass


# -- the connector itself: the last gate, whatever the URL check did --------------------


async def test_the_connector_refuses_hosts_that_normalize_to_loopback(
    feed_server: FeedServer,
) -> None:
    """The session goes around the fetcher's URL check: the connector alone must refuse."""
    feed_server.set("/f.xml", rss([]))
    port = feed_server.port
    async with aiohttp.ClientSession(connector=connector(Guard(), limit=4)) as session:
        for host in ("①②⑦.0.0.1", "１２７．０．０．１", "127。0。0。1", "[::ffff:127.0.0.1]"):
            with pytest.raises(aiohttp.ClientConnectorError) as caught:
                await session.get(f"http://{host}:{port}/f.xml")
            assert refused_address(caught.value) in ("127.0.0.1", "::ffff:7f00:1"), host
        with pytest.raises(BlockedAddressError):
            await session.get(f"http://localhost:{port}/f.xml")
    assert feed_server.hits("/f.xml") == []
    async with (
        aiohttp.ClientSession(connector=connector(Guard(allow_private=True), limit=4)) as session,
        session.get(f"http://①②⑦.0.0.1:{port}/f.xml") as response,
    ):
        assert response.status == 200
    assert len(feed_server.hits("/f.xml")) == 1


# -- source URLs, redirects, article pages, destinations -------------------------------


@pytest.mark.parametrize("host", LOOPBACK + ELSEWHERE)
async def test_a_source_url_spelling_a_private_address_is_refused(
    feed_server: FeedServer, host: str
) -> None:
    feed_server.set("/f.xml", rss([]))
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(BlockedAddressError, match="allow_private = true") as caught:
            await fetcher.fetch(f"http://{host}:{feed_server.port}/f.xml")
    assert caught.value.permanent
    assert feed_server.requests == []


@pytest.mark.parametrize("host", LOOPBACK + ELSEWHERE)
async def test_a_redirect_to_a_private_address_is_refused(
    feed_server: FeedServer, other_server: FeedServer, host: str
) -> None:
    # the first server stands in for a public publisher: only its own port is let through
    exempt = frozenset({("127.0.0.1", feed_server.port)})
    other_server.set("/intranet.xml", rss([]))
    target = f"http://{host}:{other_server.port}/intranet.xml"
    feed_server.set("/r.xml", status=302, headers={"Location": target}, conditional=False)
    async with Fetcher(SERVICE, exempt=exempt) as fetcher:
        with pytest.raises(BlockedAddressError):
            await fetcher.fetch(feed_server.url("/r.xml"))
    assert feed_server.hits("/r.xml")
    assert other_server.requests == []


async def test_the_exemption_is_for_one_address_and_port(
    feed_server: FeedServer, other_server: FeedServer
) -> None:
    feed_server.set("/f.xml", rss([]))
    feed_server.set("/r.xml", status=302, headers={"Location": "/f.xml"}, conditional=False)
    other_server.set("/f.xml", rss([]))
    async with Fetcher(SERVICE, exempt=frozenset({("127.0.0.1", feed_server.port)})) as fetcher:
        fetched = await fetcher.fetch(feed_server.url("/r.xml"))
        page = await fetcher.fetch_page(f"http://①②⑦.0.0.1:{feed_server.port}/f.xml")
        with pytest.raises(BlockedAddressError):
            await fetcher.fetch(other_server.url("/f.xml"))
    assert fetched.status == 200 and fetched.final_url == feed_server.url("/f.xml")
    assert page.status == 200
    assert other_server.requests == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.org/f.xml"])
async def test_a_redirect_leaves_http_never(feed_server: FeedServer, location: str) -> None:
    feed_server.set("/r.xml", status=301, headers={"Location": location}, conditional=False)
    async with Fetcher(SERVICE, exempt=frozenset({("127.0.0.1", feed_server.port)})) as fetcher:
        with pytest.raises(FetchError, match="not an http") as caught:
            await fetcher.fetch(feed_server.url("/r.xml"))
    assert caught.value.permanent


@pytest.mark.parametrize("host", LOOPBACK + ELSEWHERE)
async def test_an_article_page_on_a_private_address_is_refused_even_for_a_private_feed(
    feed_server: FeedServer, host: str
) -> None:
    feed_server.set("/page.html", "<html></html>", content_type="text/html")
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(BlockedAddressError, match="allow_private_pages"):
            await fetcher.fetch_page(f"http://{host}:{feed_server.port}/page.html")
        allowed = await fetcher.fetch_page(feed_server.url("/page.html"), allow_private=True)
    assert allowed.status == 200
    assert [seen.path for seen in feed_server.requests] == ["/page.html"]  # the allowed one


@pytest.mark.parametrize("host", LOOPBACK)
async def test_a_destination_on_a_private_address_is_refused(
    sqlite_store: Store, reply_server: ReplyServer, host: str
) -> None:
    url = f"http://{host}:{reply_server.port}/hook"
    hook = _hook(sqlite_store, url, allow_private=False)
    try:
        with pytest.raises(
            DeliveryError, match="allow_private = true on the destination"
        ) as caught:
            await hook.request("POST", url, json_body={"x": 1})
    finally:
        await hook.close()
    assert caught.value.permanent
    assert reply_server.requests == []


# -- nothing from a feed opens a file --------------------------------------------------


async def test_a_page_url_that_is_not_http_is_refused_before_any_io(
    tmp_path: Path, opened: list[str]
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    del opened[:]
    urls = [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "/etc/passwd",
        "/dev/zero",
        "file:///dev/zero",
        str(fifo),
        f"file://{fifo}",
        "ftp://example.org/x",
        "data:text/html,<p>x</p>",
        "javascript:alert(1)",
        "//example.org/x",
        "article.html",
        "http://",
    ]
    async with Fetcher(SERVICE) as fetcher:
        for url in urls:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch_page(url)
            assert caught.value.permanent, url
            assert caught.value.url == url
    assert opened == []


async def test_a_configured_fifo_or_device_fails_clearly_without_blocking(
    tmp_path: Path, opened: list[str]
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    async with Fetcher(SERVICE) as fetcher:
        for url, kind in (
            (str(fifo), "FIFO"),
            (f"file://{fifo}", "FIFO"),
            ("/dev/zero", "character device"),
            (str(tmp_path), "directory"),
        ):
            with pytest.raises(FetchError, match=kind) as caught:
                await asyncio.wait_for(fetcher.fetch(url), 30)  # a hang guard, not a timing
            assert caught.value.permanent
    assert str(fifo) not in opened and "/dev/zero" not in opened


async def test_a_configured_file_is_read_capped(tmp_path: Path) -> None:
    small = tmp_path / "a feed.xml"
    small.write_text(rss([]))
    big = tmp_path / "big.xml"
    big.write_bytes(b"x" * (SERVICE.max_bytes + 1))
    async with Fetcher(SERVICE) as fetcher:
        fetched = await fetcher.fetch("file://" + str(small).replace(" ", "%20"))
        with pytest.raises(FetchError, match="exceeds the cap"):
            await fetcher.fetch(str(big))
    assert fetched.body == small.read_bytes()


# -- a destination's reply --------------------------------------------------------------


async def test_a_huge_reply_is_cut_at_the_cap_and_odd_bytes_are_replaced(
    sqlite_store: Store, reply_server: ReplyServer
) -> None:
    reply_server.set("/latin", b"caf\xe9 \xff\xfe", content_type="application/json")
    reply_server.set("/latin1", b"caf\xe9", content_type="text/plain; charset=latin-1")
    reply_server.set("/bogus", b"ok", content_type="text/plain; charset=no-such-codec")
    hook = _hook(sqlite_store, reply_server.url("/huge"), allow_private=True)
    try:
        huge = await hook.request("POST", reply_server.url("/huge"), json_body={})
        latin = await hook.request("POST", reply_server.url("/latin"), json_body={})
        latin1 = await hook.request("POST", reply_server.url("/latin1"), json_body={})
        bogus = await hook.request("POST", reply_server.url("/bogus"), json_body={})
    finally:
        await hook.close()
    assert huge.status == 200 and huge.truncated
    assert len(huge.text) == MAX_ANSWER
    assert reply_server.finished.wait(30)
    # what the server could write before the connection closed: the cap plus socket buffers
    assert reply_server.sent < ReplyServer.HUGE // 2
    assert latin.text == "caf\ufffd \ufffd\ufffd" and latin.json() is None
    assert latin1.text == "café"
    assert bogus.text == "ok"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("999999999999", 999999999999.0),
        ("9" * 400, None),
        ("-5", None),
        ("nan", None),
        ("inf", None),
        ("1e3", None),
        ("²", None),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", None),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
        ("garbage", None),
        ("", None),
        ("x" * 100_000, None),
    ],
)
def test_retry_after_is_parsed_without_ever_raising(
    sqlite_store: Store, value: str, expected: float | None
) -> None:
    hook = _hook(sqlite_store, "https://example.org/hook", allow_private=False)
    wait = hook.retry_after(Answer(503, {"Retry-After": value}, ""))
    if expected is None:
        assert wait is None or (value.startswith("Fri") and wait > 0)
    else:
        assert wait == expected


async def test_a_retry_after_of_nan_reaches_the_error_as_no_hint(
    sqlite_store: Store, reply_server: ReplyServer
) -> None:
    reply_server.set("/busy", b"{}", status=503, headers={"Retry-After": "nan"})
    hook = _hook(sqlite_store, reply_server.url("/busy"), allow_private=True)
    try:
        with pytest.raises(DeliveryError) as caught:
            await hook.request("POST", reply_server.url("/busy"), json_body={})
    finally:
        await hook.close()
    assert not caught.value.permanent and caught.value.retry_after is None


# -- passwords stay out of errors and logs ---------------------------------------------


def test_mask_url_hides_the_password_only() -> None:
    assert mask_url("https://user:secret@example.org/f.xml") == "https://user:***@example.org/f.xml"
    assert mask_url("postgresql://u:p@ss@db/x") == "postgresql://u:***@db/x"
    assert mask_url("https://example.org/a@b:c") == "https://example.org/a@b:c"
    assert mask_url("https://token@example.org/") == "https://token@example.org/"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"


async def test_a_feed_password_shows_in_no_error_and_no_log_line(
    feed_server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    password = "Pa55wort-geheim"
    feed_server.set("/denied.xml", status=401, conditional=False)
    feed_server.set("/r.xml", status=302, headers={"Location": "ftp://x/"}, conditional=False)
    feed_server.set("/ok.xml", status=302, headers={"Location": "/f.xml"}, conditional=False)
    feed_server.set("/f.xml", rss([]))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    urls = [
        f"http://leser:{password}@127.0.0.1:{feed_server.port}/denied.xml",
        f"http://leser:{password}@127.0.0.1:{feed_server.port}/r.xml",
        f"http://leser:{password}@127.0.0.1:{closed_port}/f.xml",
    ]
    errors: list[FetchError] = []
    caplog.set_level(logging.DEBUG, logger="newsbote")
    async with Fetcher(SERVICE) as fetcher:
        for url in urls:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(url, allow_private=True)
            errors.append(caught.value)
        for url in (urls[0], f"http://leser:{password}@localhost:{feed_server.port}/f.xml"):
            with pytest.raises(BlockedAddressError) as blocked:
                await fetcher.fetch(url)
            errors.append(blocked.value)
        await fetcher.fetch(
            f"http://leser:{password}@127.0.0.1:{feed_server.port}/ok.xml", allow_private=True
        )
    assert len(errors) == 5
    for error in errors:
        assert password not in str(error) and password not in error.url, error
        assert "leser:***@" in error.url
    assert [r for r in caplog.records if r.name.startswith("newsbote.fetch")]
    assert not [r for r in caplog.records if password in r.getMessage()]


# -- the config switches ----------------------------------------------------------------


def test_the_guard_switches_are_strict_booleans() -> None:
    source = SourceConfig(name="s", url="https://example.org/f.xml")
    assert source.allow_private is False and source.allow_private_pages is False
    for key in ("allow_private", "allow_private_pages", "enabled"):
        with pytest.raises(ValidationError):
            SourceConfig(name="s", url="https://example.org/f.xml", **{key: "yes"})
        with pytest.raises(ValidationError):
            SourceConfig(name="s", url="https://example.org/f.xml", **{key: 1})
    with pytest.raises(ValidationError):
        WebhookOptions(url="https://example.org/hook", allow_private="yes")


def test_every_switch_of_the_config_and_of_every_destination_kind_is_a_strict_boolean() -> None:
    """A quoted "yes" or a 1 is an error wherever a switch is, never taken as true.

    ``[web] enabled`` is the one exception: ``NEWSBOTE_WEB_ENABLED`` arrives as a string.
    """
    from newsbote.config.schema import Config
    from newsbote.deliver import destination_kinds

    pending: list[type[BaseModel]] = [Config, *(k.Options for k in destination_kinds().values())]
    seen: set[str] = set()
    while pending:
        model = pending.pop()
        for name, field in model.model_fields.items():
            annotation = field.annotation
            for inner in (annotation, *get_args(annotation)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    pending.append(inner)
            if annotation is not bool or (model.__name__, name) == ("WebConfig", "enabled"):
                continue
            seen.add(f"{model.__name__}.{name}")
            assert any(getattr(m, "strict", False) for m in field.metadata), (
                f"{model.__name__}.{name} takes non-boolean values"
            )
    assert {
        "SourceConfig.allow_private",
        "SlackOptions.unfurl_links",
        "MatrixOptions.set_profile",
    } <= seen
