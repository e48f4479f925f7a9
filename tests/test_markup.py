"""Each platform's markup: golden outputs, escaping and truncation properties."""

from __future__ import annotations

import html
import re
from pathlib import Path

import bbcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html
from markdown_it import MarkdownIt

from newsbote.render.limits import fit, mastodon_length
from newsbote.render.markup import convert
from newsbote.types import Markup

GOLDEN = Path(__file__).parent / "golden"
ARTICLE = (GOLDEN / "article.html").read_text(encoding="utf-8")
SUFFIX = {
    Markup.HTML: "html.out", Markup.MATRIX: "matrix.html", Markup.MARKDOWN: "md",
    Markup.DISCORD: "discord.md", Markup.BBCODE: "bbcode", Markup.SLACK: "slack",
    Markup.TELEGRAM: "telegram.html", Markup.TEXT: "txt",
}  # fmt: skip
ZWSP = "\u200b"


@pytest.mark.parametrize("markup", list(Markup))
def test_golden_article(markup: Markup) -> None:
    """Reviewed by eye; docs/markup.md shows the same outputs."""
    expected = (GOLDEN / f"article.{SUFFIX[markup]}").read_text(encoding="utf-8").rstrip("\n")
    assert convert(ARTICLE, markup) == expected


# -- independent parsers, to read each dialect back ------------------------------

_md = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def _bb_parser() -> bbcode.Parser:
    parser = bbcode.Parser(replace_links=False, replace_cosmetic=False, escape_html=True)
    parser.add_simple_formatter("plain", "%(value)s", render_embedded=False)
    parser.add_simple_formatter("icode", "<code>%(value)s</code>", render_embedded=False)
    parser.add_simple_formatter("size", "<span>%(value)s</span>")
    parser.add_simple_formatter(
        "img",
        '<img src="%(value)s">',
        replace_links=False,
        replace_cosmetic=False,
        render_embedded=False,
    )
    return parser


_bb = _bb_parser()


def read_back(text: str, markup: Markup) -> str:
    """The dialect rendered to HTML by a parser that is not ours."""
    if markup in (Markup.MARKDOWN, Markup.DISCORD):
        return str(_md.render(text))
    if markup is Markup.BBCODE:
        return str(_bb.format(text))
    if markup is Markup.SLACK:

        def link(match: re.Match[str]) -> str:
            return f'<a href="{html.escape(match.group(1))}">{match.group(2)}</a>'

        return re.sub(r"<([^|>]+)\|([^>]*)>", link, text).replace(ZWSP, "")
    if markup is Markup.TEXT:
        return html.escape(text)
    return text


def visible_text(fragment: str) -> str:
    root = lxml_html.fragment_fromstring(fragment or "<p></p>", create_parent="div")
    return " ".join(root.text_content().split())


PLAIN = st.text(
    alphabet=st.sampled_from(list("abcxyzÄöß 0123 *_~`[]<>&#|\\!()-+.=:/'\"")),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip())


@settings(max_examples=150, deadline=None)
@given(text=PLAIN)
@pytest.mark.parametrize("markup", [m for m in Markup if m is not Markup.HTML])
def test_text_never_becomes_markup(markup: Markup, text: str) -> None:
    source = f"<p>{html.escape(text)}</p>"
    rendered = read_back(convert(source, markup), markup)
    # (Slack's escapes, &amp; &lt; &gt;, are HTML's: the HTML parser undoes them, once)
    got = visible_text(rendered)
    if markup is Markup.SLACK:
        # mrkdwn has no escapes: markers must be fenced by zero-width spaces
        bare = re.sub(f"{ZWSP}[*_~`]{ZWSP}", "", convert(source, markup))
        assert not re.search(r"[*_~`]", bare)
    assert got == " ".join(text.split())


PARAGRAPH = st.text(
    alphabet=st.sampled_from(list("abc def. Ghi, jkl! *_[]<>&;")), min_size=5, max_size=300
)


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(PARAGRAPH, min_size=1, max_size=12),
    limit=st.integers(min_value=120, max_value=1500),
)
@pytest.mark.parametrize(
    "markup",
    [
        Markup.TELEGRAM,
        Markup.MARKDOWN,
        Markup.BBCODE,
        Markup.TEXT,
        Markup.DISCORD,
        Markup.SLACK,
        Markup.MATRIX,
    ],
)
def test_truncation_fits_keeps_the_link_and_closes_markup(
    markup: Markup, paragraphs: list[str], limit: int
) -> None:
    body = "".join(f"<p>{html.escape(p)} <b>fett</b></p>" for p in paragraphs)
    link = "https://example.org/artikel/1"
    fragment = body + f'<p class="newsbote-more"><a href="{link}">zum Artikel…</a></p>'
    measure = mastodon_length if markup is Markup.TEXT else len
    out = fit(fragment, markup, limit, measure)
    assert measure(out) <= limit
    assert link in out
    if markup in (Markup.TELEGRAM, Markup.MATRIX):
        etree.fromstring(f"<root>{out}</root>".encode())  # well-formed: nothing cut or left open
    if markup is Markup.BBCODE:
        for tag in ("b", "url", "quote", "list"):
            assert out.count(f"[{tag}") == out.count(f"[/{tag}]")
    assert not re.search(r"&[a-z]*$", out.split("\n")[0])


def test_short_posts_are_not_touched() -> None:
    assert fit(ARTICLE, Markup.TELEGRAM, 4096) == convert(ARTICLE, Markup.TELEGRAM)
    assert fit(ARTICLE, Markup.TELEGRAM, None) == convert(ARTICLE, Markup.TELEGRAM)


def test_mastodon_counts_links_as_23() -> None:
    assert mastodon_length("see https://example.org/" + "x" * 100) == len("see ") + 23
