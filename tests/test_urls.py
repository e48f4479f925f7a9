"""The URL policy on a table of hostile and fine URLs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbote.urls import MAX_LENGTH, link_url, web_url

REFUSED = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "   javascript:alert(1)",
    "\x00\x01\x1f javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav\r\nascript:alert(1)",
    " \tjavascript\t:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "FILE://localhost/etc/passwd",
    "//evil.example/x",
    "/relative/path",
    "relative",
    "?q=1",
    "#top",
    "http:evil.example",
    "http:/evil.example",
    "https://user:pass@a.example/",
    "https://user@a.example/",
    "http://a.example:99999/",
    "http://a.example:0/",
    "http://a.example:8o/",
    "http://[::1]/",
    "HTTP://[",
    "http://a]b.example/",
    "http://",
    "http:///path",
    "http://./",
    "http://a b.example/",
    "http://a<b.example/",
    "http://a.example" + "/x" * MAX_LENGTH,
    "ftp://a.example/",
    "ws://a.example/",
    "blob:https://a.example/uuid",
    "mailto:a@b.example",  # only inside body links (link_url)
    "",
    None,
    "1http://a.example/",
    "ja\u0430vascript:alert(1)",  # a Cyrillic а: not a scheme
]


@pytest.mark.parametrize("url", REFUSED)
def test_hostile_or_unusable_urls_are_refused(url: str | None) -> None:
    assert web_url(url) is None
    if url != "mailto:a@b.example":
        assert link_url(url) is None


FINE = [
    ("https://example.org/artikel/1", "https://example.org/artikel/1"),
    ("http://example.org", "http://example.org"),
    ("HTTPS://example.org/a", "https://example.org/a"),
    ("  https://example.org/a\n", "https://example.org/a"),
    ("\x00https://example.org/a\x1f", "https://example.org/a"),
    ("https://exa\tmple.org/a\nb", "https://example.org/ab"),
    ("https://example.org:8443/a?b=1&c=2#d", "https://example.org:8443/a?b=1&c=2#d"),
    ("https://example.org/#", "https://example.org/#"),
    ("https://example.org/?", "https://example.org/?"),
    ("http://a.example/x)y", "http://a.example/x%29y"),
    ("http://a.example/x(y)", "http://a.example/x%28y%29"),
    ("https://a.example/[x]", "https://a.example/%5Bx%5D"),
    ('https://a.example/"onmouseover="x', "https://a.example/%22onmouseover=%22x"),
    ("https://a.example/<script>", "https://a.example/%3Cscript%3E"),
    ("https://a.example/a b", "https://a.example/a%20b"),
    ("https://a.example/a'b", "https://a.example/a%27b"),
    ("https://a.example/a|b`c{d}^", "https://a.example/a%7Cb%60c%7Bd%7D%5E"),
    ("https://a.example/a\x7fb\x01c", "https://a.example/a%7Fb%01c"),
    ("https://a.example/ä?q=ö#ü", "https://a.example/%C3%A4?q=%C3%B6#%C3%BC"),
    ("https://Bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://a.example/100%25", "https://a.example/100%25"),
    ("https://a.example/#a#b", "https://a.example/#a%23b"),
    # browsers read a backslash as a slash in http(s): the host is the one they would open
    ("https://evil.example\\@good.example/", "https://evil.example/@good.example/"),
    ("https://a.example\\path", "https://a.example/path"),
]


@pytest.mark.parametrize(("url", "expected"), FINE)
def test_fine_urls_come_back_encoded_for_any_markup(url: str, expected: str) -> None:
    assert web_url(url) == expected
    assert link_url(url) == expected
    assert web_url(expected) == expected  # the policy's output passes it unchanged


def test_mailto_only_as_a_link_inside_the_body() -> None:
    assert link_url("mailto:redaktion@example.org") == "mailto:redaktion@example.org"
    assert link_url("MailTo:a@b.example?subject=Hallo Welt") == (
        "mailto:a@b.example?subject=Hallo%20Welt"
    )
    assert link_url('mailto:a@b.example"><script>') == "mailto:a@b.example%22%3E%3Cscript%3E"
    assert link_url("mailto:") is None
    assert web_url("mailto:a@b.example") is None


def test_length_is_capped_before_and_after_encoding() -> None:
    base = "https://a.example/"
    assert web_url(base + "x" * (MAX_LENGTH - len(base))) is not None
    assert web_url(base + "x" * (MAX_LENGTH - len(base) + 1)) is None
    assert web_url(base + "ä" * 1000) is None  # 1,018 characters, 6,018 once encoded
    assert web_url(" " * (10 * MAX_LENGTH) + base) is None  # refused before any work


def test_lone_surrogates_are_no_url() -> None:
    assert web_url("https://a.example/\ud800") is None


_URLISH = st.text(
    alphabet=st.sampled_from(list("aZ09._-~!$&*+,;=:@%/?#'()[]|\\ \tä^`{}<>\"")), max_size=30
)


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "HTTP://", "javascript://", "//"]),
    host=st.sampled_from(
        ["a.example", "A.Example", "...", "a.example:443", "a.example:0080", "x", ""]
    ),
    rest=_URLISH,
)
def test_the_quick_path_agrees_with_the_policy(scheme: str, host: str, rest: str) -> None:
    """A URL the quick match takes is exactly what the full policy makes of it."""
    from newsbote.urls import _canonical, _normalized, _web

    url = scheme + host + rest
    if _canonical(url):
        normalized = _normalized(url)
        assert normalized is not None and _web(*normalized) == url
