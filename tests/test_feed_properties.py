"""For any feed document, parse → sanitize → render gives a ParseError naming the feed, or
output in every markup with no URL outside the policy, no raw script and balanced HTML."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbote.config.schema import BotConfig
from newsbote.enrich.sanitize import plain_text
from newsbote.errors import ParseError
from newsbote.identify import item_key
from newsbote.parse import parse_feed
from newsbote.render import RenderContext, Renderer
from newsbote.types import Item, Markup
from newsbote.urls import link_url
from tests.test_markup import _DANGEROUS_SCHEMES, BREAKOUT, HOSTILE_URLS, assert_urls_pass
from tests.test_url_properties import URL_TEXT

FEED_URL = "https://feeds.example/hostile.xml"
HTML_OUTPUT = (Markup.HTML, Markup.MATRIX, Markup.TELEGRAM)
VOID = frozenset(
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]
)  # fmt: skip

MARKUP_FRAGMENTS = [
    "<script>alert(1)</script>", "<SCRIPT SRC=//x>", "<img src=x onerror=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>", "<iframe src=a>", "<!--", "-->", "<![CDATA[", "]]>",
    "<b>", "</b>", "<p>", "</div>", "<", ">", "&", "&nbsp;", "&#xD800;", "&#0;", "&lol;",
    "<!DOCTYPE x [", "<style>p{}</style>", "<svg onload=alert(1)>", "<math>", "<table><td>",
    "\x00", "\x1b[31m", "\u202e", "@room", "@alice@example.social", "[url=javascript:x]y[/url]",
    "![x](javascript:alert(1))", "<!channel>", "Text", " ", "\n",
]  # fmt: skip
BODY = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(MARKUP_FRAGMENTS), max_size=12).map("".join),
    st.lists(
        st.one_of(st.sampled_from(MARKUP_FRAGMENTS), URL_TEXT.map(html.escape)), max_size=8
    ).map(" ".join),
)
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(MARKUP_FRAGMENTS))
LINK = st.one_of(URL_TEXT, st.sampled_from([*HOSTILE_URLS, BREAKOUT]))


def _xml(text: str) -> str:
    """Text as an XML document may carry it: escaped, and only characters XML allows."""
    allowed = "".join(c for c in text if c in "\t\n\r" or " " <= c <= "\ud7ff" or c >= "\ue000")
    return html.escape(allowed.replace("\ufffe", "").replace("\uffff", ""))


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, str]:
    title, link, body, image, enclosure = (
        draw(TEXT), draw(LINK), draw(BODY), draw(LINK), draw(LINK)
    )  # fmt: skip
    kind = draw(st.sampled_from(["rss", "atom", "json", "raw"]))
    if kind == "rss":
        document = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>Feed</title>'
            f"<item><guid>g1</guid><title>{_xml(title)}</title><link>{_xml(link)}</link>"
            f"<description>{_xml(body)}</description>"
            f'<enclosure url="{_xml(enclosure)}" type="image/png" length="1"/>'
            f'<media:thumbnail url="{_xml(image)}"/></item></channel></rss>'
        )
        return document.encode("utf-8"), "application/rss+xml"
    if kind == "atom":
        document = (
            '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Feed</title><id>urn:f</id><entry><id>urn:e1</id><title>{_xml(title)}</title>"
            f'<link rel="alternate" href="{_xml(link)}"/>'
            f'<link rel="enclosure" href="{_xml(enclosure)}" type="image/png"/>'
            f'<content type="html">{_xml(body)}</content></entry></feed>'
        )
        return document.encode("utf-8"), "application/atom+xml"
    if kind == "json":
        feed = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Feed",
            "items": [
                {"id": "1", "title": title, "url": link, "content_html": body, "image": image}
            ],
        }
        return json.dumps(feed).encode("utf-8", "surrogatepass"), "application/feed+json"
    # raw: the fragments pasted into an RSS skeleton unescaped, as broken feeds do
    document = (
        f'<rss version="2.0"><channel><title>Feed</title><item><guid>g1</guid>'
        f"<title>{title}</title><link>{link}</link><description>{body}</description>"
        "</item></channel></rss>"
    )
    return document.encode("utf-8", "surrogatepass"), "application/rss+xml"


class _Balance(HTMLParser):
    """Counts open elements: every non-void start tag must have its end tag, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)
        self.problems += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"stray </{tag}> (open: {self.stack})")
            return
        self.stack.pop()


def assert_safe(output: str, markup: Markup, visible: str) -> None:
    """Every URL in ``output`` passes the policy. Plain text (toots) is the exception that
    proves it: there an article's own words may look like URLs, and no client links a
    word of another scheme, so each such word must be the article's text as it was, or a
    URL in the policy's form."""
    if markup is not Markup.TEXT:
        assert_urls_pass(output, markup)
        return
    assert "<script" not in output.lower() or "<script" in visible.lower()
    for word in output.split():
        # the text after a URL may touch it (a toot's reader ends a link at such marks)
        bare = word.strip("([{<\"'>)]},;:!?.\\")
        if bare.lower().startswith((*_DANGEROUS_SCHEMES, "http:", "https:", "mailto:")):
            assert bare in visible or link_url(bare) == bare, (bare, output)


def assert_balanced(output: str) -> None:
    checker = _Balance()
    checker.feed(output)
    checker.close()
    assert not checker.problems and not checker.stack, (checker.problems, checker.stack, output)


RENDERER = Renderer()
CONTEXT = RenderContext(bot=BotConfig(), language="de", source_title="Feed")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents())
def test_any_feed_renders_safely_in_every_markup_or_fails_naming_the_feed(
    document: tuple[bytes, str],
) -> None:
    body, content_type = document
    try:
        feed = parse_feed(body, FEED_URL, content_type)
    except ParseError as exc:
        assert FEED_URL in str(exc)
        return
    for entry in feed.entries:
        for text in (entry.title, entry.content_html, entry.summary_html):
            assert not any("\ud800" <= c <= "\udfff" for c in text)  # no lone surrogate goes on
        key, kind = item_key(entry)
        item = Item("hostile", key, kind, entry.link, entry, "f")
        visible = f"{entry.title} {plain_text(entry.content_html)} {plain_text(entry.summary_html)}"
        for markup in Markup:
            message = RENDERER.render(item, destination="x", markup=markup, context=CONTEXT)
            assert_safe(message.body, markup, visible)
            for url in (message.link, message.image):
                assert url is None or url.startswith(("http://", "https://")), url
            if markup in HTML_OUTPUT:
                assert_balanced(message.body)


@pytest.mark.parametrize("fragment", MARKUP_FRAGMENTS)
def test_each_fragment_as_a_whole_description_renders_safely(fragment: str) -> None:
    """The examples Hypothesis may not draw alone, each on its own."""
    document = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>F</title><item><guid>g</guid>'
        f"<link>https://a.example/x</link><title>T</title><description>{_xml(fragment)}"
        "</description></item></channel></rss>"
    ).encode()
    feed = parse_feed(document, FEED_URL, "application/rss+xml")
    entry = feed.entries[0]
    item = Item("hostile", "g", item_key(entry)[1], entry.link, entry, "f")
    visible = f"{entry.title} {plain_text(entry.content_html)}"
    for markup in Markup:
        message = RENDERER.render(item, destination="x", markup=markup, context=CONTEXT)
        assert_safe(message.body, markup, visible)
        if markup in HTML_OUTPUT:
            assert_balanced(message.body)
