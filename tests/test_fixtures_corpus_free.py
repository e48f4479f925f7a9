"""What the corpus tests prove, on small feeds and pages of our own (tests/fixtures/).

The shared corpus (tests/conftest.py, ``CORPUS``) is not in the repository: a fresh
clone runs these instead. Each test names the corpus test whose behaviour it covers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbote.enrich.fulltext import extract_article
from newsbote.errors import ParseError
from newsbote.identify import _parsed_canonical, _simple_canonical
from newsbote.parse import parse_feed
from newsbote.render.markup import convert
from newsbote.types import Markup, ParsedFeed
from tests.test_markup import read_back
from tests.test_markup_corpus import _same, paragraphs, targets

FIXTURES = Path(__file__).parent / "fixtures"
FEEDS = FIXTURES / "feeds"

# Each fixture feed: its title and number of entries, or None where it must fail.
EXPECTED: dict[str, tuple[str, int] | None] = {
    "atom-de.atom": ("Beispiel-Nachrichten – neueste Meldungen", 2),
    "rss10.rdf": ("Beispiel online News", 3),
    "iso-8859-1.rss": ("Golem-artige Meldungen", 2),
    "declares-latin1-is-utf8.rss": ("Musik", 2),
    "cp1252-undeclared.rss": ("Notícias", 2),
    "windows-1251.rss": ("Новости", 2),
    "utf16le-no-bom.rss": ("UTF-16 ohne BOM", 2),
    "utf16be-no-bom.rss": ("UTF-16 ohne BOM", 2),
    "gzip-body.rss.gz": ("Komprimiert", 1),
    "feed.json": ("Kleines Tagebuch", 2),
    "partial.json": None,
    "xxe.atom": None,  # parsed without its entities, or refused: either is safe
    "hostile.rss": ("Feindselig", 2),
}


def parse(name: str) -> ParsedFeed:
    path = FEEDS / name
    return parse_feed(path.read_bytes(), str(path))


def test_every_fixture_is_listed() -> None:
    assert sorted(p.name for p in FEEDS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_parses_or_fails_clearly(name: str) -> None:
    """test_parse_corpus: every document parses into sanitized items or fails with a
    ParseError naming it; entry counts are right."""
    path = FEEDS / name
    try:
        feed = parse(name)
    except ParseError as exc:
        assert str(path) in str(exc)
        assert EXPECTED[name] is None, f"a good feed failed: {exc}"
        return
    expected = EXPECTED[name]
    if expected is not None:
        assert (feed.title, len(feed.entries)) == expected
    for entry in feed.entries:
        lowered = entry.content_html.lower()
        assert "<script" not in lowered and "javascript:" not in lowered
        assert " onerror=" not in lowered and " onclick=" not in lowered


def test_german_atom() -> None:
    """test_heise_atom_in_german: title, link, a published time with an offset, umlauts."""
    feed = parse("atom-de.atom")
    first = feed.entries[0]
    assert first.title == "Straßenbahn fährt wieder über die Brücke"
    assert first.published == datetime(2026, 2, 1, 16, 22, tzinfo=UTC)
    assert "verfügbar" in first.content_html


def test_relative_links_are_resolved_against_xml_base() -> None:
    """test_relative_links_are_resolved_against_xml_base, on the feed's and an entry's base."""
    first, second = parse("atom-de.atom").entries
    assert 'href="https://www.example.de/verkehr/"' in first.content_html  # root-relative
    for entry in (first, second):
        assert entry.link is not None and entry.link.startswith("https://www.example.de/")
        assert 'href="/' not in entry.content_html and 'src="/' not in entry.content_html
        assert re.search(r'(href|src)="(?!https://)', entry.content_html) is None


def test_path_relative_links_follow_the_xml_base_in_scope() -> None:
    """RFC 4287 §2 and XML Base: ``meldung/x.html`` under ``xml:base=".../news/"`` is
    ``.../news/meldung/x.html``; an entry's own xml:base wins over the feed's."""
    first, second = parse("atom-de.atom").entries
    assert first.link == (
        "https://www.example.de/news/meldung/strassenbahn-1001.html?wt_mc=rss.beitrag.atom"
    )
    assert 'src="https://www.example.de/news/bilder/bruecke.jpg"' in first.content_html
    assert second.link == "https://www.example.de/sport/artikel-1002.html"
    assert 'href="https://www.example.de/sport/tabelle.html"' in second.content_html


def test_rdf_rss10() -> None:
    """test_heise_rdf_rss10."""
    feed = parse("rss10.rdf")
    assert feed.entries[0].title == "OLED-Fernseher: Vorsichtsmaßnahmen gegen Einbrennen"
    assert all(e.link and e.link.startswith("https://www.example.de/") for e in feed.entries)


@pytest.mark.parametrize(
    ("name", "letters"),
    [
        ("iso-8859-1.rss", "äöüÄÖÜß"),  # test_golem_iso_8859_1_umlauts
        ("declares-latin1-is-utf8.rss", "äöüÄß"),  # test_laut_de_declares_latin1_but_is_utf8
        ("cp1252-undeclared.rss", "ãçéêáõí“”"),  # test_cp1252_without_declaration
    ],
)
def test_declared_and_undeclared_encodings(name: str, letters: str) -> None:
    feed = parse(name)
    text = " ".join(e.title + e.content_html for e in feed.entries)
    assert "Ã" not in text and "\ufffd" not in text
    assert any(ch in text for ch in letters)


def test_windows_1251_cyrillic() -> None:
    """test_windows_1251_cyrillic."""
    feed = parse("windows-1251.rss")
    assert feed.entries[0].title == "Привет, мир"


@pytest.mark.parametrize("name", ["utf16le-no-bom.rss", "utf16be-no-bom.rss"])
def test_utf16_without_bom(name: str) -> None:
    """test_utf16_without_bom."""
    feed = parse(name)
    assert feed.title == "UTF-16 ohne BOM" and "\x00" not in feed.entries[0].title


def test_gzip_body_stored_without_content_encoding() -> None:
    """test_gzip_body_stored_without_content_encoding."""
    assert parse("gzip-body.rss.gz").entries[0].title == "Gepackter Eintrag"


def test_json_feed() -> None:
    """test_json_feed_daring_fireball: title, items, links, a time with an offset."""
    feed = parse("feed.json")
    first = feed.entries[0]
    assert first.link == "https://diary.example/2026/06/26/talk"
    assert first.published == datetime(2026, 6, 27, 1, 30, tzinfo=UTC)
    assert feed.entries[1].content_html  # content_text becomes content too


def test_truncated_json_names_the_source() -> None:
    """test_truncated_json_names_the_source."""
    with pytest.raises(ParseError, match=r"partial\.json.*invalid JSON"):
        parse("partial.json")


def test_xxe_document_reads_no_file() -> None:
    """test_safety's test_xxe_document_from_the_corpus_reads_no_file."""
    body = (FEEDS / "xxe.atom").read_bytes()
    assert b"<!ENTITY" in body and b"file:///etc/passwd" in body
    try:
        feed = parse("xxe.atom")
    except ParseError:
        return
    text = feed.title + "".join(e.title + e.content_html for e in feed.entries)
    assert "root:" not in text and "discloseInfo" not in text


