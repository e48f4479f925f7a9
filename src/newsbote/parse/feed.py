"""Feed documents into :class:`ParsedFeed`.

:func:`newsbote.parse.read.read_xml` chooses the parser: fastfeedparser, completed by
an lxml pass where a pre-scan of the bytes asks for it, or feedparser for the rare
documents fastfeedparser misreads and where it fails. Both see only the UTF-8,
DOCTYPE-free bytes :func:`prepare_xml` makes, named HTML entities already characters,
so no entity is ever expanded. Entry HTML is sanitized here, before anything stores or
renders it. ``tests/test_differential.py`` holds the reading to feedparser's.
"""

from __future__ import annotations

import calendar
import html
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import fastfeedparser

from newsbote.enrich.sanitize import (
    has_relative_urls,
    is_tracking_pixel,
    raw_text,
    sanitize_entry,
)
from newsbote.errors import ParseError
from newsbote.parse.budget import Budget
from newsbote.parse.decode import MAX_INFLATE, decode_text, prepare_xml
from newsbote.parse.extra import Extra
from newsbote.parse.fields import author_name, cover, enclosures, is_excerpt, media_description
from newsbote.parse.read import read_xml, short
from newsbote.types import Entry, ParsedFeed

log = logging.getLogger("newsbote.parse")

# case spelled out, not re.I: a literal "<" lets the search skip ahead (3x faster on 64 KB)
# An attempt at each "<ttl>" scans the whitespace and digits after it (in the first 64 KB).
_TTL = re.compile(rb"<[tT][tT][lL]>\s*(\d{1,6})\s*</[tT][tT][lL]>")
_IMAGE_TYPES = ("image/",)
# A lone surrogate (from "\ud800" in JSON) cannot be encoded: no store, renderer or
# destination could take the text. One character class: a linear search.
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENTRY_TEXTS = (
    "guid",
    "link",
    "title",
    "content_html",
    "summary_html",
    "author",
    "image",
    "text",
    "base",
)


def parse_feed(
    body: bytes,
    url: str,
    content_type: str = "",
    *,
    sanitize: bool = True,
    max_bytes: int = MAX_INFLATE,
    budget: Budget | None = None,
    content_location: str | None = None,
) -> ParsedFeed:
    """Parse a fetched document; raises :class:`ParseError` naming ``url`` when unusable.

    With ``sanitize=False`` the entries keep the publisher's HTML (``Entry.sanitized``
    is False): the pipeline sanitizes only the entries that are new or changed.
    ``max_bytes`` caps what a gzip body inflates to; ``budget`` is checked between
    steps and entries. Text that no encoder takes (a lone surrogate, which only JSON
    can carry: XML's character references to one are replaced by :func:`prepare_xml`)
    becomes U+FFFD, logged once. ``content_location`` (the HTTP header) is the base of
    relative URLs instead of ``url``.
    """
    base = url
    if content_location:
        try:
            base = urljoin(url, content_location.strip())
        except ValueError:
            base = url
    feed = _parse(body, url, content_type, max_bytes, budget, base)
    if not sanitize:
        return feed
    entries: list[Entry] = []
    for entry in feed.entries:
        if budget is not None:
            budget.check(f"sanitizing entry {len(entries) + 1} of {len(feed.entries)}")
        entries.append(sanitize_entry(entry))
    return replace(feed, entries=tuple(entries))


def _without_surrogates(feed: ParsedFeed) -> tuple[ParsedFeed, int]:
    """``feed`` with each lone surrogate in its texts replaced by U+FFFD, and how many."""
    replaced = 0

    def valid(text: str) -> str:
        nonlocal replaced
        if text.isascii() or not _SURROGATE.search(text):
            return text
        text, count = _SURROGATE.subn("\ufffd", text)
        replaced += count
        return text

    def optional(text: str | None) -> str | None:
        return valid(text) if text else text

    entries: list[Entry] = []
    for entry in feed.entries:
        changes: dict[str, Any] = {
            name: fixed
            for name in _ENTRY_TEXTS
            if (value := getattr(entry, name)) and (fixed := valid(value)) is not value
        }
        categories = tuple(valid(category) for category in entry.categories)
        if categories != entry.categories:
            changes["categories"] = categories
        entries.append(replace(entry, **changes) if changes else entry)
    title, link, language = valid(feed.title), optional(feed.link), optional(feed.language)
    if replaced:
        feed = replace(feed, title=title, link=link, language=language, entries=tuple(entries))
    return feed, replaced


