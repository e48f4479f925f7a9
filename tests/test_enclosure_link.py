"""The built-in forum templates link an entry's enclosures (a podcast's audio, a video, a file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from sqlalchemy import select

from newsbote.render import Renderer
from newsbote.store import Store
from newsbote.store.schema import board_posts
from tests.helpers import load, run_once, write_config
from tests.servers import FeedServer


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


async def test_a_podcast_episode_reaches_the_board_with_its_audio_and_no_script_url(
    feed_server: FeedServer, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    """Through a whole poll: the audio link survives parse, store and render; an enclosure
    whose URL fails the policy is left out; relative links resolve against the feed's
    Content-Location."""
    items = (
        '<item><guid isPermaLink="false">ep1</guid><title>Folge 1</title>'
        "<description>&lt;p&gt;Shownotes &lt;a href='notes.html'&gt;hier&lt;/a&gt;&lt;/p&gt;</description>"
        '<enclosure url="https://pod.example/ep1.mp3" type="audio/mpeg" length="1234"/>'
        '<enclosure url="javascript:alert(1)" type="video/mp4" length="1"/></item>'
    )
    feed_server.set(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Pod</title>{items}</channel></rss>',
        headers={"Content-Location": "https://pod.example/shows/feed.xml"},
    )
    source = {"name": "pod", "url": feed_server.url("/feed.xml"), "allow_private": True}
    path = write_config(tmp_path, sqlite_url, [{**source, "first_run": "all", "fulltext": "never"}])
    await run_once(load(path), sqlite_store)
    body = sqlite_store.call(lambda c: c.execute(select(board_posts.c.body_html)).scalar_one())
    assert '<a href="https://pod.example/ep1.mp3">Anhören (audio/mpeg)</a>' in body
    assert "javascript" not in body and "Ansehen" not in body
    assert 'href="https://pod.example/shows/notes.html"' in body
