"""HTML sanitizing with nh3 (an allow-list): what a hostile feed sends cannot run anywhere.

Every URL is made absolute against the item's base, only http(s) and mailto
links survive, scripts, styles, iframes, event handlers and forms are dropped.

Every pass here runs in time linear in the fragment's length, whatever a feed
sends (a comment at each pattern says why): a pattern that fails where a later
attempt would scan the same text again is only run where it cannot fail that
way, and the rest are single-pass scanners over ``str.find``.
"""

from __future__ import annotations

import html
import re
from contextlib import suppress
from dataclasses import replace
from functools import lru_cache
from typing import Literal
from urllib.parse import quote

import nh3
from lxml import etree
from lxml import html as lxml_html

from newsbote.controls import without_controls
from newsbote.types import Entry
from newsbote.urls import web_url

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
# Tag patterns (``<…[^>]*>``) run only up to the text's last ">" (see plain_text): there
# every attempt that reaches ``[^>]*`` ends at the next ">", in a match that the search
# then skips, so no character is scanned twice; past the last ">" nothing can match.
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCKS})\b[^>]*>")
_BLOCK_TAG_ANY_CASE = re.compile(rf"</?(?:{_BLOCKS})\b[^>]*>", re.I)
_UPPER_TAG = re.compile(r"</?[A-Z]")  # bounded: three characters an attempt
_TAG = re.compile(r"<[^>]*>")
_INVISIBLE_NAMES = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
)
# An opening tag whose content is not visible: bounded (the longest name), so linear.
_INVISIBLE_START = re.compile(rf"<({'|'.join(_INVISIBLE_NAMES)})\b", re.I)
# Its end: an attempt at each "</name" scans the whitespace after it, once.
_INVISIBLE_END = {name: re.compile(rf"</{name}\s*>", re.I) for name in _INVISIBLE_NAMES}
# A quick test for where _INVISIBLE_START may match. Three letters of each name (four for
# math), so that <strong>, in most articles, does not send it looking (about 5 µs each).
_MAYBE_INVISIBLE = re.compile(
    r"<(?:[sS](?:[cC][rR]|[tT][yY]|[vV][gG])|[nN][oO][sS]|[tT][eE][mM]|[iI][fF][rR]"
    r"|[oO][bB][jJ]|[eE][mM][bB]|[mM][aA][tT][hH])"
)
# The next five run on nh3's output only, where every "<" opens a tag that ends with ">",
# every attribute value is quoted with '"' and holds no '"' (it is escaped): an attempt
# scans one tag, one attribute value or the whitespace after one tag, never further.
# A URL attribute that needs percent-encoding: non-ASCII, whitespace, <, > or a bare &
# (it starts at the literal '="' so that the search can skip ahead). ``[^"]*?`` stops at
# the value's closing quote.
_UNSAFE_URL = re.compile(r'="(?:(?<=href=")|(?<=src="))[^"]*?(?:[^\x21-\x7e]|[<>]|&(?!amp;))')
# fullmatch of one value; "&amp;" is the only way into the group: no backtracking
_SAFE_URL = re.compile(r"[^\s\"<>&]*(?:&amp;[^\s\"<>&]*)*")
_URL_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')
# The src of an iframe's opening tag: matched within that one tag (see _embed_iframes).
_IFRAME_START = re.compile(r"<iframe\b", re.I)
_IFRAME_END = re.compile(r"</iframe>", re.I)
_IFRAME_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"'>]+)["']""", re.I)
_YOUTUBE_EMBED = re.compile(
    r"(?:https?:)?//(?:www\.)?youtube(?:-nocookie)?\.com/embed/([A-Za-z0-9_-]{6,})"
)
_IMG_TAG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')  # within one tag of nh3's, names allow-listed
# an opening tag, then the whitespace (and <br>, &nbsp;) after it: each run follows one tag
_EMPTY = re.compile(
    r"<(p|li|strong|b|em|i|u|s|span|blockquote|h[1-6]|ul|ol|figure|a)\b[^>]*>(?:\s|&nbsp;|<br>)*</\1>"
)
# Fragments with this many "<" and "&" go through libxml2's HTML parser before nh3:
# html5ever (nh3's parser) takes time quadratic in the nesting depth (elements 100,000
# deep take minutes) and in runs of "&"; libxml2 stops at 256 levels and writes
# entities out, so that what nh3 then reads is shallow. Below it, the quadratic part
# stays within 3 ms a fragment (0.2 ms per KB of such fragments); a long article above it
# is parsed twice, at about the cost of nh3's own parse.
_RESHAPE_AT = 1000
MAX_DEPTH = 100
"""How deep sanitized elements nest: deeper tags are dropped, their text kept. The markup
converters walk trees recursively (markdownify fails past some 300 levels) and lxml
stops reading at 256; articles stay within 20 or so."""
_VOID = frozenset({"br", "hr", "img"})
# one tag of nh3's output (see above): an attempt scans that tag
_ANY_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
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
# An attempt at each "=" scans the whitespace after it (a run that follows one "="), then
# a bounded look-ahead: linear.
_NOT_ABSOLUTE = re.compile(r"""=\s*["']?(?!https?:|mailto:|#|["'\s>])""", re.I)
# matched within one tag (up to its ">"): see first_image
_IMG_SRC = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)