def _parse(
    body: bytes,
    url: str,
    content_type: str,
    max_bytes: int,
    budget: Budget | None,
    base: str,
) -> ParsedFeed:
    if not body.strip():
        raise ParseError(url, "the document is empty")
    stripped = body.lstrip()
    is_json = stripped[:1] in (b"{", b"[") or "json" in content_type.lower()
    if is_json:
        return _parse_json(body, url, content_type, max_bytes, budget, base)
    document = prepare_xml(body, url, content_type, max_bytes=max_bytes)
    read = read_xml(document, url, base, budget)
    if read.base:
        base = _absolute(read.base, base) or base  # the feed element's xml:base
    feed = _build(
        read.raw,
        url,
        _ttl(document),
        read.parser,
        iso_dates=read.parser == "fastfeedparser",
        budget=budget,
        base=base,
        extras=read.extras,
    )
    return replace(feed, language=feed.language or read.language)


def _ttl(document: bytes) -> int | None:
    """RSS ``<ttl>`` minutes, if any (in the first 64 KB)."""
    match = _TTL.search(document, 0, 65536)
    return int(match.group(1)) if match else None


def _parse_json(
    body: bytes,
    url: str,
    content_type: str,
    max_bytes: int,
    budget: Budget | None,
    base: str,
) -> ParsedFeed:
    text = decode_text(body, url, content_type, max_bytes=max_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            url, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:  # the decoder counts its depth against Python's limit
        raise ParseError(url, "the JSON document is nested too deeply") from exc
    if (
        not isinstance(data, dict)
        or "items" not in data
        or "jsonfeed" not in str(data.get("version", ""))
    ):
        raise ParseError(
            url, "JSON document is not a JSON Feed (no 'version' of jsonfeed.org or no 'items')"
        )
    del data
    if budget is not None:
        budget.check("parsing the feed")
    try:
        # surrogatepass: a surrogate the decoder let through stays an error of its own
        # text (replaced at the entries' edge), not of the whole document
        raw = fastfeedparser.parse(text.encode("utf-8", errors="surrogatepass"))
    except RecursionError as exc:
        raise ParseError(url, "the JSON document is nested too deeply") from exc
    except Exception as exc:
        raise ParseError(url, f"invalid JSON Feed: {short(exc)}") from exc
    feed, replaced = _without_surrogates(
        _build(raw, url, None, "fastfeedparser", iso_dates=True, budget=budget, base=base)
    )
    if replaced:
        log.warning(
            "parse url=%s replaced=%d lone surrogates in the feed's text became U+FFFD",
            url,
            replaced,
        )
    return feed


def _build(
    raw: Mapping[str, Any],
    url: str,
    ttl: int | None,
    parser: str,
    *,
    iso_dates: bool,
    budget: Budget | None,
    base: str,
    extras: Sequence[Extra] | None = None,
) -> ParsedFeed:
    feed = raw.get("feed", {}) or {}
    feed_link = _absolute(feed.get("link"), base)
    # relative URLs are relative to the document (RFC 3986 5.1.3), else to the site it names
    feed_base = base if base.startswith(("https://", "http://")) else feed_link or base
    raw_entries = raw.get("entries", []) or []
    built: list[Entry] = []
    for index, raw_entry in enumerate(raw_entries):
        if budget is not None:
            budget.check(f"reading entry {len(built) + 1} of {len(raw_entries)}")
        extra = extras[index] if extras else None
        built.append(_entry(raw_entry, feed_base, iso_dates, extra))
    entries = tuple(built)
    return ParsedFeed(
        url=url,
        title=_text(feed.get("title")) or url,
        link=feed_link,
        entries=entries,
        ttl_minutes=ttl,
        parser=parser,
        language=feed.get("language") or None,
    )


def _absolute(link: Any, base: str | None) -> str | None:
    if not link or not isinstance(link, str):
        return None
    text: str = link.strip()
    if text.startswith(("https://", "http://")) and "/." not in text:
        return text  # already absolute, no dot segments: what urljoin would return
    if base and "://" in base:
        try:
            return urljoin(base, text)
        except ValueError:
            return text
    return text


def _text(value: Any) -> str:
    """Plain text of a title-like value (which feeds may fill with HTML or entities)."""
    if not value:
        return ""
    text = str(value)
    if "<" in text or "&" in text:
        text = raw_text(text)  # a title's markup is read as HTML: scripts and styles are not text
    return html.unescape(text).strip()


def _date(entry: Mapping[str, Any], key: str, iso: bool) -> datetime | None:
    if iso:
        value = entry.get(key)
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        return None
    # dict.get: not feedparser's deprecated fallback from updated to published
    parsed_struct = dict.get(entry, f"{key}_parsed") if isinstance(entry, dict) else None
    if isinstance(parsed_struct, time.struct_time):
        return datetime.fromtimestamp(calendar.timegm(parsed_struct), tz=UTC)
    return None


def _content(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The fullest HTML body of an entry and its xml:base, if any."""
    contents = entry.get("content")
    best, base = "", None
    if isinstance(contents, Sequence) and not isinstance(contents, str):
        for content in contents:
            if not isinstance(content, Mapping):
                continue
            value = str(content.get("value") or "")
            if len(value) > len(best):
                best, base = value, content.get("base")
                if "html" not in str(content.get("type") or "html"):
                    best = html.escape(best).replace("\n\n", "<br><br>")
    return best, base


def _entry(
    entry: Mapping[str, Any], feed_base: str, iso: bool, extra: Extra | None = None
) -> Entry:
    """The entry as the publisher wrote it; :func:`sanitize_entry` makes it safe."""
    extra = extra or _NO_EXTRA
    link_base = _web_base(extra.base) or feed_base
    link = _absolute(entry.get("link"), link_base)
    content_html, content_base = _content(entry)
    if not content_html and extra.content:
        content_html = extra.content  # RSS 1.0 content:encoded
    summary = str(
        extra.summary
        or entry.get("summary")
        or entry.get("description")
        or media_description(entry)
        or ""
    )
    detail = entry.get("summary_detail")
    plain = isinstance(detail, Mapping) and "html" not in str(detail.get("type") or "html")
    if plain and ("<" in summary or "&" in summary):
        summary = f"<p>{html.escape(summary)}</p>"  # a text summary: its "<" is a character
    content_base = _web_base(extra.content_base) or content_base
    base = _absolute(content_base, link_base) if content_base else link_base
    if link and not content_base and has_relative_urls(content_html or summary):
        base = link  # relative URLs in an item are relative to the article, not the feed
    text = raw_text(content_html or summary)
    if iso and content_html and summary and is_excerpt(summary, text):
        summary = ""  # fastfeedparser's excerpt of the content, not the publisher's summary
    if "&" in summary and "<" not in summary:
        summary = f"<p>{summary}</p>"  # HTML with character references, not plain text
    content = content_html or summary
    distinct = summary and content_html and summary.strip() != content_html.strip()
    guid = entry.get("id") or entry.get("guid")
    terms = [
        t.get("term") or t.get("label") for t in entry.get("tags") or [] if isinstance(t, Mapping)
    ]
    categories = tuple(dict.fromkeys(_text(t) for t in [*terms, *extra.keywords] if t))
    image = _absolute(extra.thumbnail, link or link_base) if extra.thumbnail else None
    files = enclosures(entry, extra.enclosures, lambda url: _absolute(url, link_base))
    return Entry(
        guid=str(guid).strip() if guid else None,
        link=link,
        title=_text(extra.title or entry.get("title")),
        content_html=content,
        summary_html=summary if distinct else content,
        author=author_name(_text(entry.get("author"))),
        published=_date(entry, "published", iso) or _date(entry, "updated", iso),
        updated=_date(entry, "updated", iso),
        categories=categories,
        image=image
        or _image(entry, link or link_base)
        or cover(files, _absolute(extra.image, link_base) if extra.image else None),
        text=text,
        base=base,
        enclosures=files,
        sanitized=False,
    )


_NO_EXTRA = Extra()


def _web_base(base: str | None) -> str | None:
    """An xml:base lxml resolved, if it is a web URL (not one made of a local file's path)."""
    return base if base and base.startswith(("https://", "http://")) else None


def _image(entry: Mapping[str, Any], base: str) -> str | None:
    """The entry's own lead image (media thumbnail/content, image enclosure), never a pixel."""
    for key in ("media_thumbnail", "media_content", "enclosures"):
        for media in entry.get(key) or []:
            if not isinstance(media, Mapping):
                continue
            kind = str(media.get("type") or media.get("medium") or "")
            target = media.get("url") or media.get("href")
            if target and (
                kind.startswith(_IMAGE_TYPES) or kind == "image" or key == "media_thumbnail"
            ):
                url = _absolute(str(target), base)
                size = (str(media.get("width") or ""), str(media.get("height") or ""))
                if url and not is_tracking_pixel(url, *size):
                    return url
    image = entry.get("image")
    if isinstance(image, str) and image and not is_tracking_pixel(image):
        return _absolute(image, base)
    return None
