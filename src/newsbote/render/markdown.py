"""Markdown and Discord Markdown, by markdownify (imported only when a destination needs it)."""

from __future__ import annotations

import re
from typing import Any

from markdownify import MarkdownConverter


class _Markdown(MarkdownConverter):
    def __init__(self, **options: Any) -> None:
        super().__init__(
            heading_style="ATX",
            bullets="-",
            escape_asterisks=True,
            escape_underscores=True,
            escape_misc=True,
            strong_em_symbol="*",
            # images stay images everywhere (markdownify's default turns some into alt text)
            keep_inline_images_in=[
                "td",
                "th",
                "a",
                "li",
                "p",
                "span",
                "strong",
                "b",
                "em",
                "i",
                "h1",
                "h2",
                "h3",
                "h4",
                "h5",
                "h6",
                "blockquote",
                "figure",
            ],
            **options,
        )

    def convert_figure(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return f"\n\n{text.strip()}\n\n"

    def convert_figcaption(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return f"\n\n{text.strip()}\n\n"

    def convert_dt(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return f"\n\n**{text.strip()}**\n\n"

    def convert_dd(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return f"\n\n{text.strip()}\n\n"

    def convert_a(self, el: Any, text: str, parent_tags: set[str]) -> str:
        base: Any = super()  # convert_a is not in markdownify's stubs
        converted = str(base.convert_a(el, text, parent_tags))
        href = el.get("href") or ""
        if ("(" in href or ")" in href) and f"]({href}" in converted:
            # an unbalanced parenthesis would end the destination early: <…> keeps it whole
            converted = converted.replace(f"]({href}", f"](<{href}>", 1)
        return converted


class _DiscordMarkdown(_Markdown):
    """Discord renders no inline images and no headings below ###."""

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        src = el.attrs.get("src") or ""
        alt = el.attrs.get("alt") or src
        me: Any = self  # escape is not in markdownify's stubs
        return f"[{me.escape(alt, parent_tags)}]({src})" if src else ""

    def convert_hN(self, n: int, el: Any, text: str, parent_tags: set[str]) -> str:
        if n > 3:
            return f"\n\n**{text.strip()}**\n\n"
        base: Any = super()  # convert_hN is not in markdownify's stubs
        return str(base.convert_hN(n, el, text, parent_tags))


def _tidy_markdown(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def to_markdown(fragment: str) -> str:
    """CommonMark/GFM for Discourse, Flarum, NodeBB, Lemmy, Misago and Mattermost."""
    return _tidy_markdown(_Markdown().convert(fragment))


def to_discord(fragment: str) -> str:
    """Discord's Markdown (images already moved out of links by the caller)."""
    return _tidy_markdown(_DiscordMarkdown().convert(fragment))
