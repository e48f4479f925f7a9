"""HTML sanitizing with nh3 (an allow-list): what a hostile feed sends cannot run anywhere.

Every URL is made absolute against the item's base, only http(s) and mailto
links survive, scripts, styles, iframes, event handlers and forms are dropped.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Literal

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
URL_SCHEMES = {"http", "https", "mailto"}
CLEAN_CONTENT_TAGS = {
    "script",
    "style",
    "iframe",
    "object",
    "embed",
    "noscript",
    "template",
    "svg",
    "math",
}

_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|pre|tr|td|th|table|figure|figcaption|hr|section|article)\b[^>]*>",
    re.I,
)
_TAG = re.compile(r"<[^>]*>")
_RELATIVE = re.compile(r"""(?:href|src|HREF|SRC)\s*=\s*["']?(?!https?:|mailto:|#|["'\s>])""")
_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)


@lru_cache(maxsize=256)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    if base_url and "://" in base_url:
        return _make_cleaner(("rewrite_with_base", base_url))
    return _make_cleaner("deny")


def _make_cleaner(
    relative: tuple[Literal["rewrite_with_base"], str] | Literal["deny"],
) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative=relative,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """A safe HTML fragment: allow-listed tags and attributes, absolute http(s) URLs.

    Relative URLs are resolved against ``base_url``; without a base they are dropped.
    """
    if not fragment:
        return ""
    return _cleaner(base_url).clean(fragment).strip()


def has_relative_urls(fragment: str) -> bool:
    """Whether a fragment has a link or image whose URL is not absolute."""
    return _RELATIVE.search(fragment) is not None


def plain_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    if "<" in fragment:
        fragment = _TAG.sub("", _BLOCK_TAG.sub(" ", fragment))
    return " ".join(html.unescape(fragment).split())


def first_image(fragment: str) -> str | None:
    """The first image source of a sanitized fragment, if any."""
    start = fragment.find("<img")
    match = _IMG_SRC.search(fragment, start) if start >= 0 else None
    return html.unescape(match.group(1)) if match else None
