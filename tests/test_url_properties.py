"""For any link, image and body URL text, every URL in every markup's output passes the policy."""

from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsbote.render.markup import convert
from newsbote.types import Markup
from tests.test_markup import BREAKOUT, HOSTILE_URLS, _message, assert_urls_pass

FRAGMENTS = [
    "javascript:", "JaVaScRiPt:", "vbscript:", "data:text/html,", "file:///", "//", "http://",
    "https://", "mailto:", "user:pw@", "a.example", "[::1]", ":8080", "\t", "\n", "\x00", " ",
    "\\", "(", ")", "[", "]", "<", ">", '"', "'", "`", "|", "&", "&amp;", "&#x09;", "%", "%0a",
    "#", "?", "@room", "<script>", "![x](", "[url=", "[/url]", "<!channel>", "ä", "\u202e",
]  # fmt: skip
URL_TEXT = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(FRAGMENTS + HOSTILE_URLS + [BREAKOUT]), max_size=6).map("".join),
    st.tuples(st.sampled_from(["http://", "https://", " javascript:", "mailto:"]), st.text(max_size=30))
    .map("".join),
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(link=URL_TEXT, image=URL_TEXT, href=URL_TEXT, src=URL_TEXT)
@pytest.mark.parametrize("markup", list(Markup))
def test_every_url_in_every_markup_passes_the_policy(
    markup: Markup, link: str, image: str, href: str, src: str
) -> None:
    body = (
        f'<p>Text <a href="{html.escape(href)}">Klick</a> '
        f'<img src="{html.escape(src)}" alt="Bild"></p>'
    )
    # the converter alone, on HTML that was not sanitized first
    assert_urls_pass(convert(body, markup), markup)
    # the whole render: the entry's link and image, the body sanitized and converted
    message = _message(link, image, markup, body)
    assert_urls_pass(message.body, markup)
    for url in (message.link, message.image):
        assert url is None or url.startswith(("http://", "https://"))
