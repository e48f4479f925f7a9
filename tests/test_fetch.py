"""The fetcher against a real local HTTP server: caching, redirects, errors, caps, the SSRF guard."""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import brotli
import pytest

from newsbote import USER_AGENT
from newsbote.config import ServiceConfig
from newsbote.errors import BlockedAddressError, FetchError
from newsbote.fetch import Fetcher, guard
from tests.servers import FeedServer, rss

SERVICE = ServiceConfig(timeout=2, max_bytes=200_000)


async def test_conditional_request_answers_304_with_validators(feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss([]))
    async with Fetcher(SERVICE) as fetcher:
        first = await fetcher.fetch(feed_server.url("/f.xml"), allow_private=True)
        second = await fetcher.fetch(
            feed_server.url("/f.xml"),
            etag=first.etag,
            last_modified=first.last_modified,
            allow_private=True,
        )
    assert first.status == 200 and first.etag
    assert second.not_modified
    request = feed_server.hits("/f.xml")[-1]
    assert request.headers["If-None-Match"] == first.etag
    assert request.headers["If-Modified-Since"] == first.last_modified
    assert request.headers["User-Agent"] == USER_AGENT


async def test_permanent_redirect_reports_the_new_url_and_temporary_does_not(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/new.xml", rss([]))
    feed_server.set("/old.xml", status=301, headers={"Location": "/new.xml"}, conditional=False)
    feed_server.set("/tmp.xml", status=302, headers={"Location": "/new.xml"}, conditional=False)
    async with Fetcher(SERVICE) as fetcher:
        moved = await fetcher.fetch(feed_server.url("/old.xml"), allow_private=True)
        temporary = await fetcher.fetch(feed_server.url("/tmp.xml"), allow_private=True)
    assert moved.moved_to == feed_server.url("/new.xml")
    assert moved.final_url == feed_server.url("/new.xml")
    assert temporary.moved_to is None


async def test_410_is_permanent_and_5xx_carries_retry_after(feed_server: FeedServer) -> None:
    feed_server.set("/gone.xml", status=410, conditional=False)
    feed_server.set("/busy.xml", status=503, headers={"Retry-After": "120"}, conditional=False)
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(FetchError) as gone:
            await fetcher.fetch(feed_server.url("/gone.xml"), allow_private=True)
        with pytest.raises(FetchError) as busy:
            await fetcher.fetch(feed_server.url("/busy.xml"), allow_private=True)
    assert gone.value.permanent and gone.value.status == 410
    assert not busy.value.permanent and busy.value.retry_after == 120
    assert "/busy.xml" in str(busy.value)


async def test_slow_response_times_out_and_oversized_body_is_refused(
    feed_server: FeedServer,
) -> None:
    feed_server.set("/slow.xml", rss([]), delay=3)
    feed_server.set("/big.xml", b"x" * 300_000)
    feed_server.set("/bomb.xml", b"<rss>" + b" " * 5_000_000 + b"</rss>", gzip=True)
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(FetchError, match="timed out"):
            await fetcher.fetch(feed_server.url("/slow.xml"), allow_private=True)
        with pytest.raises(FetchError, match="exceeds the cap"):
            await fetcher.fetch(feed_server.url("/big.xml"), allow_private=True)
        with pytest.raises(FetchError, match="exceeds the cap"):
            await fetcher.fetch(feed_server.url("/bomb.xml"), allow_private=True)


async def test_gzip_deflate_and_brotli_bodies_are_decoded(feed_server: FeedServer) -> None:
    body = rss([("g", "https://e.org/1", "Grüße")])
    feed_server.set("/gz.xml", body, gzip=True)
    feed_server.set("/br.xml", brotli.compress(body.encode()), headers={"Content-Encoding": "br"})
    feed_server.set(
        "/df.xml", zlib.compress(body.encode()), headers={"Content-Encoding": "deflate"}
    )
    raw = zlib.compressobj(wbits=-15)  # raw deflate, as some servers send it
    feed_server.set(
        "/raw.xml",
        raw.compress(body.encode()) + raw.flush(),
        headers={"Content-Encoding": "deflate"},
    )
    async with Fetcher(SERVICE) as fetcher:
        for path in ("/gz.xml", "/br.xml", "/df.xml", "/raw.xml"):
            fetched = await fetcher.fetch(feed_server.url(path), allow_private=True)
            assert fetched.body.decode() == body, path


async def test_cache_control_and_expires_give_the_max_age(feed_server: FeedServer) -> None:
    body = rss([])
    in_two_hours = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    feed_server.set("/cc.xml", body, headers={"Cache-Control": "public, max-age=3600"})
    feed_server.set("/expires.xml", body, headers={"Expires": in_two_hours})
    feed_server.set(
        "/both.xml", body, headers={"Cache-Control": "max-age=600", "Expires": in_two_hours}
    )
    feed_server.set(
        "/no-cache.xml", body, headers={"Cache-Control": "no-cache", "Expires": in_two_hours}
    )
    feed_server.set("/bad.xml", body, headers={"Expires": "0", "Cache-Control": "max-age=soon"})
    async with Fetcher(SERVICE) as fetcher:
        ages = {
            path: (await fetcher.fetch(feed_server.url(path), allow_private=True)).max_age
            for path in ("/cc.xml", "/expires.xml", "/both.xml", "/no-cache.xml", "/bad.xml")
        }
    assert ages["/cc.xml"] == 3600
    assert ages["/expires.xml"] is not None and 7000 < ages["/expires.xml"] <= 7200
    assert ages["/both.xml"] == 600  # max-age wins over Expires, as in HTTP caching
    assert ages["/no-cache.xml"] is None
    assert not ages["/bad.xml"]  # "Expires: 0" means expired: nothing to lengthen


async def test_requests_to_one_host_are_limited_to_per_host(feed_server: FeedServer) -> None:
    for n in range(8):
        feed_server.set(f"/slow{n}.xml", rss([]), delay=0.2)
    service = ServiceConfig(timeout=5, max_bytes=200_000, per_host=2, concurrency=8)
    async with Fetcher(service) as fetcher:
        fetched = await asyncio.gather(
            *(fetcher.fetch(feed_server.url(f"/slow{n}.xml"), allow_private=True) for n in range(8))
        )
    assert all(f.status == 200 for f in fetched)
    assert feed_server.most_in_flight == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/feed.xml",
        "http://10.1.2.3/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/feed.xml",
        "http://[::ffff:127.0.0.1]/feed.xml",
        "http://0.0.0.0/feed.xml",
        "http://224.0.0.1/feed.xml",
    ],
)
async def test_private_addresses_are_refused_before_connecting(url: str) -> None:
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(BlockedAddressError, match="allow_private"):
            await fetcher.fetch(url)


