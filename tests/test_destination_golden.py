"""One German article (heading, list, quote, two links, an image) as each destination
gets it: its markup, its limit, its headline. Reviewed by eye; every docs page under
``docs/destinations/`` shows its file. ``NEWSBOTE_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsbote.config.schema import BotConfig
from newsbote.deliver import destination_kinds
from newsbote.render import RenderContext, Renderer
from newsbote.types import Entry, Item, KeyKind

GOLDEN = Path(__file__).parent / "golden"
# the article as its feed carries it: the markup golden without the post's closing link
ARTICLE = (
    (GOLDEN / "article.html").read_text(encoding="utf-8").split('<p class="newsbote-more">')[0]
)
LONG = ARTICLE + "".join(
    f"<p>Absatz {n}: Die Netzbetreiber melden neue Zahlen, die Kommunen neue Anträge. "
    "Viele Haushalte warten noch, z. B. in ländlichen Regionen mit Nr. 1.000 auf der Liste.</p>"
    for n in range(1, 60)
)


def item(content: str) -> Item:
    entry = Entry(
        guid="glasfaser-2026",
        link="https://www.example.org/artikel/glasfaser-ausbau",
        title="Glasfaser: Ausbau kommt voran",
        content_html=content,
        summary_html="",
        published=datetime(2026, 11, 29, 9, tzinfo=UTC),
        image="https://www.example.org/bilder/glasfaser.jpg",
    )
    return Item("blog", "glasfaser-2026", KeyKind.GUID, entry.link, entry, "f")


def rendered(kind: str, content: str) -> str:
    cls = destination_kinds()[kind]
    message = Renderer().render(
        item(content),
        destination=kind,
        markup=cls.markup,
        context=RenderContext(bot=BotConfig(), language="de", source_title="Blog"),
        limit=cls.max_length,
        measure=cls.measure,
        headline=cls.title_in_body,
    )
    if cls.max_length is not None:
        assert cls.measure(message.body) <= cls.max_length
    return f"title: {message.title}\n\n{message.body}\n"


KINDS = sorted(k for k in destination_kinds() if k != "board")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", ["article", "long"])
def test_each_destination_gets_the_article_in_its_own_form(kind: str, length: str) -> None:
    text = rendered(kind, ARTICLE if length == "article" else LONG)
    path = GOLDEN / "destinations" / f"{kind}.{length}.txt"
    if os.environ.get("NEWSBOTE_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert "https://www.example.org/artikel/glasfaser-ausbau" in text  # the link always survives
