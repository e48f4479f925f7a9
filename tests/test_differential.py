"""newsbote reads every feed document as feedparser does, but for the reviewed differences.

The harness is ``tests/differential.py``; the reviewed differences, each with its reason, are
``tests/intended_differences.toml``. A difference not listed there fails the test, and so does
a listed one that no longer occurs (the file stays true). Rewrite the file after a change with
``python -m tests.differential --write-intended`` and review every reason it keeps or adds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
