"""newsbote's reading of a feed document against feedparser's, field by field.

Both readings become the same comparable :class:`Reading`: per feed its title, link and
language; per entry its id, resolved link, plain-text title, the VISIBLE TEXT and the SET
OF LINK AND IMAGE URLS of its summary and content, its dates in UTC, author, categories,
enclosures and lead image. Formatting and the two sanitizers' allow-lists do not count:
text is compared without whitespace, and only absolute http(s) links and images that are
not tracking pixels are compared (newsbote drops the others by policy).

:func:`compare` returns the named :class:`Difference` es; ``tests/test_differential.py``
checks them against ``tests/intended_differences.toml``.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import gzip
import json
import re
import time
import tomllib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import fastfeedparser
import feedparser

from newsbote.enrich.sanitize import is_tracking_pixel
from newsbote.errors import ParseError
from newsbote.parse import parse_feed
from newsbote.types import Entry

EDGE_FEEDS = Path(__file__).resolve().parent / "edge_feeds"
INTENDED = Path(__file__).resolve().parent / "intended_differences.toml"


@dataclass(frozen=True)
class Document:
    """A feed document as fetched: its bytes, URL, and the HTTP headers that matter."""

    name: str
    body: bytes
    url: str
    content_type: str = ""
    content_location: str | None = None


@dataclass(frozen=True)
class Rich:
    """An HTML field as the reader sees it: its visible text and where it leads."""

    text: str
    urls: frozenset[str]
    first_image: str | None = None
    alt_urls: frozenset[str] | None = None
    """feedparser's reading only: its relative URLs resolved against the entry's link
    (newsbote's rule where the document sets no xml:base), for the class ``item-link-base``."""

    def __str__(self) -> str:
        return f"{self.text!r} {sorted(self.urls)}"


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str
    length: int | None


@dataclass
class EntryReading:
    id: str | None = None
    link: str | None = None
    title: str = ""
    summary: Rich = Rich("", frozenset())
    content: Rich = Rich("", frozenset())
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None


@dataclass
class Reading:
    """One parser's reading of a document; ``error`` when it found no feed in it."""

    title: str = ""
    link: str | None = None
    language: str | None = None
    entries: list[EntryReading] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, order=True)
class Difference:
    document: str
    entry: int | None
    """The entry's index, or None for the document and its feed fields."""
    field: str
    newsbote: str
    feedparser: str
    values: tuple[Any, Any] = dataclasses.field(default=(None, None), compare=False)
    """The two values compared (for the classes of intended differences)."""
    readings: tuple[Any, Any] = dataclasses.field(default=(None, None), compare=False)
    """The two entries (:class:`EntryReading`) or feeds (:class:`Reading`) they belong to."""

    def __str__(self) -> str:
        where = "feed" if self.entry is None else f"entry {self.entry}"
        return (
            f"{self.document} {where} {self.field}:\n"
            f"    newsbote   {self.newsbote[:300]}\n    feedparser {self.feedparser[:300]}"
        )


# -- visible text ---------------------------------------------------------------------------

_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "details",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_INVISIBLE = frozenset({"script", "style", "template", "noscript"})


