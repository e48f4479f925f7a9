"""Every pass over a feed's or a page's text takes time linear in its length.

Each function runs on inputs of n and 4n characters of the shapes a hostile feed
sends (runs of unclosed tags, declarations, entities, quotes, deep nesting, one
long line); a linear pass takes about 4 times as long on the larger one, a
quadratic one 16 times. Times (CPU time of the test's thread) are only compared with
each other: each is the best of several runs of the same number of calls, and the
ratio has a wide margin.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from xml.sax.saxutils import escape

import pytest

from newsbote.enrich.fulltext import Extracted, looks_like_teaser, prefer_page, without_title
from newsbote.enrich.sanitize import (
    first_image,
    has_relative_urls,
    plain_text,
    raw_text,
    sanitize_html,
)
from newsbote.enrich.teaser import make_teaser
from newsbote.errors import ParseError
from newsbote.identify import canonical_url, fingerprint, item_key
from newsbote.parse import parse_feed, prepare_xml
from newsbote.types import Entry

QUADRATIC = 16  # the ratio of a quadratic pass on a 4x input
LIMIT = 8  # linear is 4; measurements on a busy machine stay well below 8
BASE = 16_384  # characters of the smaller input


def _afe(size: int) -> str:
    """Unclosed formatting elements that differ (html5ever's list of them grows), then blocks."""
    count = size // 12
    return "".join(f"<b a={i}>" for i in range(count)) + "<p>x" * (count // 4)


def _nested(tag: str) -> Callable[[int], str]:
    def make(size: int) -> str:
        depth = size // (2 * len(tag) + 1)
        return f"<{tag}>" * depth + "x" + f"</{tag}>" * depth

    return make


def _run(unit: str) -> Callable[[int], str]:
    return lambda size: unit * (size // len(unit) + 1)


SHAPES: dict[str, Callable[[int], str]] = {
    "doctype": _run("<!DOCTYPE x [>"),
    "lt": _run("<"),
    "script": _run("<script>"),
    "style": _run("<style>"),
    "iframe": _run("<iframe src=a>"),
    "iframe-quoted": _run('<iframe src="a">'),
    "iframe-unclosed": _run("<iframe "),
    "a": _run("<a "),
    "img": _run("<img "),
    "p": _run("<p "),
    "tag-in-tag": _run("<x <p>"),
    "amp": _run("&"),
    "entity": _run("&nbsp"),
    "comment": _run("<!--"),
    "cdata": _run("<![CDATA["),
    "unclosed-quote": _run('<a href="x'),
    "equals": _run("= "),
    "dots": _run("a. "),
    "nested-b": _nested("b"),
    "nested-div": _nested("div"),
    "nested-ul": _nested("ul"),
    "formatting": _afe,
    "one-line": _run("x"),
    "ellipsis": _run("…"),
}

ENTRY = Entry(guid="g", link="https://example.org/a", title="t", content_html="", summary_html="")


def _entry(text: str) -> Entry:
    return Entry(
        guid="g", link="https://example.org/a", title=text, content_html=text, summary_html=text
    )


def _quiet(function: Callable[[str], object]) -> Callable[[str], object]:
    """``function`` with a ParseError (a refused document) counted as done."""

    def call(text: str) -> object:
        try:
            return function(text)
        except ParseError:
            return None

    return call


def _rss(text: str) -> bytes:
    item = f"<item><guid>g</guid><title>{escape(text[:2000])}</title><description>{escape(text)}</description></item>"
    return f"<rss version='2.0'><channel><title>t</title>{item}</channel></rss>".encode()


def _json_feed(text: str) -> bytes:
    item = {"id": "g", "title": text[:2000], "content_html": text}
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [item]}
    return json.dumps(feed).encode()


FUNCTIONS: dict[str, Callable[[str], object]] = {
    "plain_text": plain_text,
    "raw_text": raw_text,
    "has_relative_urls": has_relative_urls,
    "sanitize_html": lambda text: sanitize_html(text, "https://example.org/"),
    "first_image": first_image,
    "make_teaser": make_teaser,
    "without_title": lambda text: without_title(f"<h1>{text}", "t"),
    "looks_like_teaser": lambda text: looks_like_teaser(_entry(text)),
    "prefer_page": lambda text: prefer_page(
        _entry(text), Extracted(html=text, text=text + text, image=None), "auto"
    ),
    "prepare_xml": _quiet(lambda text: prepare_xml(text.encode(), "https://example.org/f")),
    "parse_rss": _quiet(lambda text: parse_feed(_rss(text), "https://example.org/f")),
    "parse_json": _quiet(lambda text: parse_feed(_json_feed(text), "https://example.org/f")),
    "canonical_url": lambda text: canonical_url(f"https://example.org/{text}?{text}"),
    "item_key": lambda text: item_key(
        Entry(guid=None, link=None, title=text, content_html=text, summary_html="")
    ),
    "fingerprint": lambda text: fingerprint(_entry(text)),
}


def _time(function: Callable[[str], object], text: str, calls: int) -> float:
    """CPU seconds of this thread (other processes on the machine do not count)."""
    start = time.thread_time()
    for _ in range(calls):
        function(text)
    return time.thread_time() - start


def _ratio(function: Callable[[str], object], make: Callable[[int], str]) -> float:
    """How much longer ``function`` takes on the 4x input: the best of seven runs of the
    same number of calls each, the two sizes taking turns (a busy moment of the
    machine slows both alike)."""
    small, large = make(BASE), make(4 * BASE)
    function(small)  # imports, caches
    calls = 1
    while _time(function, small, calls) < 0.004 and calls < 1024:
        calls *= 2  # a measurement long enough to compare
    gc.disable()
    try:
        small_times, large_times = [], []
        for _ in range(7):
            small_times.append(_time(function, small, calls))
            large_times.append(_time(function, large, calls))
        return min(large_times) / min(small_times)
    finally:
        gc.enable()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_pass_is_linear_on_hostile_shape(name: str, shape: str) -> None:
    ratio = _ratio(FUNCTIONS[name], SHAPES[shape])
    assert ratio < LIMIT, f"{name} on {shape}: 4x input took {ratio:.1f}x (quadratic: {QUADRATIC})"


def test_the_measurement_sees_a_quadratic_pass() -> None:
    """The ratio tells a quadratic pass from a linear one (else every test above passes)."""

    def quadratic(text: str) -> int:
        return sum(text.count("<", i, i + len(text) // 2) for i in range(0, len(text), 64))

    assert _ratio(quadratic, _run("<")) > LIMIT
    assert _ratio(plain_text, _run("x")) < LIMIT
