"""Markdown and Discord Markdown, by markdownify (imported only when a destination needs it)."""

from __future__ import annotations

import re
from typing import Any

from markdownify import MarkdownConverter

from newsbote.urls import link_url, web_url


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
        # the URL policy percent-encodes ( ) < > spaces and \: the destination cannot end early
        href = link_url(el.get("href"))
        if href is None:
            return text  # a link that fails the policy stays as its text
        el["href"] = href
        if el.get("title"):
            el["title"] = _title(el["title"])
        base: Any = super()  # convert_a is not in markdownify's stubs
        return str(base.convert_a(el, text, parent_tags))

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        src = web_url(el.attrs.get("src"))
        if src is None:
            return ""
        el["src"] = src
        el["alt"] = _alt(self, el.attrs.get("alt") or "", parent_tags)
        if el.get("title"):
            el["title"] = _title(el["title"])
        base: Any = super()  # convert_img is not in markdownify's stubs
        return str(base.convert_img(el, text, parent_tags))

    def convert_video(self, el: Any, text: str, parent_tags: set[str]) -> str:
        return text  # sanitized HTML has no video; a template's would bring unchecked URLs


def _alt(converter: Any, alt: str, parent_tags: set[str]) -> str:
    """Image text that cannot close the ``![…]`` early: one line, brackets escaped."""
    return str(converter.escape(" ".join(alt.split()), parent_tags))


def _title(title: str) -> str:
    """A link title on one line whose backslashes cannot escape markdownify's closing quote
    (markdownify escapes the quotes themselves)."""
    return " ".join(title.split()).replace("\\", "\\\\")


class _DiscordMarkdown(_Markdown):
    """Discord renders no inline images and no headings below ###."""

    def convert_img(self, el: Any, text: str, parent_tags: set[str]) -> str:
        src = web_url(el.attrs.get("src"))
        if src is None:
            return ""
        alt = _alt(self, el.attrs.get("alt") or "", parent_tags) or src
        return f"[{alt}]({src})"

    def convert_hN(self, n: int, el: Any, text: str, parent_tags: set[str]) -> str:
        if n > 3:
            return f"\n\n**{text.strip()}**\n\n"
        base: Any = super()  # convert_hN is not in markdownify's stubs
        return str(base.convert_hN(n, el, text, parent_tags))


def _tidy_markdown(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _as_markup(fragment: str) -> str:
    """``fragment`` as Beautiful Soup takes it without a word: a fragment of bare text that
    looks like a URL or a file name (a feed's whole summary can be one) makes it warn, so
    such text goes in a ``<div>``, which converts to nothing of its own."""
    return fragment if fragment.lstrip().startswith("<") else f"<div>{fragment}</div>"


def to_markdown(fragment: str) -> str:
    """CommonMark/GFM for Discourse, Flarum, NodeBB, Lemmy, Misago and Mattermost."""
    return _tidy_markdown(_Markdown().convert(_as_markup(fragment)))


def to_discord(fragment: str) -> str:
    """Discord's Markdown (images already moved out of links by the caller)."""
    return _tidy_markdown(_DiscordMarkdown().convert(_as_markup(fragment)))