@lru_cache(maxsize=256)
def _cleaner(base_url: str | None) -> nh3.Cleaner:
    """The cleaner for fragments under ``base_url``: a base that is no usable http(s) URL
    (``HTTP://`` with no host, a ``javascript:`` link) resolves nothing, so relative URLs
    are dropped instead of the whole entry failing."""
    base = web_url(base_url)
    if base is not None:
        with suppress(ValueError):  # a URL the policy takes but nh3's parser does not
            return _make_cleaner(("rewrite_with_base", base))
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
        fragment = _embed_iframes(fragment)
    if len(fragment) > _RESHAPE_AT and fragment.count("<") + fragment.count("&") > _RESHAPE_AT:
        fragment = _reshaped(fragment)
    cleaned = _cleaner(base_url).clean(fragment)
    if len(cleaned) > 7 * MAX_DEPTH and cleaned.count("<") > 2 * MAX_DEPTH:
        cleaned = _shallow(cleaned)  # (7: "<b></b>", the shortest element)
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


def _embed_iframes(fragment: str) -> str:
    """``fragment`` with each iframe that has a src (and its content, up to ``</iframe>``)
    replaced by a link to what it shows (a video's page for YouTube players).

    One pass: each opening tag is read up to its ">", and the search for a closing tag
    that finds none is not repeated for the iframes after it.
    """
    parts: list[str] = []
    position = 0
    read = 0  # the end of the last tag read: an opening before it is inside that tag
    closing = True  # whether a "</iframe>" may still follow
    for start in _IFRAME_START.finditer(fragment):
        begin = start.start()
        if begin < read:
            continue
        tag_end = fragment.find(">", begin)
        if tag_end < 0:
            break  # an unclosed tag: nothing after it is an iframe either
        read = tag_end
        src = _IFRAME_SRC.search(fragment, start.end(), tag_end)
        if src is None:
            continue
        end = tag_end + 1
        if closing:
            close = _IFRAME_END.search(fragment, end)
            if close is None:
                closing = False
            else:
                end = close.end()
        parts += (fragment[position:begin], _embed_link(src.group(1)))
        position = read = end
    if not parts:
        return fragment
    parts.append(fragment[position:])
    return "".join(parts)


def _embed_link(raw_src: str) -> str:
    src = html.unescape(raw_src)
    youtube = _YOUTUBE_EMBED.match(src)
    if youtube:
        src = f"https://www.youtube.com/watch?v={youtube.group(1)}"
    elif src.startswith("//"):
        src = "https:" + src
    return f'<p><a href="{html.escape(src)}">▶ {html.escape(src)}</a></p>'


