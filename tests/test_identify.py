"""Item identity: keys, canonical URLs, fingerprints, verdicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from newsbote.identify import (
    Known,
    canonical_url,
    fingerprint,
    identify,
    item_key,
)
from newsbote.types import Entry, KeyKind, Outcome
from tests.conftest import CORPUS
from tests.test_fixtures_corpus_free import EDGE_URLS, assert_quick_canonical_agrees


def entry(
    guid: str | None = None, link: str | None = None, title: str = "T", body: str = "<p>x</p>"
) -> Entry:
    return Entry(
        guid=guid,
        link=link,
        title=title,
        content_html=body,
        summary_html=body,
        published=datetime(2026, 1, 2, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://www.Example.org/a/", "https://example.org/a"),
        ("https://example.org:443/a?utm_source=x&b=2&a=1#frag", "https://example.org/a?a=1&b=2"),
        ("https://example.org/a?fbclid=1&gclid=2&ref_src=3", "https://example.org/a"),
        ("http://example.org:8080/", "https://example.org:8080/"),
        ("https://EXAMPLE.org", "https://example.org/"),
        ("mailto:x@example.org", "mailto:x@example.org"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_the_quick_canonical_path_agrees_with_the_parser() -> None:
    """The common-case shortcut gives what the URL parser gives, on every link of the
    corpus's feeds and on the edges of what it accepts."""
    urls = set(EDGE_URLS)
    for path in CORPUS.joinpath("feeds").rglob("*"):
        if path.is_file():
            urls.update(re.findall(r"https?://[^\s\"'<>]+", path.read_text(errors="ignore")))
    assert_quick_canonical_agrees(urls, taken_at_least=1000)


def test_key_prefers_guid_then_link_then_hash() -> None:
    assert item_key(entry(guid="g", link="https://e.org/1")) == ("g", KeyKind.GUID)
    assert item_key(entry(link="http://www.e.org/1?utm_medium=rss")) == (
        "https://e.org/1",
        KeyKind.LINK,
    )
    key, kind = item_key(entry())
    assert kind is KeyKind.HASH and key.startswith("hash:")
    assert item_key(entry()) == item_key(entry())
    assert item_key(entry(title="other"))[0] != key


def test_fingerprint_ignores_markup_but_not_text() -> None:
    assert fingerprint(entry(body="<p>Hallo  Welt</p>")) == fingerprint(
        entry(body="<div>Hallo Welt</div>")
    )
    assert fingerprint(entry(body="<p>Hallo Welt</p>")) != fingerprint(
        entry(body="<p>Hallo Welt!</p>")
    )


def test_verdicts_new_unchanged_changed_renamed() -> None:
    first = identify("s", [entry("a", "https://e.org/a"), entry("b", "https://e.org/b")], Known())
    assert [v.outcome for v in first] == [Outcome.NEW, Outcome.NEW]
    known = Known(
        fingerprints={v.item.key: v.item.fingerprint for v in first},
        keys_by_link={v.item.canonical_url: v.item.key for v in first if v.item.canonical_url},
    )
    again = identify(
        "s",
        [
            entry("a", "https://e.org/a"),
            entry("b", "https://e.org/b", body="<p>neu</p>"),
            entry("c", "http://www.e.org/a?utm_source=feed"),
        ],
        known,
    )
    assert [v.outcome for v in again] == [Outcome.UNCHANGED, Outcome.CHANGED, Outcome.RENAMED]
    renamed = again[2]
    assert renamed.known_key == "a" and not renamed.changed
    assert "new id" in renamed.reason


def test_repeated_keys_within_one_document_count_once() -> None:
    verdicts = identify("s", [entry("a"), entry("a", title="dup")], Known())
    assert len(verdicts) == 1


def test_heise_wt_mc_tracking_parameter_is_dropped() -> None:
    """docs/identity.md names heise's ``wt_mc``: one article with two values is one article."""
    first = canonical_url(
        "https://www.heise.de/news/x-123.html?wt_mc=rss.red.ho.ho.atom.beitrag.beitrag"
    )
    second = canonical_url(
        "https://www.heise.de/news/x-123.html?wt_mc=nl.red.ho.ho-nl-daily.2026-12-06"
    )
    assert first == second == "https://heise.de/news/x-123.html"


def test_long_urls_are_canonical_without_growing_the_cache() -> None:
    from newsbote.identify import _cached_canonical

    before = _cached_canonical.cache_info().currsize
    long_url = "https://example.org/" + "a" * 100_000 + "?utm_source=x"
    assert canonical_url(long_url) == "https://example.org/" + "a" * 100_000
    assert _cached_canonical.cache_info().currsize == before