async def test_host_names_resolving_to_loopback_are_refused(feed_server: FeedServer) -> None:
    feed_server.set("/f.xml", rss([]))
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(BlockedAddressError):
            await fetcher.fetch(f"http://localhost:{feed_server.port}/f.xml")
    assert not feed_server.hits("/f.xml")


def test_public_address_classification() -> None:
    assert guard.is_public_address("93.184.215.14")
    assert guard.is_public_address("2606:4700::1111")
    for address in (
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "::ffff:10.0.0.1",
        "ff02::1",
    ):
        assert not guard.is_public_address(address), address


async def test_local_file_sources_are_read_and_unchanged_files_report_304(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "feed.xml"
    path.write_text(rss([]))
    async with Fetcher(SERVICE) as fetcher:
        first = await fetcher.fetch(str(path))
        second = await fetcher.fetch(str(path), etag=first.etag)
        with pytest.raises(FetchError, match="cannot read file"):
            await fetcher.fetch(str(tmp_path / "missing.xml"))
    assert first.status == 200 and second.not_modified


BOMB = 64 * 1024 * 1024
"""Decoded size of the bombs: 320 times the cap of SERVICE."""


def _zlib_bomb(wbits: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1024 * 1024)
    return b"".join([compressor.compress(zeros) for _ in range(BOMB // len(zeros))]) + (
        compressor.flush()
    )


BOMBS: dict[str, Callable[[], bytes]] = {
    "gzip": lambda: _zlib_bomb(31),
    "deflate": lambda: _zlib_bomb(15),
    "br": lambda: brotli.compress(bytes(BOMB), quality=1),
}


@pytest.mark.parametrize("encoding", sorted(BOMBS))
async def test_a_compression_bomb_is_refused_at_max_bytes_of_decoded_data(
    feed_server: FeedServer, encoding: str
) -> None:
    bomb = BOMBS[encoding]()
    assert len(bomb) < SERVICE.max_bytes * 2  # the wire size alone would pass the cap
    feed_server.set("/bomb.xml", bomb, headers={"Content-Encoding": encoding})
    tracemalloc.start()
    try:
        async with Fetcher(SERVICE) as fetcher:
            with pytest.raises(FetchError, match=f"cap of {SERVICE.max_bytes} bytes"):
                await fetcher.fetch(feed_server.url("/bomb.xml"), allow_private=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # decoded data is counted as it streams: far less than the bomb ever sits in memory
    assert peak < BOMB // 16


@pytest.mark.parametrize("value", ["²", "nan", "-5", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_a_malformed_retry_after_or_max_age_is_no_hint_and_no_crash(
    feed_server: FeedServer, value: str
) -> None:
    feed_server.set("/busy.xml", status=503, headers={"Retry-After": value}, conditional=False)
    feed_server.set("/age.xml", rss([]), headers={"Cache-Control": f"max-age={value}"})
    async with Fetcher(SERVICE) as fetcher:
        with pytest.raises(FetchError) as busy:
            await fetcher.fetch(feed_server.url("/busy.xml"), allow_private=True)
        aged = await fetcher.fetch(feed_server.url("/age.xml"), allow_private=True)
    assert busy.value.status == 503
    assert busy.value.retry_after is None or busy.value.retry_after > 0
    assert aged.max_age is None
