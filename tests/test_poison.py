"""One bad part of a feed costs that part, never the source: the rest is posted, and
the next poll works (against the real pipeline and a local feed server)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from newsbote import pipeline
from newsbote.pipeline import PollReport
from newsbote.store import Store
from tests.helpers import board_titles, load, run_once, write_config
from tests.servers import FeedServer, rss

GOOD = [("g2", "https://example.org/2", "Zwei"), ("g1", "https://example.org/1", "Eins")]


def _json_feed(items: list[dict[str, object]]) -> str:
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": items}
    return json.dumps(feed)


def _sources(server: FeedServer, *paths: str) -> list[dict[str, object]]:
    return [
        {
            "name": path.strip("/").split(".")[0],
            "url": server.url(path),
            "allow_private": True,
            "first_run": "all",
        }
        for path in paths
    ]


def _by_source(reports: list[PollReport]) -> dict[str, PollReport]:
    return {report.source: report for report in reports}


def _warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


BAD_XML = rss(GOOD).replace(
    "<item>",
    "<item><guid>bad</guid><link>https://example.org/bad</link>"
    "<title>Kaputt &#xD800; hier</title><description>Text &#55296;.</description></item><item>",
    1,
)
BAD_JSON = _json_feed(
    [
        {"id": "bad", "url": "https://example.org/bad", "title": "Kaputt \ud800 hier"},
        {"id": "g2", "url": "https://example.org/2", "title": "Zwei", "content_text": "Text."},
        {"id": "g1", "url": "https://example.org/1", "title": "Eins", "content_text": "Text."},
    ]
)


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/surrogate.xml", BAD_XML, "application/rss+xml"),
        ("/surrogate.json", BAD_JSON, "application/feed+json"),
    ],
)
async def test_a_lone_surrogate_becomes_a_replacement_character_and_the_rest_is_posted(
    feed_server: FeedServer,
    sqlite_store: Store,
    sqlite_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: str,
    content_type: str,
) -> None:
    """Before, the UTF-8 encoder raised and every poll of the source was an internal error."""
    feed_server.set(path, body, content_type=content_type, conditional=False)
    loaded = load(write_config(tmp_path, sqlite_url, _sources(feed_server, path)))
    with caplog.at_level(logging.WARNING):
        first = await run_once(loaded, sqlite_store)
    assert [r.status for r in first] == ["ok"]
    assert sorted(board_titles(sqlite_store)) == ["Eins", "Kaputt \ufffd hier", "Zwei"]
    assert len(_warnings(caplog, "U+FFFD")) == 1
    assert feed_server.url(path) in _warnings(caplog, "U+FFFD")[0].getMessage()
    second = await run_once(loaded, sqlite_store)
    assert [r.status for r in second] == ["ok"]
    assert len(board_titles(sqlite_store)) == 3


async def test_a_json_feed_nested_too_deep_fails_clearly_and_the_other_source_posts(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    """Before, json.loads raised RecursionError: an internal error, not a feed's."""
    deep = '{"version": "https://jsonfeed.org/version/1.1", "items": ' + "[" * 100_000
    feed_server.set("/deep.json", deep + "]" * 100_000 + "}", content_type="application/json")
    feed_server.set("/good.xml", rss(GOOD))
    loaded = load(
        write_config(tmp_path, sqlite_url, _sources(feed_server, "/deep.json", "/good.xml"))
    )
    reports = _by_source(await run_once(loaded, sqlite_store))
    assert reports["deep"].status == "error"
    assert "nested too deeply" in (reports["deep"].error or "")
    assert "/deep.json" in (reports["deep"].error or "")
    assert reports["good"].status == "ok"
    assert sorted(board_titles(sqlite_store)) == ["Eins", "Zwei"]


async def test_a_feed_past_the_processing_budget_fails_clearly_and_the_other_posts(
    feed_server: FeedServer,
    sqlite_store: Store,
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A feed of 3,000 entries takes seconds of CPU; the small one, milliseconds: a budget
    of 0.2 s between them fails the one and not the other."""
    monkeypatch.setattr(pipeline, "POLL_CPU_SECONDS", 0.2)
    paragraph = "&lt;p&gt;" + "Ein Satz mit &lt;b&gt;Worten&lt;/b&gt;. " * 40 + "&lt;/p&gt;"
    many = [(f"m{i}", f"https://example.org/m{i}", f"Meldung {i}") for i in range(3000)]
    feed_server.set("/huge.xml", rss(many).replace("&lt;p&gt;Text von", paragraph))
    feed_server.set("/good.xml", rss(GOOD))
    loaded = load(
        write_config(tmp_path, sqlite_url, _sources(feed_server, "/huge.xml", "/good.xml"))
    )
    reports = _by_source(await run_once(loaded, sqlite_store))
    assert reports["huge"].status == "error"
    assert "took more than 0.2 s of processing" in (reports["huge"].error or "")
    assert "/huge.xml" in (reports["huge"].error or "")
    assert reports["good"].status == "ok"
    assert sorted(board_titles(sqlite_store)) == ["Eins", "Zwei"]


@pytest.mark.parametrize(
    ("reference", "kept"),
    [
        ("&#xD800;", False), ("&#xdfff;", False), ("&#x0000D9AB;", False), ("&#55296;", False),
        ("&#57343;", False), ("&#0057000;", False), ("&#1114112;", False), ("&#x110000;", False),
        ("&#xD7FF;", True), ("&#xE000;", True), ("&#x10FFFF;", True), ("&#1114111;", True),
        ("&#54999;", True), ("&#8212;", True), ("&#x41;", True),
    ],
)  # fmt: skip
def test_only_references_to_no_character_are_replaced(reference: str, kept: bool) -> None:
    """The quick search for references that may be invalid misses none of them."""
    from newsbote.parse.decode import prepare_xml

    document = f"<rss><channel><title>a{reference}b</title></channel></rss>".encode()
    prepared = prepare_xml(document, "https://example.org/f")
    assert (reference.encode() in prepared) is kept
    assert (b"&#xFFFD;" in prepared) is not kept
