"""Hostile documents expand nothing and inject nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsbote.errors import ParseError
from newsbote.parse import parse_feed, prepare_xml
from tests.conftest import CORPUS

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><guid>1</guid><title>Bomb &lol9;</title><description>&lol9;</description></item>
</channel></rss>"""


def test_billion_laughs_expands_nothing() -> None:
    started = time.process_time()
    try:
        feed = parse_feed(BILLION_LAUGHS, "http://evil.example/laughs.xml")
    except ParseError as exc:
        assert "evil.example" in str(exc)
        return
    finally:
        assert time.process_time() - started < 5
    text = feed.title + "".join(e.title + e.content_html for e in feed.entries)
    assert "lol" not in text.replace("Bomb", "")
    assert len(text) < 1000


@pytest.mark.corpus  # the same on a fixture of our own: test_fixtures_corpus_free.py
def test_xxe_document_from_the_corpus_reads_no_file(tmp_path: Path) -> None:
    path = CORPUS / "feeds/laminas-feed/_files/Reader/xxe-atom10.xml"
    body = path.read_bytes()
    assert b"<!ENTITY" in body
    try:
        feed = parse_feed(body, str(path))
    except ParseError:
        return
    text = feed.title + "".join(e.title + e.content_html for e in feed.entries)
    assert "root:" not in text
    assert "discloseInfo" not in text


def test_external_entity_to_a_local_file_is_not_loaded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
        "<title>&xxe;</title><description>&xxe;</description></item></channel></rss>"
    ).encode()
    feed = parse_feed(document, "http://evil.example/xxe.xml")
    assert all("TOP-SECRET" not in e.title + e.content_html for e in feed.entries)


def test_prepare_xml_removes_the_doctype_with_its_internal_subset() -> None:
    prepared = prepare_xml(BILLION_LAUGHS, "x")
    assert b"<!DOCTYPE" not in prepared and b"<!ENTITY" not in prepared
    assert prepared.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example/"></iframe>',
        '<svg onload="alert(1)"></svg>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        "<object data='x'></object>",
    ],
)
def test_feed_html_cannot_carry_script(payload: str) -> None:
    from html import escape

    document = (
        '<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>x</title>'
        f"<description>{escape(payload)}</description></item></channel></rss>"
    ).encode()
    entry = parse_feed(document, "https://example.org/feed").entries[0]
    lowered = entry.content_html.lower()
    for needle in (
        "<script",
        "onerror",
        "javascript:",
        "<iframe",
        "onload",
        "style=",
        "<object",
        "<svg",
    ):
        assert needle not in lowered


def test_unsanitized_entries_are_sanitized_before_storage_or_rendering() -> None:
    from newsbote.config import BotConfig
    from newsbote.identify import to_item
    from newsbote.render import RenderContext, Renderer
    from newsbote.types import Markup

    document = (
        b'<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>x</title>'
        b"<description>&lt;p onclick=x&gt;Hi&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description>"
        b"</item></channel></rss>"
    )
    raw = parse_feed(document, "https://example.org/feed", sanitize=False).entries[0]
    assert not raw.sanitized and "<script" in raw.content_html
    message = Renderer().render(
        to_item("s", raw),
        destination="board",
        markup=Markup.HTML,
        context=RenderContext(bot=BotConfig(), language="de", source_title="t"),
    )
    assert "<script" not in message.body and "onclick" not in message.body
    assert "Hi" in message.body


@pytest.mark.parametrize(
    "expression",
    [
        "title.__class__.__mro__[1].__subclasses__()",
        "bot.__init__.__globals__",
        "cycler.__init__.__globals__.os.popen('id').read()",
        "categories.__class__.__base__.__subclasses__()",
    ],
)
def test_a_user_template_cannot_reach_python_internals(tmp_path: Path, expression: str) -> None:
    """User templates run in Jinja's sandbox: the classic template injections fail with a
    clear error naming the template, and nothing runs."""
    from newsbote.config import BotConfig
    from newsbote.errors import RenderError
    from newsbote.identify import to_item
    from newsbote.render import RenderContext, Renderer
    from newsbote.types import Markup

    (tmp_path / "evil.j2").write_text(
        "{% block title %}{{ title }}{% endblock %}"
        f"{{% block body %}}{{{{ {expression} }}}}{{% endblock %}}"
    )
    document = b'<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>x</title></item></channel></rss>'
    item = to_item("s", parse_feed(document, "https://example.org/feed").entries[0])
    with pytest.raises(RenderError, match=r"template 'evil.j2' for destination 'board': .*unsafe"):
        Renderer(tmp_path).render(
            item,
            destination="board",
            markup=Markup.HTML,
            context=RenderContext(bot=BotConfig(), language="de", source_title="t"),
            template="evil.j2",
        )