class _Visible(HTMLParser):
    """Visible text (space at block edges, none at inline ones) and absolute link and image URLs."""

    def __init__(self, base: str | None, alt_base: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.base = base
        self.alt_base = alt_base
        self.parts: list[str] = []
        self.urls: set[str] = set()
        self.alt_urls: set[str] = set()
        self.first_image: str | None = None
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self.hidden += 1
        if tag in _BLOCKS:
            self.parts.append(" ")
        values = {k: v or "" for k, v in attrs}
        if tag == "a" and values.get("href"):
            self._url(values["href"])
        if tag == "img" and values.get("src"):
            src = self._absolute(values["src"], self.base)
            if src and not is_tracking_pixel(src, values.get("width"), values.get("height")):
                self.urls.add(src)
                self.first_image = self.first_image or src
                alt = self._absolute(values["src"], self.alt_base)
                self.alt_urls.update([alt] if alt else [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:  # <script/> opens nothing
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE and self.hidden:
            self.hidden -= 1
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    @staticmethod
    def _absolute(url: str, base: str | None) -> str | None:
        url = "".join(url.split())
        try:
            resolved = urljoin(base, url) if base else url
        except ValueError:
            return None
        return normal_url(resolved) if resolved.startswith(("http://", "https://")) else None

    def _url(self, url: str) -> None:
        resolved = self._absolute(url, self.base)
        if resolved and not is_tracking_pixel(resolved):
            self.urls.add(resolved)  # a link to a tracker wraps its pixel: both go
            alt = self._absolute(url, self.alt_base)
            self.alt_urls.update([alt] if alt else [])


def normal_url(url: str | None) -> str | None:
    """A URL as compared: percent-decoded, without whitespace, ``/`` for an empty path
    (how each sanitizer encodes a URL is formatting)."""
    if not url:
        return url
    text = "".join(unquote(url).split())
    scheme, _, rest = text.partition("://")
    if rest and "/" not in rest.split("?", 1)[0].split("#", 1)[0]:
        host, sep, tail = rest.partition("?") if "?" in rest else rest.partition("#")
        text = f"{scheme}://{host}/{sep}{tail}"
    return text


def collapse(text: str) -> str:
    return " ".join(text.split())


def rich(fragment: str, base: str | None, alt_base: str | None = None) -> Rich:
    """The visible text and URLs of an HTML fragment (URLs resolved against ``base``)."""
    if not fragment:
        return Rich("", frozenset())
    parser = _Visible(base, alt_base)
    parser.feed(fragment)
    parser.close()
    alt = frozenset(parser.alt_urls) if alt_base else None
    return Rich(collapse("".join(parser.parts)), frozenset(parser.urls), parser.first_image, alt)


def plain(text: str) -> str:
    return collapse(text)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0)


# -- newsbote -------------------------------------------------------------------------------


def read_newsbote(document: Document) -> Reading:
    kwargs: dict[str, Any] = {}
    if document.content_location is not None and _accepts(parse_feed, "content_location"):
        kwargs["content_location"] = document.content_location
    try:
        feed = parse_feed(document.body, document.url, document.content_type, **kwargs)
    except ParseError as exc:
        return Reading(error=str(exc))
    if not feed.entries and feed.title == feed.url:
        return Reading(error="no entries and no title")  # what feedparser's reading calls no feed
    return Reading(
        title="" if feed.title == feed.url else plain(feed.title),
        link=feed.link,
        language=feed.language,
        entries=[_newsbote_entry(entry) for entry in feed.entries],
    )


# newsbote's sanitizer turns an embedded player into a link to it, feedparser's drops it
_EMBED = re.compile(r'<p><a href="[^"<>]*"[^<>]*>\u25b6 [^<>]*</a></p>')


def _accepts(function: Any, name: str) -> bool:
    import inspect

    return name in inspect.signature(function).parameters


def _newsbote_entry(entry: Entry) -> EntryReading:
    base = entry.base or entry.link
    enclosures = tuple(
        Enclosure(str(e.url), str(e.type or ""), e.length)
        for e in getattr(entry, "enclosures", ()) or ()
    )
    return EntryReading(
        id=entry.guid,
        link=entry.link,
        title=plain(entry.title),
        summary=rich(_EMBED.sub("", entry.summary_html), base),
        content=rich(_EMBED.sub("", entry.content_html), base),
        published=_utc(entry.published),
        updated=_utc(entry.updated),
        author=plain(entry.author) if entry.author else None,
        categories=tuple(dict.fromkeys(plain(c) for c in entry.categories if plain(c))),
        enclosures=enclosures,
        image=entry.image,
    )


# -- feedparser -----------------------------------------------------------------------------


def read_reference(document: Document) -> Reading:
    """feedparser's reading; for a JSON Feed, which feedparser 6 does not read, the spec's."""
    if document.body.lstrip()[:1] == b"{":
        return read_jsonfeed(document)
    return read_feedparser(document)


def read_feedparser(document: Document) -> Reading:
    """feedparser's reading with its defaults (it sanitizes; it resolves the links of an
    entry, and the harness those of its HTML, as feedparser would, against its xml:base)."""
    body = document.body
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)  # a gzip file served without Content-Encoding
    base = urljoin(document.url, document.content_location or "")
    headers = {"content-location": base}
    if document.content_type:
        headers["content-type"] = document.content_type
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = feedparser.parse(body, response_headers=headers, resolve_relative_uris=False)
    feed = raw.get("feed", {})
    if not raw.get("entries") and not feed.get("title"):
        return Reading(error=str(raw.get("bozo_exception") or "no feed found"))
    link = feed.get("link")
    explicit_base = b"xml:base" in body
    return Reading(
        title=_fp_text(feed, "title"),
        link=normal_url(urljoin(base, link)) if link else None,
        language=feed.get("language") or None,
        entries=[_feedparser_entry(entry, base, explicit_base) for entry in raw.get("entries", [])],
    )


def _fp_text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not value:
        return ""
    detail = entry.get(f"{key}_detail") or {}
    if "html" in str(detail.get("type") or ""):
        return rich(str(value), None).text
    return plain(str(value))


def _fp_rich(value: str, detail: Mapping[str, Any] | None, base: str, alt_base: str | None) -> Rich:
    kind = str((detail or {}).get("type") or "text/html")
    if "html" not in kind:
        return Rich(plain(value), frozenset())
    return rich(value, str((detail or {}).get("base") or base), alt_base)


def _fp_date(entry: Any, key: str) -> datetime | None:
    parsed = dict.get(entry, f"{key}_parsed")  # not the deprecated updated → published fallback
    if isinstance(parsed, time.struct_time):
        try:
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
        except (OverflowError, ValueError):
            return None
    return None


def _feedparser_entry(entry: Mapping[str, Any], base: str, explicit_base: bool) -> EntryReading:
    link = entry.get("link")
    link = urljoin(base, link) if link else None
    alt_base = None if explicit_base else link or base
    contents = [c for c in entry.get("content") or [] if isinstance(c, Mapping)]
    best = max(contents, key=lambda c: len(str(c.get("value") or "")), default=None)
    summary_value = str(entry.get("summary") or "")
    summary = _fp_rich(summary_value, entry.get("summary_detail"), base, alt_base)
    if best is not None and str(best.get("value") or ""):
        content = _fp_rich(str(best.get("value") or ""), best, base, alt_base)
    else:
        content = summary
    if not summary_value:
        summary = content
    enclosures = tuple(
        Enclosure(urljoin(base, str(e.get("href"))), str(e.get("type") or ""), _length(e))
        for e in entry.get("enclosures") or []
        if e.get("href")
    )
    published = _fp_date(entry, "published") or _fp_date(entry, "updated")
    tags = [t.get("term") or t.get("label") for t in entry.get("tags") or []]
    return EntryReading(
        id=str(entry["id"]).strip() if entry.get("id") else None,
        link=link,
        title=_fp_text(entry, "title"),
        summary=summary,
        content=content,
        published=published,
        updated=_fp_date(entry, "updated"),
        author=_fp_author(entry),
        categories=tuple(dict.fromkeys(plain(str(t)) for t in tags if t and plain(str(t)))),
        enclosures=enclosures,
        image=_fp_image(entry, link or base, content),
    )


_EMAIL_NAME = re.compile(r"^(\S+@\S+) \((.+)\)$")
_NAME_EMAIL = re.compile(r"^(.+) \((\S+@\S+)\)$")


def _fp_author(entry: Mapping[str, Any]) -> str | None:
    """The author's name (newsbote shows a name, not "name (email)" or "email (name)")."""
    if not entry.get("author"):
        return None
    author = plain(str(entry["author"]))
    detail = entry.get("author_detail") or {}
    name, email = detail.get("name"), detail.get("email")
    if name and email and author == f"{plain(str(name))} ({plain(str(email))})":
        return plain(str(name))  # an Atom author's name and email, joined by feedparser
    email_name, name_email = _EMAIL_NAME.match(author), _NAME_EMAIL.match(author)
    if email_name:
        return email_name.group(2)
    return name_email.group(1) if name_email else author


def _length(enclosure: Mapping[str, Any]) -> int | None:
    value = str(enclosure.get("length") or "").strip()
    return int(value) if value.isdigit() else None


def _fp_image(entry: Mapping[str, Any], base: str, content: Rich) -> str | None:
    """The lead image by newsbote's rule, from feedparser's reading of the media elements."""
    for key in ("media_thumbnail", "media_content", "enclosures"):
        for media in entry.get(key) or []:
            kind = str(media.get("type") or media.get("medium") or "")
            target = media.get("url") or media.get("href")
            if target and (kind.startswith("image") or key == "media_thumbnail"):
                url = urljoin(base, str(target))
                size = (str(media.get("width") or ""), str(media.get("height") or ""))
                if not is_tracking_pixel(url, *size):
                    return url
    image = entry.get("image")
    href = image.get("href") if isinstance(image, Mapping) else None
    if href and not is_tracking_pixel(str(href)):
        return urljoin(base, str(href))
    return content.first_image


# -- JSON Feed, by its spec (https://www.jsonfeed.org/version/1.1/) -------------------------


def read_jsonfeed(document: Document) -> Reading:
    try:
        data = json.loads(document.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Reading(error=str(exc))
    if not isinstance(data, dict) or "jsonfeed.org" not in str(data.get("version", "")):
        return Reading(error="not a JSON Feed")
    if not isinstance(data.get("items"), list):
        return Reading(error="a JSON Feed without items")
    base = document.url
    home = data.get("home_page_url")
    return Reading(
        title=plain(str(data.get("title") or "")),
        link=urljoin(base, home) if isinstance(home, str) and home else None,
        language=data.get("language") or None,
        entries=[_json_item(item, base) for item in data["items"] if isinstance(item, dict)],
    )


def _json_item(item: Mapping[str, Any], base: str) -> EntryReading:
    url = item.get("url") or item.get("external_url")
    link = urljoin(base, str(url)) if url else None
    if item.get("content_html"):
        content = rich(str(item["content_html"]), link or base)
    else:
        content = Rich(plain(str(item.get("content_text") or "")), frozenset())
    summary = Rich(plain(str(item["summary"])), frozenset()) if item.get("summary") else content
    authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    image = item.get("image") or item.get("banner_image")
    return EntryReading(
        id=str(item["id"]) if item.get("id") is not None else None,
        link=link,
        title=plain(str(item.get("title") or "")),
        summary=summary,
        content=content,
        published=_iso(item.get("date_published")) or _iso(item.get("date_modified")),
        updated=_iso(item.get("date_modified")),
        author=", ".join(names) or None,
        categories=tuple(dict.fromkeys(plain(str(t)) for t in item.get("tags") or [] if t)),
        enclosures=tuple(
            Enclosure(
                urljoin(base, str(a["url"])), str(a.get("mime_type") or ""), a.get("size_in_bytes")
            )
            for a in item.get("attachments") or []
            if isinstance(a, dict) and a.get("url")
        ),
        image=urljoin(base, str(image)) if image else content.first_image,
    )


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


# -- comparison -----------------------------------------------------------------------------

_ENTRY_FIELDS = (
    "id",
    "link",
    "title",
    "summary",
    "content",
    "published",
    "updated",
    "author",
    "categories",
    "enclosures",
    "image",
)


_URL_FIELDS = frozenset({"link", "image", "feed.link"})


def _same(field_name: str, ours: Any, theirs: Any) -> bool:
    if isinstance(ours, Rich) and isinstance(theirs, Rich):
        return "".join(ours.text.split()) == "".join(theirs.text.split()) and (
            ours.urls == theirs.urls
        )
    if field_name == "title":
        return "".join(str(ours).split()) == "".join(str(theirs).split())
    if field_name in _URL_FIELDS:
        return normal_url(ours) == normal_url(theirs)
    if field_name == "categories":
        return set(ours) == set(theirs)  # their order means nothing to a reader or a filter
    if field_name == "enclosures":
        return [(normal_url(e.url), e.type, e.length) for e in ours] == [
            (normal_url(e.url), e.type, e.length) for e in theirs
        ]
    return bool(ours == theirs)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)


def compare(document: Document) -> list[Difference]:
    """Every field where newsbote's reading of ``document`` differs from feedparser's."""
    ours, theirs = read_newsbote(document), read_reference(document)
    return diff(document.name, ours, theirs)


def diff(name: str, ours: Reading, theirs: Reading) -> list[Difference]:
    if ours.error or theirs.error:
        if bool(ours.error) == bool(theirs.error):
            return []
        return [Difference(name, None, "parsed", str(not ours.error), str(not theirs.error))]
    differences = [
        Difference(name, None, f"feed.{key}", _show(a), _show(b), (a, b), (ours, theirs))
        for key, a, b in (
            ("title", ours.title, theirs.title),
            ("link", ours.link, theirs.link),
            ("language", ours.language, theirs.language),
        )
        if not _same(key, a, b)
    ]
    if len(ours.entries) != len(theirs.entries):
        differences.append(
            Difference(name, None, "entries", str(len(ours.entries)), str(len(theirs.entries)))
        )
    for index, (a, b) in enumerate(zip(ours.entries, theirs.entries, strict=False)):
        for key in _ENTRY_FIELDS:
            mine, yours = getattr(a, key), getattr(b, key)
            if not _same(key, mine, yours):
                differences.append(
                    Difference(name, index, key, _show(mine), _show(yours), (mine, yours), (a, b))
                )
    return differences


# -- intended differences -------------------------------------------------------------------


# Narrow classes of intended differences, each a test on one difference; a ``[[class]]`` row
# of the intended file names one and gives the reason.
def _by_item_link(difference: Difference) -> bool:
    """Only relative URLs differ, and newsbote resolved them against the entry's link."""
    ours, theirs = difference.values
    return (
        isinstance(ours, Rich)
        and isinstance(theirs, Rich)
        and theirs.alt_urls is not None
        and "".join(ours.text.split()) == "".join(theirs.text.split())
        and ours.urls == theirs.alt_urls
    )


def _id_from_link(difference: Difference) -> bool:
    """newsbote's id is the entry's link (as written), where feedparser finds no id."""
    ours, _ = difference.readings
    mine, theirs = difference.values
    link = getattr(ours, "link", None)
    return theirs is None and isinstance(mine, str) and bool(link) and str(link).endswith(mine)


def _relative_guid(difference: Difference) -> bool:
    """A relative guid: newsbote keeps it as written, feedparser resolves it like a URL."""
    ours, theirs = difference.values
    return (
        isinstance(ours, str)
        and isinstance(theirs, str)
        and "://" not in ours
        and theirs.startswith(("http://", "https://"))
        and theirs.endswith(ours)
    )


def _link_from_id(difference: Difference) -> bool:
    """feedparser takes an Atom id as the link where there is none; newsbote does not."""
    ours, theirs = difference.values
    if ours is not None or not isinstance(theirs, str):
        return False
    _, fp_entry = difference.readings
    return theirs.startswith(("urn:", "tag:")) or theirs == getattr(fp_entry, "id", None)


def _dc_date_published(difference: Difference) -> bool:
    """The one date of an RSS item (dc:date): newsbote's published, feedparser's updated
    (and its published too, by the fallback the harness applies to both)."""
    ours, theirs = difference.values
    nb_entry, _ = difference.readings
    return ours is None and theirs is not None and theirs == getattr(nb_entry, "published", 0)


def _text_of_markup(difference: Difference) -> bool:
    """A text field holding tags or character references (``&amp;``, ``&#8211;``) that
    feedparser shows as written; newsbote reads them as HTML and shows their text."""
    ours, theirs = difference.values
    if isinstance(ours, tuple) and isinstance(theirs, tuple):
        return {_visible(t) for t in ours} == {_visible(t) for t in theirs}
    return isinstance(theirs, str) and _visible(theirs) == _visible(str(ours))


def _visible(text: str) -> str:
    return (
        "".join(rich(text, None).text.split())
        if "<" in text or "&" in text
        else "".join(text.split())
    )


def _fragment_links(difference: Difference) -> bool:
    """Only links to a place in a page (``#…``) differ: newsbote resolves one against the
    entry's link only when the entry has other relative links, feedparser always against
    its base; and the sanitizer drops one it cannot resolve."""
    ours, theirs = difference.values
    if not (isinstance(ours, Rich) and isinstance(theirs, Rich)):
        return False
    if "".join(ours.text.split()) != "".join(theirs.text.split()):
        return False
    return all("#" in url for url in ours.urls ^ theirs.urls)


CLASSES: dict[str, Callable[[Difference], bool]] = {
    "item-link-base": _by_item_link,
    "id-from-link": _id_from_link,
    "relative-guid": _relative_guid,
    "link-from-id": _link_from_id,
    "dc-date-published": _dc_date_published,
    "text-of-markup": _text_of_markup,
    "fragment-links": _fragment_links,
}


@dataclass(frozen=True)
class Intended:
    """One reviewed difference: a document's field (some entries or all), or a class; and why."""

    document: str
    field: str
    reason: str
    entries: tuple[int, ...] | None = None
    kind: str | None = None
    """The name of a class in :data:`CLASSES` (then ``document`` is ``*``)."""

    def covers(self, difference: Difference) -> bool:
        if self.kind is not None:
            return difference.field == self.field and CLASSES[self.kind](difference)
        if difference.document != self.document or difference.field != self.field:
            return False
        return self.entries is None or difference.entry in self.entries


def load_intended(path: Path = INTENDED) -> list[Intended]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    intended = []
    for row in data.get("class", []):
        if row["name"] not in CLASSES:
            raise ValueError(f"{path}: no class {row['name']!r} in tests/differential.py")
        intended.append(Intended("*", row["field"], _reason(path, row), None, row["name"]))
    for row in data.get("difference", []):
        entries = row.get("entries")
        intended.append(
            Intended(
                row["document"],
                row["field"],
                _reason(path, row),
                tuple(entries) if isinstance(entries, Sequence) else None,
            )
        )
    return intended


def _reason(path: Path, row: Mapping[str, Any]) -> str:
    reason = str(row.get("reason", "")).strip()
    if not reason:
        raise ValueError(f"{path}: {row.get('document') or row.get('name')} gives no reason")
    return reason


def unexpected(
    differences: Iterable[Difference], intended: Sequence[Intended]
) -> tuple[list[Difference], list[Intended]]:
    """The differences no intended row covers, and the intended rows that cover none."""
    used: set[int] = set()
    new = []
    for difference in differences:
        covering = [i for i, row in enumerate(intended) if row.covers(difference)]
        used.update(covering)
        if not covering:
            new.append(difference)
    return new, [row for i, row in enumerate(intended) if i not in used]


def write_intended(
    differences: Sequence[Difference], reasons: Mapping[str, str], path: Path = INTENDED
) -> None:
    """Rewrite the intended file's per-document rows from ``differences`` (a maintainer's tool:
    the reasons kept are the file's own for the same document and field, else ``reasons`` by
    field; the result is to be reviewed before it is committed)."""
    old = {(i.document, i.field): i.reason for i in load_intended(path) if i.kind is None}
    classes = [i for i in load_intended(path) if i.kind is not None]
    header = path.read_text(encoding="utf-8").split("[[difference]]", 1)[0].rstrip() + "\n"
    grouped: dict[tuple[str, str], set[int | None]] = {}
    for difference in differences:
        if any(row.covers(difference) for row in classes):
            continue
        grouped.setdefault((difference.document, difference.field), set()).add(difference.entry)
    lines = [header]
    for (document, field_name), entries in sorted(grouped.items()):
        reason = old.get((document, field_name)) or reasons.get(field_name, "")
        lines += ["[[difference]]", f"document = {json.dumps(document)}", f'field = "{field_name}"']
        indices = sorted(e for e in entries if e is not None)
        if indices and len(indices) <= 10:
            lines.append(f"entries = {indices}")
        lines += [f"reason = {json.dumps(reason, ensure_ascii=False)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


# -- documents ------------------------------------------------------------------------------


def edge_documents() -> list[Document]:
    """The hand-written edge documents, with the URL and headers their index gives them."""
    with (EDGE_FEEDS / "index.toml").open("rb") as handle:
        index = tomllib.load(handle)
    return [
        Document(
            f"edge/{row['file']}",
            (EDGE_FEEDS / row["file"]).read_bytes(),
            row.get("url", f"https://edge.example/{row['file']}"),
            row.get("content_type", ""),
            row.get("content_location"),
        )
        for row in index["document"]
    ]


NOT_FEEDS = {"opml", "email", "mbox", "config", "text", "json-gold"}


def corpus_rows(corpus: Path) -> list[dict[str, str]]:
    """The manifest rows of the corpus's feed documents (as ``test_parse_corpus`` selects them)."""
    with (corpus / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [r for r in rows if r["path"].startswith("feeds/") and r["format"] not in NOT_FEEDS]


def corpus_documents(corpus: Path, rows: Iterable[Mapping[str, str]]) -> list[Document]:
    """The corpus's feed documents (``rows`` of its manifest), each at a URL of its site.

    The URL is the one it was downloaded from (the manifest's note), else the feed's own
    ``rel="self"`` link or site link: relative links then resolve as they did for its readers.
    """
    documents = []
    for row in rows:
        body = (corpus / row["path"]).read_bytes()
        note = row.get("note", "").removeprefix("url=")
        url = note if note.startswith(("http://", "https://")) else _own_url(body)
        documents.append(
            Document(row["path"], body, url or f"https://corpus.example/{row['path']}")
        )
    return documents


def _own_url(body: bytes) -> str | None:
    try:
        feed = fastfeedparser.parse(body).get("feed", {})
    except Exception:
        return None
    links = [link.get("href") for link in feed.get("links") or [] if link.get("rel") == "self"]
    for url in [*links, feed.get("link")]:
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            return url
    return None


@dataclass
class Run:
    """The differences over a set of documents, with the figures the test prints."""

    differences: list[Difference] = field(default_factory=list)
    fields: int = 0
    documents: int = 0
    identical: int = 0

    def add(self, document: Document) -> None:
        ours, theirs = read_newsbote(document), read_reference(document)
        found = diff(document.name, ours, theirs)
        self.differences += found
        self.fields += 4 + max(len(ours.entries), len(theirs.entries)) * len(_ENTRY_FIELDS)
        self.documents += 1
        self.identical += not found

    def summary(self) -> str:
        agree = max(0, self.fields - len(self.differences))
        return (
            f"{agree} of {self.fields} fields agree with feedparser "
            f"({100 * agree / max(1, self.fields):.1f} %); {self.identical} of {self.documents} "
            f"documents read alike ({100 * self.identical / max(1, self.documents):.1f} %)"
        )


def run(documents: Iterable[Document]) -> Run:
    result = Run()
    for document in documents:
        result.add(document)
    return result


# What a difference still means when the intended file is rewritten (see write_intended).
PENDING = dict.fromkeys(
    (
        "parsed",
        "entries",
        "feed.title",
        "feed.link",
        "feed.language",
        *_ENTRY_FIELDS,
    ),
    "A new difference: fix newsbote's reading, or replace this with why it is meant.",
)


def main(argv: Sequence[str]) -> None:
    """``python -m tests.differential [--write-intended] [CORPUS]``: print the differences."""
    corpus = Path(argv[-1]) if argv and not argv[-1].startswith("-") else None
    corpus = corpus or Path(__file__).resolve().parents[2] / "shared" / "corpus"
    documents = edge_documents() + corpus_documents(corpus, corpus_rows(corpus))
    result = run(documents)
    new, stale = unexpected(result.differences, load_intended())
    for difference in new:
        print(difference)
    for row in stale:
        print(f"no longer occurs: {row.document} {row.field}")
    print(result.summary())
    if "--write-intended" in argv:
        write_intended(result.differences, PENDING)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
