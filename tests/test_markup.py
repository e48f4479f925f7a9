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

from newsbote.config.schema import BotConfig
from newsbote.render import RenderContext, Renderer
from newsbote.render.limits import fit, mastodon_length
from newsbote.render.markup import convert
from newsbote.types import Entry, Item, KeyKind, Markup, Message
from newsbote.urls import link_url

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
            # Slack decodes &amp; &lt; &gt; in a link's target as in its text
            return f'<a href="{html.escape(html.unescape(match.group(1)))}">{match.group(2)}</a>'

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


# -- the URL policy in every markup ------------------------------------------------

HTML_MARKUPS = (Markup.HTML, Markup.MATRIX, Markup.TELEGRAM)
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "span", "tg-spoiler", "tg-emoji"}  # fmt: skip


def _html_urls(fragment: str) -> list[str]:
    root = lxml_html.fragment_fromstring(fragment or "<p></p>", create_parent="div")
    assert not list(root.iter("script", "iframe", "object", "embed"))
    found = []
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), f"event handler {name}={value!r}"
            if name in ("href", "src", "cite", "srcset", "action", "formaction", "poster"):
                found.append(value)
    return found


def _markdown_urls(text: str) -> list[str]:
    found = []
    for token in _md.parse(text):
        for child in [token, *(token.children or [])]:
            assert child.type not in ("html_inline", "html_block"), child.content
            if child.type in ("link_open", "image"):
                found.append(str(child.attrGet("href") or child.attrGet("src")))
    return found


def _bbcode_urls(text: str) -> list[str]:
    found, inside = [], None
    for kind, tag, options, token in _bb.tokenize(text):
        if kind == bbcode.Parser.TOKEN_TAG_START and tag in ("url", "img"):
            if options and options.get(tag):
                found.append(options[tag])
            else:
                inside = tag
        elif kind == bbcode.Parser.TOKEN_DATA and inside:
            found.append(token)
            inside = None
        elif kind == bbcode.Parser.TOKEN_TAG_END:
            inside = None
    return found


def _slack_urls(text: str) -> list[str]:
    """Slack reads everything between ``<`` and ``>`` as a link, mention or command."""
    found, start = [], text.find("<")
    while start >= 0:
        end = text.find(">", start)
        assert end > start, f"unclosed < in {text!r}"
        target = text[start + 1 : end].split("|", 1)[0]
        assert not target.startswith(("!", "@", "#")), f"mention or command {target!r}"
        found.append(target)
        start = text.find("<", end)
    return found


_DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:", "file:", "blob:", "//")


def urls_in(output: str, markup: Markup) -> list[str]:
    """Every URL a reader of ``output`` could follow or load, read back by a real parser
    where one exists; fails on injected markup (scripts, handlers, raw HTML, mentions)."""
    if markup in HTML_MARKUPS:
        if not output.strip():
            return []
        if markup is Markup.TELEGRAM:
            root = lxml_html.fragment_fromstring(output or "<p></p>", create_parent="div")
            assert {e.tag for e in root.iter() if e is not root} <= TELEGRAM_TAGS
        return _html_urls(output)
    if markup in (Markup.MARKDOWN, Markup.DISCORD):
        return _markdown_urls(output)
    if markup is Markup.BBCODE:
        return _bbcode_urls(output)
    if markup is Markup.SLACK:
        return _slack_urls(output)
    # plain text: a word a client could linkify starts with its scheme
    words = [word.lstrip("([<\"'") for word in output.split()]
    assert not [word for word in words if word.lower().startswith(_DANGEROUS_SCHEMES)], output
    return [word.rstrip(")") for word in words if word.startswith(("http:", "https:", "mailto:"))]


