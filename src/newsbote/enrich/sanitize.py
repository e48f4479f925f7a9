"""HTML sanitizing with nh3 (an allow-list): what a hostile feed sends cannot run anywhere.

Every URL is made absolute against the item's base, only http(s) and mailto
links survive, scripts, styles, iframes, event handlers and forms are dropped.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

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
URL_ATTRIBUTES = {"href", "src", "cite"}
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
_SPACE = re.compile(r"\s+")
_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """A safe HTML fragment: allow-listed tags and attributes, absolute http(s) URLs."""
    if not fragment:
        return ""

    def absolute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in URL_ATTRIBUTES:
            value = value.strip()
            if base_url:
                try:
                    value = urljoin(base_url, value)
                except ValueError:
                    return None
        return value

    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=absolute,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()


def plain_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", fragment))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def first_image(fragment: str) -> str | None:
    """The first image source of a sanitized fragment, if any."""
    match = _IMG_SRC.search(fragment)
    return html.unescape(match.group(1)) if match else None
