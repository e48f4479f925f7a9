"""newsbote reads every feed document as feedparser does, but for the reviewed differences.

The harness is ``tests/differential.py``; the reviewed differences, each with its reason, are
``tests/intended_differences.toml``. A difference not listed there fails the test, and so does
a listed one that no longer occurs (the file stays true). Rewrite the file after a change with
``python -m tests.differential --write-intended`` and review every reason it keeps or adds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from newsbote.parse import parse_feed, prepare_xml
from newsbote.types import Enclosure, ParsedFeed
from tests.differential import (
    CLASSES,
    Difference,
    Document,
    Intended,
    Reading,
    Run,
    corpus_documents,
    corpus_rows,
    diff,
    edge_documents,
    load_intended,
    run,
    unexpected,
)


def _check(result: Run, intended: list[Intended], request: pytest.FixtureRequest) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\ndifferential ({request.node.name}): {result.summary()}")
    new, stale = unexpected(result.differences, intended)
    report = [str(d) for d in new[:40]]
    report += [f"listed but no longer occurs: {row.document} {row.field}" for row in stale]
    assert not new and not stale, (
        f"{len(new)} new differences, {len(stale)} stale intended rows "
        f"({result.summary()}):\n" + "\n".join(report)
    )


def test_edge_documents_read_as_feedparser_reads_them(request: pytest.FixtureRequest) -> None:
    """The edge set alone (no corpus needed): its own rows, and the classes it matches."""
    documents = edge_documents()
    assert len(documents) >= 30
    result = run(documents)
    rows = [row for row in load_intended() if row.document.startswith("edge/")]
    classes = [row for row in load_intended() if row.kind]
    used = [row for row in classes if any(row.covers(d) for d in result.differences)]
    _check(result, rows + used, request)


def test_corpus_and_edge_documents_read_as_feedparser_reads_them(
    corpus: Path, request: pytest.FixtureRequest
) -> None:
    """Every row and every class of the intended file, against both sets together."""
    documents = edge_documents() + corpus_documents(corpus, corpus_rows(corpus))
    assert len(documents) > 480
    _check(run(documents), load_intended(), request)


def test_every_edge_document_is_indexed() -> None:
    here = Path(__file__).resolve().parent / "edge_feeds"
    on_disk = {p.name for p in here.iterdir() if p.suffix in {".xml", ".json"}}
    assert on_disk == {d.name.removeprefix("edge/") for d in edge_documents()}


# -- the harness itself ---------------------------------------------------------------------


def test_visible_text_and_links_ignore_formatting_and_the_allow_list() -> None:
    ours = Reading(entries=[])
    document = Document("x", b"", "https://x.example/")
    assert not diff(document.name, ours, Reading(entries=[]))
    from tests.differential import rich

    plain = rich('<p>Hello <span style="x">world</span></p><div>two</div>', None)
    styled = rich("Hello world<br>two<script>var x</script>", None)
    assert plain.text.replace(" ", "") == styled.text.replace(" ", "")
    links = rich(
        '<a href="/a">a</a><img src="https://t.example/1x1.gif" width="1">', "https://h.example/"
    )
    assert links.urls == {"https://h.example/a"}


def test_a_cut_text_is_a_difference() -> None:
    from tests.differential import EntryReading, rich

    cut = Reading(entries=[EntryReading(title="caf", content=rich("Hello", None))])
    whole = Reading(entries=[EntryReading(title="café text", content=rich("Hello world", None))])
    found = diff("doc", cut, whole)
    assert {(d.entry, d.field) for d in found} == {(0, "title"), (0, "content")}


def test_an_intended_row_covers_only_its_document_and_field() -> None:
    row = Intended("doc", "title", "why", (0,))
    assert row.covers(Difference("doc", 0, "title", "a", "b"))
    assert not row.covers(Difference("doc", 1, "title", "a", "b"))
    assert not row.covers(Difference("doc", 0, "content", "a", "b"))
    assert not row.covers(Difference("other", 0, "title", "a", "b"))
    new, stale = unexpected([Difference("other", 0, "title", "a", "b")], [row])
    assert new and stale == [row]


def test_every_class_of_intended_differences_is_defined() -> None:
    for row in load_intended():
        assert row.reason
        assert row.kind is None or row.kind in CLASSES


# -- what the differential test found, proved one by one --------------------------------


def _edge(name: str, **kwargs: object) -> ParsedFeed:
    document = next(d for d in edge_documents() if d.name == f"edge/{name}")
    return parse_feed(document.body, document.url, document.content_type, **kwargs)  # type: ignore[arg-type]


def test_named_html_entities_are_read_not_cut() -> None:
    entry = _edge("entities_rss2.xml").entries[0]
    assert entry.title == "café text"
    assert entry.text == "Hello world — part two & “three”"


def test_an_entity_in_cdata_stays_text_and_an_undefined_one_is_dropped() -> None:
    document = prepare_xml(
        b"<rss><channel><title>A&bogus;B</title><item><description><![CDATA[x &nbsp; y]]>"
        b"</description></item></channel></rss>",
        "https://e.example/",
    )
    assert b"A" + b"B</title>" in document
    assert b"<![CDATA[x &nbsp; y]]>" in document


def test_windows_1252_bytes_under_a_latin_1_label_are_quotes_and_dashes() -> None:
    entry = _edge("latin1_label_cp1252_bytes.xml").entries[0]
    assert entry.title == "It’s “quoted” — café"
    assert "\x92" not in entry.text and "€5" in entry.text
    header = _edge("latin1_header_cp1252_bytes.xml").entries[0]
    assert header.title == "It’s “quoted”"


def test_enclosures_reach_the_entry() -> None:
    (rss,) = _edge("rss2_enclosure.xml").entries
    assert rss.enclosures == (Enclosure("https://edge.example/ep1.mp3", "audio/mpeg", 12345678),)
    (atom,) = _edge("atom10_enclosure.xml").entries
    assert atom.enclosures == (Enclosure("https://edge.example/ep2.m4a", "audio/x-m4a", 2345),)


def test_a_youtube_entry_has_its_description_and_thumbnail() -> None:
    (entry,) = _edge("atom10_media_group.xml").entries
    assert entry.text == "What the video is about, in full."
    assert entry.image == "https://edge.example/vi/yt/hqdefault.jpg"


def test_xhtml_titles_and_summaries_are_read() -> None:
    (entry,) = _edge("atom10_xhtml_title_summary.xml").entries
    assert entry.title == "An xhtml title"
    assert 'href="https://edge.example/s"' in entry.summary_html


def test_bodies_base64_and_unescaped_markup_are_read() -> None:
    assert _edge("rss2_body.xml").entries[0].text == "The whole article from body."
    assert _edge("rss2_fullitem.xml").entries[0].text == "Some bold text and a link."
    assert _edge("atom03_base64.xml").entries[0].text == "Decoded from base64."
    unescaped = _edge("rss2_unescaped_markup.xml").entries[0]
    assert unescaped.title == "A big day"
    assert unescaped.text == "Some bold text and a link after."


def test_xml_base_and_content_location_are_the_base() -> None:
    first, second = _edge("atom10_xml_base.xml").entries
    assert 'href="https://base.example/blog/page.html"' in first.content_html
    assert second.link == "https://other.example/posts/r2.html"
    assert 'href="https://other.example/posts/page.html"' in second.content_html
    moved = _edge("content_location.xml", content_location="https://moved.example/feeds/atom.xml")
    assert moved.entries[0].link == "https://moved.example/feeds/c1"


def test_script_text_is_not_a_title() -> None:
    assert _edge("script_in_title.xml").entries[0].title == "Safe title"
    assert _edge("script_in_rss_title.xml").entries[0].title == "Visible title"


def test_a_text_summary_keeps_its_angle_brackets_as_text() -> None:
    (entry,) = _edge("variant_atom10.xml").entries
    assert "Plain &lt;not a tag&gt; summary." in entry.summary_html


def test_the_feed_language_is_read() -> None:
    assert _edge("variant_rss20.xml").language == "en-GB"
    assert _edge("variant_rss10.xml").language == "de"
    assert _edge("variant_jsonfeed11.json").language == "fr-CA"