def _fragments() -> list[tuple[str, str]]:
    found = []
    for name, expected in sorted(EXPECTED.items()):
        if expected is not None:
            for index, entry in enumerate(parse(name).entries):
                if entry.content_html:
                    found.append((f"{name}#{index}", entry.content_html))
    page = FIXTURES / "pages" / "article.html"
    extracted = extract_article(page.read_bytes(), "https://zeitung.example/artikel")
    assert extracted is not None
    found.append(("pages/article.html", extracted.html))
    return found


FRAGMENTS = _fragments()


@pytest.mark.parametrize("markup", [m for m in Markup if m is not Markup.HTML])
def test_links_and_images_survive_every_converter(markup: Markup) -> None:
    """test_markup_corpus's test of the same name."""
    assert sum(len(targets(f)) for _, f in FRAGMENTS) >= 6  # links and images to keep
    for name, fragment in FRAGMENTS:
        output = convert(fragment, markup)
        if markup is Markup.TEXT:
            missing = {t for t in targets(fragment) if t not in _same(output)}
        else:
            missing = targets(fragment) - targets(read_back(output, markup))
        assert not missing, (name, markup, missing)


@pytest.mark.parametrize("markup", [Markup.MARKDOWN, Markup.DISCORD, Markup.MATRIX])
def test_paragraphs_survive_where_a_parser_can_count_them(markup: Markup) -> None:
    """test_markup_corpus's test of the same name."""
    assert max(paragraphs(f) for _, f in FRAGMENTS) >= 5
    for name, fragment in FRAGMENTS:
        rendered = read_back(convert(fragment, markup), markup)
        assert paragraphs(rendered) >= paragraphs(fragment), (name, markup)


def test_article_extraction_keeps_the_text_and_drops_the_page_around_it() -> None:
    """test_fulltext's fidelity test on the corpus's gold pages, on one page of our own."""
    page = FIXTURES / "pages" / "article.html"
    extracted = extract_article(page.read_bytes(), "https://zeitung.example/artikel")
    assert extracted is not None
    for sentence in (
        "Nach drei Jahren Bauzeit",
        "eigene Spuren",
        "48 Millionen Euro",
        "Länge: 320 Meter",
        "im regulären Takt",
    ):
        assert sentence in extracted.text
    for boilerplate in ("Meistgelesen", "Impressum", "Datenschutz", "Stau auf der Autobahn"):
        assert boilerplate not in extracted.text


EDGE_URLS = {
    "https://x.de//",
    "https://x.de",
    "https://x.de/a//",
    "http://x.de/a/b/",
    "https://x.de/a;b/c.html",
    "https://x.de/%C3%A4/",
    "https://x.de/a b",
    "https://X.de/a",
    "https://www.x.de/a",
    "https://x.de:443/a",
    "https://user@x.de/a",
    "https://x.de/a?b=1",
    "https://x.de/a#b",
    "https://1.2.3.4/a",
    "https://x.de/ä",
    "http://www.Example.org/a/?utm_source=x&b=2&a=1#frag",
}


def test_the_quick_canonical_path_agrees_with_the_parser() -> None:
    """test_identify's test of the same name, on every link of the fixtures."""
    urls = set(EDGE_URLS)
    for path in [*FEEDS.iterdir(), *(FIXTURES / "pages").iterdir()]:
        urls.update(re.findall(r"https?://[^\s\"'<>]+", path.read_text(errors="ignore")))
    assert_quick_canonical_agrees(urls, taken_at_least=20)


def assert_quick_canonical_agrees(urls: set[str], *, taken_at_least: int) -> None:
    """Where the common-case shortcut answers, it answers what the URL parser does, and it
    answers often enough to be the path taken, not only declined."""
    quick = 0
    for url in sorted(urls):
        simple = _simple_canonical(url.strip())
        if simple is not None:
            quick += 1
            assert simple == _parsed_canonical(url.strip()), url
    assert quick > taken_at_least
