"""The built-in forum templates link an entry's enclosures (a podcast's audio, a video, a file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from markupsafe import Markup

from newsbote.render import Renderer


@dataclass(frozen=True)
class _Enclosure:
    url: str
    type: str = ""
    length: int | None = None


def _body(language: str, **variables: Any) -> str:
    template = Renderer()._builtin.get_template(f"forum.{language}.j2")
    base = {
        "title": "T",
        "content": Markup("<p>text</p>"),
        "link": "https://e.example/a",
        "image": None,
        "content_has_image": False,
    }
    context = template.new_context({**base, **variables})
    return "".join(template.blocks["body"](context))


@pytest.mark.parametrize(("language", "listen"), [("en", "Listen"), ("de", "Anhören")])
def test_an_audio_enclosure_is_a_link_in_the_post(language: str, listen: str) -> None:
    body = _body(
        language, enclosures=[_Enclosure("https://e.example/ep.mp3?a=1&b=2", "audio/mpeg")]
    )
    assert f'<a href="https://e.example/ep.mp3?a=1&amp;b=2">{listen} (audio/mpeg)</a>' in body


def test_an_image_enclosure_is_no_extra_link() -> None:
    body = _body("en", enclosures=[_Enclosure("https://e.example/cover.jpg", "image/jpeg")])
    assert "cover.jpg" not in body


def test_without_enclosures_the_post_is_as_before() -> None:
    expected = '<p>text</p>\n<p class="newsbote-more"><a href="https://e.example/a">Read the article…</a></p>'
    assert _body("en") == expected
    assert _body("en", enclosures=[]) == expected
