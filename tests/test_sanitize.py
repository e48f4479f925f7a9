"""Sanitizing: absolute URLs, embedded videos as links, no tracking pixels, no empty elements."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import UTC, datetime

import pytest

from newsbote.enrich.sanitize import is_tracking_pixel, raw_text, sanitize_html
from newsbote.parse import parse_feed
from newsbote.types import Entry


def test_relative_urls_become_absolute_and_unsafe_schemes_go() -> None:
    out = sanitize_html(
        '<a href="../x">x</a><img src="//cdn.e.org/i.png"><a href="data:text/html,x">d</a>',
        "https://e.org/a/b",
    )
    assert '<a href="https://e.org/x"' in out
    assert '<img src="https://cdn.e.org/i.png">' in out
    assert "data:" not in out


def test_urls_are_percent_encoded_as_browsers_send_them() -> None:
    out = sanitize_html('<a href="https://de.wikipedia.org/wiki/Isère (Fluss)">Isère</a>', None)
    assert 'href="https://de.wikipedia.org/wiki/Is%C3%A8re%20(Fluss)"' in out


def test_embedded_video_becomes_a_link() -> None:
    out = sanitize_html(
        '<p>Seht selbst:</p><iframe src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" allowfullscreen></iframe>',
        None,
    )
    assert "<iframe" not in out
    assert '<a href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"' in out


def test_tracking_pixels_and_empty_elements_are_removed() -> None:
    out = sanitize_html(
        '<p>Text</p><p><img src="https://e.org/p.gif" width="1" height="1"></p>'
        '<img src="http://feeds.feedburner.com/~r/blog/~4/abc"><p><strong> </strong></p>'
        '<img src="https://pixel.wp.com/g.gif?x=1"><img src="https://e.org/photo.jpg" width="640">',
        None,
    )
    assert out == '<p>Text</p><img src="https://e.org/photo.jpg" width="640">'


@pytest.mark.parametrize(
    "empty", ["<p></p>", "<p> </p>", "<p>&nbsp;</p>", "<p>\n\t</p>", "<p><br></p>", "<ul> </ul>"]
)
def test_an_empty_element_goes_with_only_whitespace_in_it(empty: str) -> None:
    """Also where nothing else in the fragment has a closing tag right after an opening one."""
    assert sanitize_html(f"<p>Text</p>{empty}<p>Mehr</p>", None) == "<p>Text</p><p>Mehr</p>"


def test_tracker_hosts_and_sizes() -> None:
    assert is_tracking_pixel("https://stats.wordpress.com/b.gif")
    assert is_tracking_pixel("https://ssl-vg03.met.vgwort.de/na/abc")
    assert is_tracking_pixel("https://e.org/a.png", "1", "1")
    assert not is_tracking_pixel("https://e.org/a.png", "640", "480")


def test_lead_image_is_never_a_pixel() -> None:
    feed = (
        b'<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>'
        b"<item><guid>1</guid><title>x</title>"
        b'<media:thumbnail url="https://e.org/pixel.gif" width="1" height="1"/>'
        b"<description>&lt;p&gt;Text &lt;img src=&quot;https://e.org/foto.jpg&quot;&gt;&lt;/p&gt;</description>"
        b"</item></channel></rss>"
    )
    entry = parse_feed(feed, "https://e.org/feed").entries[0]
    assert entry.image == "https://e.org/foto.jpg"


def test_with_safe_html_is_replace_with_those_fields() -> None:
    entry = Entry(
        guid="g", link="https://e.org/a", title="T", content_html="<p>a</p>",
        summary_html="<p>s</p>", author="A", published=datetime(2026, 1, 1, tzinfo=UTC),
        updated=datetime(2026, 1, 2, tzinfo=UTC), categories=("c",), image=None, text="",
        base="https://e.org/", sanitized=False,
    )  # fmt: skip
    assert entry.with_safe_html("<p>b</p>", "<p>t</p>", "b", "https://e.org/i.png") == replace(
        entry,
        content_html="<p>b</p>",
        summary_html="<p>t</p>",
        text="b",
        image="https://e.org/i.png",
        sanitized=True,
    )
    assert [f.name for f in fields(Entry)][-1] == "sanitized"  # positional construction


def test_the_visible_text_skips_what_browsers_do_not_show_in_any_letter_case() -> None:
    hidden = {
        "script": "x=1",
        "STYLE": "p{}",
        "NoScript": "bitte JS",
        "template": "t",
        "iFrame": "f",
        "Object": "o",
        "EMBED": "e",
        "svg": "s",
        "MaTh": "m",
    }
    html = "".join(f"<{tag}>{text}</{tag}>" for tag, text in hidden.items())
    text = raw_text(f"<p><strong>Stark</strong> und <span>sichtbar</span></p>{html}<p>Ende</p>")
    assert text == "Stark und sichtbar Ende"


def test_deep_nesting_is_flattened_and_every_converter_renders_it() -> None:
    """Before, 400 nested quotes stayed 400 deep: markdownify raised RecursionError
    (a crashed poll, at every poll), and the lxml-based converters lost what follows.
    (Nesting of more tags than libxml2 reads first is cut at 256 levels: below.)"""
    from newsbote.enrich.sanitize import MAX_DEPTH
    from newsbote.render.markup import convert
    from newsbote.types import Markup

    deep = "<blockquote>" * 400 + "tief" + "</blockquote>" * 400
    cleaned = sanitize_html(f"<p>Anfang</p>{deep}<p>Ende</p>", "https://example.org/")
    depth = deepest = 0
    for match in re.finditer(r"<(/?)blockquote>", cleaned):
        depth += -1 if match.group(1) else 1
        deepest = max(deepest, depth)
    assert deepest == MAX_DEPTH
    assert "tief" in cleaned and cleaned.endswith("<p>Ende</p>")
    for markup in Markup:
        assert "Ende" in convert(cleaned, markup)
    hostile = sanitize_html("<p>Anfang</p>" + "<blockquote>" * 100_000, "https://example.org/")
    assert hostile.startswith("<p>Anfang</p>") and hostile.count("<blockquote>") <= MAX_DEPTH
    for markup in Markup:
        assert "Anfang" in convert(hostile, markup)


@pytest.mark.parametrize("base", ["HTTP://", "http://[", "javascript:alert(1)", "https://", "//x"])
def test_a_base_that_is_no_usable_url_drops_relative_links_instead_of_failing(base: str) -> None:
    """An entry's link is its content's base: ``<link>HTTP://</link>`` made nh3 raise, and
    the whole poll of that feed failed (found by the property test over whole feeds)."""
    cleaned = sanitize_html(
        '<p>Text <a href="/rel">rel</a> <a href="https://a.example/">abs</a></p>', base
    )
    assert "Text" in cleaned and 'href="https://a.example/"' in cleaned
    assert "/rel" not in cleaned


def test_control_characters_leave_title_html_and_text() -> None:
    """A JSON Feed can carry ``\\u001b`` or ``\\u0000``: no XML document, and not every
    destination, takes them (found by the property test over whole feeds)."""
    from newsbote.enrich.sanitize import sanitize_entry

    raw = Entry(
        guid="g",
        link="https://a.example/",
        title="Ti\x1b[31mtel\x00",
        content_html="<p>Te\x1b[1mxt\x07 mit\ttab</p>",
        summary_html="kurz\x0b",
        sanitized=False,
    )
    safe = sanitize_entry(raw)
    assert safe.title == "Titel"  # the escape sequence goes whole
    assert safe.content_html == "<p>Text mit\ttab</p>"
    assert safe.summary_html == "kurz"
    assert "\x1b" not in safe.plain


def test_a_control_character_written_as_a_reference_leaves_the_entry_too() -> None:
    """``&amp;#1`` in a description is the text "&#1", which the sanitizer writes out as
    U+0001; that reached the Matrix converter, whose parser refused it, and failed the
    poll (found by the property test over whole feeds)."""
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>F</title><item><guid>g</guid><title>T</title>'
        b"<description>a&amp;#1;b &amp;#27;[31mrot</description></item></channel></rss>",
        "https://example.org/f",
    )
    (entry,) = feed.entries
    assert entry.content_html == "ab rot"
