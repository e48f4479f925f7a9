"""HTML sanitizing with nh3 (an allow-list): what a hostile feed sends cannot run anywhere.

Every URL is made absolute against the item's base, only http(s) and mailto
links survive, scripts, styles, iframes, event handlers and forms are dropped.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

import nh3

from newsbote.types import Entry

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

_BLOCKS = "p|div|br|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|pre|tr|td|th|table|figure|figcaption|hr|section|article"
# Case-insensitive patterns cannot skip ahead to a literal "<"; the lower-case ones run
# first and the others only where an upper-case tag is present (about 5x faster).
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCKS})\b[^>]*>")
_BLOCK_TAG_ANY_CASE = re.compile(rf"</?(?:{_BLOCKS})\b[^>]*>", re.I)
_UPPER_TAG = re.compile(r"</?[A-Z]")
_TAG = re.compile(r"<[^>]*>")
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template|iframe|object|embed|svg|math)\b.*?</\1\s*>", re.I | re.S
)
# A quick test for where _INVISIBLE may match. Three letters of each name (four for
# math), so that <strong>, in most articles, does not send it looking (about 5 µs each).
_MAYBE_INVISIBLE = re.compile(
    r"<(?:[sS](?:[cC][rR]|[tT][yY]|[vV][gG])|[nN][oO][sS]|[tT][eE][mM]|[iI][fF][rR]"
    r"|[oO][bB][jJ]|[eE][mM][bB]|[mM][aA][tT][hH])"
)
# A URL attribute that needs percent-encoding: non-ASCII, whitespace, <, > or a bare &
# (it starts at the literal '="' so that the search can skip ahead).
_UNSAFE_URL = re.compile(r'="(?:(?<=href=")|(?<=src="))[^"]*?(?:[^\x21-\x7e]|[<>]|&(?!amp;))')
_SAFE_URL = re.compile(r"[^\s\"<>&]*(?:&amp;[^\s\"<>&]*)*")
_URL_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')
_IFRAME = re.compile(
    r"""<iframe\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>(?:.*?</iframe>)?""", re.I | re.S
)
_YOUTUBE_EMBED = re.compile(
    r"(?:https?:)?//(?:www\.)?youtube(?:-nocookie)?\.com/embed/([A-Za-z0-9_-]{6,})"
)
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_EMPTY = re.compile(
    r"<(p|li|strong|b|em|i|u|s|span|blockquote|h[1-6]|ul|ol|figure|a)\b[^>]*>(?:\s|&nbsp;|<br>)*</\1>"
)
TRACKER_HOSTS = frozenset({
    "feeds.feedburner.com", "feedproxy.google.com", "pixel.wp.com", "stats.wordpress.com",
    "www.google-analytics.com", "google-analytics.com", "pixel.quantserve.com",
    "b.scorecardresearch.com", "sb.scorecardresearch.com", "ad.doubleclick.net",
    "feeds.feedblitz.com", "assets.feedblitz.com", "www.facebook.com", "pixel.facebook.com",
    "analytics.twitter.com", "t.co", "mf.feeds.reuters.com", "rss.buysellads.com",
    "pi.feedsportal.com", "da.feedsportal.com", "counter.theconversation.com", "vg01.met.vgwort.de",
    "ssl-vg03.met.vgwort.de",
})  # fmt: skip
_TRACKER_SUFFIXES = tuple("." + host for host in TRACKER_HOSTS)
_NOT_ABSOLUTE = re.compile(r"""=\s*["']?(?!https?:|mailto:|#|["'\s>])""", re.I)
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
    Embedded players (iframes) become links to the video; tracking pixels and
    elements left empty are removed.
    """
    if not fragment:
        return ""
    if "<iframe" in fragment or "<IFRAME" in fragment:
        fragment = _IFRAME.sub(_embed_link, fragment)
    cleaned = _cleaner(base_url).clean(fragment)
    if _UNSAFE_URL.search(cleaned):
        cleaned = _URL_ATTRIBUTE.sub(_encode_url_attribute, cleaned)
    if "<img" in cleaned:
        cleaned = _IMG_TAG.sub(_drop_tracking_pixel, cleaned)
    for _ in range(3):  # nested empties: <p><strong></strong></p>
        cleaned, count = _EMPTY.subn("", cleaned)
        if not count:
            break
    return cleaned.strip()


def encode_url(url: str) -> str:
    """A URL as browsers send it: whitespace dropped, spaces and non-ASCII percent-encoded."""
    url = "".join(url.split("\n")).replace("\r", "").replace("\t", "").strip()
    return quote(url, safe=":/?#[]@!$&'()*+,;=%~")


def _encode_url_attribute(match: re.Match[str]) -> str:
    raw = match.group(2)
    if raw.isascii() and _SAFE_URL.fullmatch(raw):
        return match.group(0)
    value = html.unescape(raw)
    return f'{match.group(1)}="{html.escape(encode_url(value))}"'


def _embed_link(match: re.Match[str]) -> str:
    src = html.unescape(match.group(1))
    youtube = _YOUTUBE_EMBED.match(src)
    if youtube:
        src = f"https://www.youtube.com/watch?v={youtube.group(1)}"
    elif src.startswith("//"):
        src = "https:" + src
    return f'<p><a href="{html.escape(src)}">▶ {html.escape(src)}</a></p>'


def is_tracking_pixel(src: str, width: str | None = None, height: str | None = None) -> bool:
    """1x1 images and images from known tracking hosts."""
    if width in ("0", "1") or height in ("0", "1"):
        return True
    if "/~r/" in src:
        return True
    host = src.split("/", 3)[2].split(":", 1)[0].lower() if "://" in src[:10] else ""
    return host in TRACKER_HOSTS or host.endswith(_TRACKER_SUFFIXES)


def _drop_tracking_pixel(match: re.Match[str]) -> str:
    tag = match.group(0)
    attributes = dict(_ATTRIBUTE.findall(tag))
    src = html.unescape(attributes.get("src", ""))
    return "" if is_tracking_pixel(src, attributes.get("width"), attributes.get("height")) else tag


def sanitize_entry(entry: Entry) -> Entry:
    """``entry`` with safe HTML, its visible text and its lead image (a no-op when done)."""
    if entry.sanitized:
        return entry
    content = sanitize_html(entry.content_html, entry.base)
    if entry.summary_html == entry.content_html:
        summary = content
    elif "<" in entry.summary_html:
        summary = sanitize_html(entry.summary_html, entry.base)
    else:
        summary = html.escape(entry.summary_html)  # plain text (often a parser-made excerpt)
    return entry.with_safe_html(
        content,
        summary,
        # the publisher's visible text, read at parse time, is the sanitized text too
        # (what sanitizing drops, scripts, styles, embeds, raw_text skips as well)
        entry.text or plain_text(content),
        entry.image or first_image(content),
    )


def raw_text(fragment: str) -> str:
    """The visible text of unsanitized HTML, for change detection (scripts and styles skipped)."""
    if "<" not in fragment:
        return " ".join(html.unescape(fragment).split())
    if _MAYBE_INVISIBLE.search(fragment):
        fragment = _INVISIBLE.sub(" ", fragment)
    return plain_text(fragment)


def has_relative_urls(fragment: str) -> bool:
    """Whether a fragment has a link or image whose URL is not absolute."""
    # The search skips ahead to each "=" starting a value that is not absolute (few, as
    # absolute links are passed over); only those are checked for an href or src name.
    for match in _NOT_ABSOLUTE.finditer(fragment):
        start = match.start()
        if fragment[max(0, start - 8) : start].rstrip().lower().endswith(("href", "src")):
            return True
    return False


def plain_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    if "<" in fragment:
        blocks = _BLOCK_TAG_ANY_CASE if _UPPER_TAG.search(fragment) else _BLOCK_TAG
        fragment = _TAG.sub("", blocks.sub(" ", fragment))
    if "&" in fragment:
        fragment = html.unescape(fragment)
    return " ".join(fragment.split())


def first_image(fragment: str) -> str | None:
    """The first image source of a sanitized fragment, if any (tracking pixels are gone)."""
    start = fragment.find("<img")
    match = _IMG_SRC.search(fragment, start) if start >= 0 else None
    return html.unescape(match.group(1)) if match else None