def assert_urls_pass(output: str, markup: Markup) -> list[str]:
    """Every URL in ``output`` is http(s) (or mailto) and already in the policy's form."""
    found = urls_in(output, markup)
    for url in found:
        decoded = html.unescape(url) if markup is Markup.SLACK else url
        assert link_url(decoded) == decoded, f"{markup}: {url!r} in {output!r}"
    # in Markdown a backslash makes "<" a literal character (the parser above saw no HTML)
    visible = output.replace("\\<", "") if markup in (Markup.MARKDOWN, Markup.DISCORD) else output
    if markup is Markup.BBCODE:  # "<" is text in BBCode: a forum shows it as it is
        visible = read_back(output, markup)
    assert "<script" not in visible.lower()
    return found


HOSTILE_URLS = [
    "javascript:alert(1)", " JaVaScRiPt:alert(1)", "\x01java\tscript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "vbscript:msgbox(1)",
    "file:///etc/passwd", "//evil.example/x", "https://user:pw@evil.example/",
]  # fmt: skip
# an image URL that, pasted raw into Markdown, ends its destination and adds a link and a mention
BREAKOUT = "https://img.example/a.png)[@room](https://evil.example/) ![x](javascript:alert(1)"


def hostile_fragment() -> str:
    parts = [
        f'<p><a href="{html.escape(url)}">Klick {n}</a> <img src="{html.escape(url)}" alt="Bild {n}"></p>'
        for n, url in enumerate(HOSTILE_URLS)
    ]
    parts.append(f'<p><img src="{html.escape(BREAKOUT)}" alt="x](javascript:alert(1)) [y"></p>')
    parts.append(f'<p><a href="{html.escape(BREAKOUT)}" title="a\\">weiter</a></p>')
    parts.append(
        '<p><a href="https://a.example/x)y">Klammer</a> <a href="mailto:r@a.example">Post</a></p>'
    )
    parts.append('<blockquote cite="javascript:alert(1)"><p>Zitat</p></blockquote>')
    return "".join(parts)


@pytest.mark.parametrize("markup", list(Markup))
def test_hostile_urls_in_a_body_leave_no_link_and_inject_nothing(markup: Markup) -> None:
    output = convert(hostile_fragment(), markup)
    found = assert_urls_pass(output, markup)
    # the link texts stay as text; the hostile images are gone
    assert all(f"Klick {n}" in output for n in range(len(HOSTILE_URLS)))
    assert not any(
        f"Bild {n}" in output for n in range(len(HOSTILE_URLS)) if markup is not Markup.TEXT
    )
    # the three fine URLs (the image and link breaking out of Markdown are fine, once encoded)
    encoded = (
        "https://img.example/a.png%29%5B@room%5D%28https://evil.example/%29"
        "%20!%5Bx%5D%28javascript:alert%281%29"
    )
    assert sum(url == encoded for url in found) == 2
    assert "https://a.example/x%29y" in found or markup is Markup.TEXT
    assert not any("evil.example" in url and url != encoded for url in found)
    if markup in (Markup.MARKDOWN, Markup.DISCORD):
        assert "@room](" not in output and "](https://evil.example/)" not in output


def _message(link: str | None, image: str | None, markup: Markup, content: str) -> Message:
    entry = Entry(
        guid="g", link=link, title="Titel", content_html=content, summary_html="", image=image
    )
    return Renderer().render(
        Item("blog", "g", KeyKind.GUID, link, entry, "f"),
        destination="x",
        markup=markup,
        context=RenderContext(bot=BotConfig(), language="de", source_title="Blog"),
    )


@pytest.mark.parametrize("markup", list(Markup))
@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_an_entry_whose_link_and_image_fail_the_policy_posts_without_them(
    markup: Markup, url: str
) -> None:
    message = _message(url, url, markup, "<p>Der Text.</p>")
    assert message.link is None and message.image is None
    assert "Der Text." in message.body and message.title == "Titel"
    assert "zum Artikel" not in message.body  # the template leaves out the missing link
    assert assert_urls_pass(message.body, markup) == []


