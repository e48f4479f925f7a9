"""Every converter, on real feed items and article pages of the corpus, keeps every link
target, every image source and (where an independent parser can tell) the paragraphs.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from urllib.parse import unquote

import pytest
from lxml import html as lxml_html

from newsbote.enrich.fulltext import extract_article
from newsbote.errors import ParseError
from newsbote.render.markup import convert
from newsbote.render.tree import BLOCK_TAGS
from newsbote.types import Markup
from newsbote.urls import web_url
from tests.conftest import CORPUS
from tests.test_markup import read_back

pytestmark = pytest.mark.corpus  # tests/test_fixtures_corpus_free.py: the same without it

LEAVES = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "tr", "dt", "dd"}


def _root(fragment: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(fragment or "<p></p>", create_parent="div")


def targets(fragment: str) -> set[str]:
    root = _root(fragment)
    found = {a.get("href") for a in root.iter("a") if a.get("href")}
    found |= {img.get("src") for img in root.iter("img") if img.get("src")}
    # what the URL policy refuses (credentials in the URL, mostly) is meant to go
    return {_same(t) for t in found if t and t.strip().startswith(("http://", "https://"))
            and web_url(t)}  # fmt: skip


def _same(url: str) -> str:
    """A URL compared as a browser would: percent-encoding and whitespace do not matter."""
    return unquote("".join(url.split()))


def _has_content(element: lxml_html.HtmlElement) -> bool:
    if element.tag == "img":
        return bool(element.get("src"))
    return bool(element.text_content().strip()) or element.find(".//img[@src]") is not None


def _units(element: lxml_html.HtmlElement) -> int:
    """Paragraph-like units inside ``element``: leaf blocks and runs of loose inline content."""
    total, run = 0, bool(element.text and element.text.strip())
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in BLOCK_TAGS:
            total += int(run)
            run = False
            has_blocks = any(
                isinstance(c.tag, str) and c.tag in BLOCK_TAGS
                for c in child.iter()
                if c is not child
            )
            if tag in LEAVES and not has_blocks:
                total += int(_has_content(child))
            elif tag not in ("hr",):
                total += _units(child)
        elif tag:
            run = run or _has_content(child)
        if child.tail and child.tail.strip():
            run = True
    return total + int(run)


def paragraphs(fragment: str) -> int:
    """Leaf text blocks (a ``p``, heading, list item, row…) and loose runs of text."""
    return _units(_root(fragment))


def corpus_fragments() -> Iterator[tuple[str, str]]:
    from newsbote.parse import parse_feed

    manifest = CORPUS / "manifest.tsv"
    if not manifest.is_file():
        return
    with manifest.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["path"].startswith("feeds/")]
    for row in rows:
        if row["format"] in {"opml", "email", "mbox", "config", "text", "json-gold", "html"}:
            continue
        path = CORPUS / row["path"]
        try:
            feed = parse_feed(path.read_bytes(), str(path))
        except ParseError:
            continue
        for index, entry in enumerate(feed.entries[:3]):
            if entry.content_html:
                yield f"{row['path']}#{index}", entry.content_html
    for page in sorted((CORPUS / "articles/readability-testpages").glob("*/source.html")):
        extracted = extract_article(page.read_bytes(), "https://example.org/article")
        if extracted and extracted.html:
            yield str(page.relative_to(CORPUS)), extracted.html


@pytest.fixture(scope="module")
def fragments() -> list[tuple[str, str]]:
    found = list(corpus_fragments())
    assert len(found) > 500, "expected the shared corpus"
    return found


# Links inside <pre> cannot stay links in a Markdown code block (the text stays, the link goes).
KNOWN_LINK_LOSSES = {
    (Markup.MARKDOWN, "articles/readability-testpages/ietf-1/source.html"),
    (Markup.MARKDOWN, "articles/readability-testpages/v8-blog/source.html"),
    (Markup.DISCORD, "articles/readability-testpages/ietf-1/source.html"),
    (Markup.DISCORD, "articles/readability-testpages/v8-blog/source.html"),
}


@pytest.mark.parametrize("markup", [m for m in Markup if m is not Markup.HTML])
def test_links_and_images_survive_every_converter(
    markup: Markup, fragments: list[tuple[str, str]]
) -> None:
    losses = []
    for name, fragment in fragments:
        output = convert(fragment, markup)
        rendered = read_back(output, markup)
        if markup is Markup.TEXT:  # plain text: the URL itself must be there
            plain = _same(output)
            missing = {t for t in targets(fragment) if t not in plain}
        else:
            missing = targets(fragment) - targets(rendered)
        if missing and (markup, name) not in KNOWN_LINK_LOSSES:
            losses.append(f"{name}: {sorted(missing)[:3]}")
    assert not losses, f"{markup}: {len(losses)} of {len(fragments)} lost links:\n" + "\n".join(
        losses[:20]
    )


@pytest.mark.parametrize("markup", [Markup.MARKDOWN, Markup.DISCORD, Markup.MATRIX])
def test_paragraphs_survive_where_a_parser_can_count_them(
    markup: Markup, fragments: list[tuple[str, str]]
) -> None:
    losses = []
    for name, fragment in fragments:
        rendered = read_back(convert(fragment, markup), markup)
        expected, got = paragraphs(fragment), paragraphs(rendered)
        if got < expected:  # merged paragraphs; a <br><br> may rightly become a paragraph break
            losses.append(f"{name}: {expected} paragraphs in, {got} out")
    assert not losses, f"{markup}: {len(losses)} of {len(fragments)} changed:\n" + "\n".join(
        losses[:20]
    )