def _shallow(cleaned: str) -> str:
    """nh3's output without the tags nested deeper than :data:`MAX_DEPTH` (their text
    stays). One pass: nh3 writes every element it keeps out whole, closed in order."""
    depth = 0
    dropped: list[tuple[int, int]] = []
    for tag in _ANY_TAG.finditer(cleaned):
        if tag.group(2).lower() in _VOID:
            if depth >= MAX_DEPTH:
                dropped.append(tag.span())
            continue
        if tag.group(1):
            depth -= 1
        if depth >= MAX_DEPTH:
            dropped.append(tag.span())
        if not tag.group(1):
            depth += 1
    if not dropped:
        return cleaned
    parts, position = [], 0
    for start, end in dropped:
        parts.append(cleaned[position:start])
        position = end
    parts.append(cleaned[position:])
    return "".join(parts)


def _reshaped(fragment: str) -> str:
    """``fragment`` parsed and written out again by libxml2: at most 256 levels deep
    (what is deeper is dropped), its entities written out; nh3 sanitizes the result."""
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.escape(plain_text(fragment))
    written: str = etree.tostring(root, encoding="unicode", method="html")
    return written.removeprefix("<div>").removesuffix("</div>")


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
    """``entry`` with safe HTML, its visible text and its lead image (a no-op when done).

    Control characters (which no XML document, and few destinations, take: JSON Feeds can
    carry them) leave the title, the HTML and the text here, where every entry that goes
    on passes.
    """
    if entry.sanitized:
        return entry
    # after sanitizing too: the sanitizer writes out what "&#1;" stands for
    content = without_controls(sanitize_html(entry.content_html, entry.base))
    if entry.summary_html == entry.content_html:
        summary = content
    elif "<" in entry.summary_html:
        summary = without_controls(sanitize_html(entry.summary_html, entry.base))
    else:  # plain text (often a parser-made excerpt)
        summary = html.escape(without_controls(entry.summary_html))
    safe = entry.with_safe_html(
        content,
        summary,
        # the publisher's visible text, read at parse time, is the sanitized text too
        # (what sanitizing drops, scripts, styles, embeds, raw_text skips as well)
        without_controls(entry.text) or plain_text(content),
        entry.image or first_image(content),
    )
    title = without_controls(entry.title)
    return safe if title is entry.title else replace(safe, title=title)


def raw_text(fragment: str) -> str:
    """The visible text of unsanitized HTML, for change detection (scripts and styles skipped)."""
    if "<" not in fragment:
        return " ".join(html.unescape(fragment).split())
    if _MAYBE_INVISIBLE.search(fragment):
        fragment = _without_invisible(fragment)
    return plain_text(fragment)


def _without_invisible(fragment: str) -> str:
    """``fragment`` with each script, style, embed and the like replaced by a space, from
    its opening tag to its closing one (of any case). One pass: an element whose end is
    missing stays, and the search for that end is not repeated for the next ones."""
    parts: list[str] = []
    position = 0
    unclosed: set[str] = set()  # names whose closing tag does not follow any more
    for start in _INVISIBLE_START.finditer(fragment):
        if start.start() < position:
            continue  # inside the element just removed
        name = start.group(1).lower()
        if name in unclosed:
            continue
        end = _INVISIBLE_END[name].search(fragment, start.end())
        if end is None:
            unclosed.add(name)
            continue
        parts += (fragment[position : start.start()], " ")
        position = end.end()
    if not parts:
        return fragment
    parts.append(fragment[position:])
    return "".join(parts)


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
        # Each tag pattern runs up to the last ">" of its input only (the block tags it
        # removes may hold the last one)
        end = fragment.rfind(">") + 1
        if end == len(fragment):
            fragment = blocks.sub(" ", fragment)
        else:
            fragment = blocks.sub(" ", fragment[:end]) + fragment[end:]
        end = fragment.rfind(">") + 1
        if end == len(fragment):
            fragment = _TAG.sub("", fragment)
        else:
            fragment = _TAG.sub("", fragment[:end]) + fragment[end:]
    if "&" in fragment:
        fragment = html.unescape(fragment)
    return " ".join(fragment.split())


def first_image(fragment: str) -> str | None:
    """The first image source of a sanitized fragment, if any (tracking pixels are gone)."""
    start = fragment.find("<img")
    while start >= 0:
        end = fragment.find(">", start)
        if end < 0:
            return None
        match = _IMG_SRC.match(fragment, start, end)
        if match:
            return html.unescape(match.group(1))
        start = fragment.find("<img", end)
    return None