@pytest.mark.parametrize("markup", list(Markup))
def test_an_image_url_that_would_break_out_of_markdown_stays_one_image(markup: Markup) -> None:
    message = _message("https://a.example/artikel", BREAKOUT, markup, "<p>Der Text.</p>")
    image = "https://img.example/a.png%29%5B@room%5D%28https://evil.example/%29%20!%5Bx%5D%28javascript:alert%281%29"
    assert message.image == image and message.link == "https://a.example/artikel"
    found = assert_urls_pass(message.body, markup)
    assert sorted(found) == sorted([image, "https://a.example/artikel"])
    if markup is Markup.MARKDOWN:
        tokens = [c for t in _md.parse(message.body) for c in (t.children or [])]
        assert [t.type for t in tokens if t.type in ("image", "link_open")] == [
            "image",
            "link_open",
        ]
        assert "@room" not in "".join(t.content for t in tokens if t.type == "text")


def test_an_ampersand_in_a_slack_link_target_is_escaped_as_slack_reads_it() -> None:
    """Slack decodes &amp;, &lt; and &gt; in a link's target: a bare ``&#0`` would be read
    as a character reference, and a query's ``&`` must arrive as ``&amp;``."""
    output = convert(
        '<p><a href="https://a.example/?x=1&amp;y=2&amp;#0">Link</a></p>', Markup.SLACK
    )
    assert "<https://a.example/?x=1&amp;y=2&amp;#0|Link>" in output
    assert [html.unescape(u) for u in urls_in(output, Markup.SLACK)] == [
        "https://a.example/?x=1&y=2&#0"
    ]


@pytest.mark.parametrize("markup", [Markup.MARKDOWN, Markup.DISCORD])
@pytest.mark.parametrize("text", ["https://a.example/nur-ein-link", "bild.png", "&ltSCRIPT"])
def test_bare_text_that_looks_like_a_url_or_a_file_converts_without_a_warning(
    markup: Markup, text: str
) -> None:
    """Beautiful Soup warns on such input (an error under this suite's warning filter)."""
    output = convert(text, markup)
    assert_urls_pass(output, markup)
    assert text.removeprefix("&lt").lower() in output.lower()


@pytest.mark.parametrize("alt", ["", " ", "\xa0"])
def test_a_matrix_image_without_alt_text_is_a_visible_link(alt: str) -> None:
    output = convert(f'<p><img src="https://a.example/b.png" alt="{alt}"></p>', Markup.MATRIX)
    assert output == '<p><a href="https://a.example/b.png">🖼</a></p>'


def test_text_before_the_first_element_keeps_its_angle_brackets_in_matrix() -> None:
    """A fragment that starts with text holding "&lt;" lost that text in Matrix: it went
    back into the HTML unescaped and the cleaner took it for a tag."""
    assert convert("&lt;SCRIPT und 1 &lt; 2<p>Absatz</p>", Markup.MATRIX) == (
        "&lt;SCRIPT und 1 &lt; 2<p>Absatz</p>"
    )


def test_a_template_that_writes_a_control_character_renders_without_it(tmp_path: Path) -> None:
    (tmp_path / "t.j2").write_text(
        "{% block title %}T{{ '\\x01' }}{% endblock %}{% block body %}<p>a{{ '\\x01' }}b</p>{% endblock %}"
    )
    entry = Entry(guid="g", link="https://a.example/", title="T", content_html="", summary_html="")
    for markup in Markup:
        message = Renderer(tmp_path).render(
            Item("blog", "g", KeyKind.GUID, None, entry, "f"),
            destination="x",
            markup=markup,
            context=RenderContext(bot=BotConfig(), language="de", source_title="Blog"),
            template="t.j2",
        )
        assert "\x01" not in message.body + message.title


def test_in_plain_text_a_bare_url_never_touches_the_text_after_it() -> None:
    output = convert(
        '<p>Siehe <a href="https://a.example/x">https://a.example/x</a>)0 und '
        '<img src="https://a.example/b.png">]</p>',
        Markup.TEXT,
    )
    assert "https://a.example/x )0" in output and "https://a.example/b.png ]" in output
