"""Every feed document of the shared corpus parses into items or fails with a clear ParseError.

The corpus is not in the repository: tests/test_fixtures_corpus_free.py proves the same
behaviours on small feeds of our own, in tests/fixtures/.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from newsbote.errors import ParseError
from newsbote.parse import parse_feed
from newsbote.types import ParsedFeed
from tests.conftest import CORPUS

NOT_FEEDS = {"opml", "email", "mbox", "config", "text", "json-gold"}
# Where the manifest's element count is not the number of articles, and why.
COUNT_EXCEPTIONS = {
    "feeds/node-feedparser/illegally-nested.xml": "10 of its 20 <item> elements are empty <item />",
}


def _feed_rows() -> list[dict[str, str]]:
    manifest = CORPUS / "manifest.tsv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [r for r in rows if r["path"].startswith("feeds/") and r["format"] not in NOT_FEEDS]


ROWS = _feed_rows()


@pytest.mark.corpus
def test_the_corpus_is_present() -> None:
    assert len(ROWS) > 450, f"expected the shared corpus at {CORPUS}"


@pytest.mark.corpus
@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_corpus_document_parses_or_fails_clearly(row: dict[str, str]) -> None:
    path = CORPUS / row["path"]
    try:
        feed = parse_feed(path.read_bytes(), str(path))
    except ParseError as exc:
        assert str(path) in str(exc)
        assert (
            row["format"] in {"html", "json-invalid", "json-rss-in-json"}
            or row["format"].startswith("xml-other")
            or row["kind"] == "synthetic"
        ), f"a real feed failed: {exc}"
        return
    assert isinstance(feed, ParsedFeed)
    for entry in feed.entries:
        assert "<script" not in entry.content_html.lower()
        assert 'href="javascript:' not in entry.content_html.lower()
        assert " onerror=" not in entry.content_html.lower()
    expected = row["items"]
    countable = row["wellformed"].startswith("yes") and row["path"] not in COUNT_EXCEPTIONS
    if expected.isdigit() and countable and row["format"] != "html":
        assert len(feed.entries) == int(expected), "entry count differs from the manifest"


def parse(relative: str) -> ParsedFeed:
    path = CORPUS / relative
    return parse_feed(path.read_bytes(), str(path))


@pytest.mark.corpus
def test_heise_atom_in_german() -> None:
    feed = parse("feeds/rss-parser/heise.atom")
    assert feed.title == "heise developer neueste Meldungen"
    first = feed.entries[0]
    assert first.title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    assert (
        first.link
        == "http://www.heise.de/developer/meldung/Java-Anwendungsserver-Red-Hat-gibt-WildFly-10-frei-3088438.html?wt_mc=rss.developer.beitrag.atom"
    )
    assert first.published == datetime(2016, 2, 1, 16, 22, tzinfo=UTC)
    assert "verfügbare" in first.content_html


@pytest.mark.corpus
def test_heise_rdf_rss10() -> None:
    feed = parse("feeds/miniflux/parser/testdata/rdf_UTF8.xml")
    assert feed.title == "heise online News"
    assert len(feed.entries) == 60
    assert feed.entries[0].title == "OLED-TVs: Vorsichtsmaßnahmen gegen Einbrennen"
    assert all(e.link and e.link.startswith("https://www.") for e in feed.entries)


@pytest.mark.corpus
def test_golem_iso_8859_1_umlauts() -> None:
    feed = parse("feeds/miniflux/parser/testdata/encoding_ISO-8859-1.xml")
    text = " ".join(e.title + e.content_html for e in feed.entries)
    assert any(ch in text for ch in "äöüÄÖÜß")
    assert "Ã" not in text


@pytest.mark.corpus
def test_laut_de_declares_latin1_but_is_utf8() -> None:
    feed = parse("feeds/laminas-feed/Integration/_files/laut.de-rdf.xml")
    text = " ".join(e.title + e.content_html for e in feed.entries)
    assert "Ã" not in text
    assert any(ch in text for ch in "äöüß")


@pytest.mark.corpus
def test_cp1252_without_declaration() -> None:
    feed = parse("feeds/rss-parser/uolNoticias.rss")
    text = " ".join(e.title for e in feed.entries)
    assert "\ufffd" not in text
    assert any(ch in text for ch in "ãçéêáõí")


@pytest.mark.corpus
def test_windows_1251_cyrillic() -> None:
    feed = parse("feeds/node-feedparser/iconv.xml")
    assert any("\u0400" <= ch <= "\u04ff" for e in feed.entries for ch in e.title)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["feed-utf16le.xml", "feed-utf16be.xml"])
def test_utf16_without_bom(name: str) -> None:
    feed = parse(f"feeds/simplepie/{name}")
    assert feed.title and "\x00" not in feed.title
    assert feed.entries


@pytest.mark.corpus
def test_gzip_body_stored_without_content_encoding() -> None:
    feed = parse("feeds/node-feedparser/compressed.xml")
    assert feed.entries


@pytest.mark.corpus
def test_json_feed_daring_fireball() -> None:
    feed = parse("feeds/rsparser/DaringFireball.json")
    assert feed.title == "Daring Fireball"
    assert len(feed.entries) == 48
    assert feed.entries[0].link == "https://daringfireball.net/linked/2017/06/26/the-talk-show-195"


@pytest.mark.corpus
def test_relative_links_are_resolved_against_xml_base() -> None:
    for path in (CORPUS / "feeds/node-feedparser").glob("tpm*.atom"):
        feed = parse_feed(path.read_bytes(), str(path))
        for entry in feed.entries:
            assert entry.link is None or entry.link.startswith("http"), entry.link
            assert 'href="/' not in entry.content_html
            assert 'src="/' not in entry.content_html


@pytest.mark.corpus
def test_truncated_json_names_the_source() -> None:
    path = CORPUS / "feeds/rsparser/allthis-partial.json"
    with pytest.raises(ParseError, match=r"allthis-partial\.json.*invalid JSON"):
        parse_feed(path.read_bytes(), str(path))


@pytest.mark.parametrize(
    ("channel", "minutes"),
    [("<ttl>30</ttl>", 30), ("<TTL> 45 </TTL>", 45), ("<Ttl>\n5\n</Ttl>", 5), ("", None)],
)
def test_rss_ttl_is_read_in_any_case(channel: str, minutes: int | None) -> None:
    document = (
        f'<rss version="2.0"><channel><title>T</title><link>https://e.org/</link>{channel}'
        "<item><title>A</title><link>https://e.org/a</link></item></channel></rss>"
    )
    assert parse_feed(document.encode(), "https://e.org/feed").ttl_minutes == minutes
