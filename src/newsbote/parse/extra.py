"""What fastfeedparser does not read, found in the same prepared bytes.

:func:`scan` looks at the bytes once (one RE2 pass, about 1 ms per MB; the head's
namespaces decide the rare further passes a document needs). Its ``misread`` names
the rare constructs fastfeedparser misreads; such a document goes to feedparser, which
reads them: an XHTML ``<body>``/``<xhtml:body>``, ``<fullitem>``, Atom 0.3
``mode="base64"``/``mode="xml"``, markup written unescaped inside ``<title>`` or
``<description>``, an Atom text summary holding escaped markup. What it only half-reads
is completed instead by one lxml pass (:func:`supplement`), run only when the document
has it: ``xml:base`` (the base of each entry's links and HTML), ``media:group``
thumbnails (YouTube), Atom XHTML titles and summaries, RSS 1.0 ``content:encoded``, the
length of Atom enclosure links, iTunes episode images and keywords. The feed's language
is read from the head.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

import re2
from lxml import etree

_HEAD = 65536
_FIRST_ENTRY = re.compile(rb"<(?:item|entry)[\s>]")
# lazy but bounded: a failed attempt reads at most 80 bytes
_LANGUAGE = re.compile(
    rb"<(?:dc:)?language>\s*(?:<!\[CDATA\[)?\s*([^<>\]]{1,60}?)\s*(?:\]\]>)?\s*</(?:dc:)?language>"
)
_ROOT_LANG = re.compile(
    rb"<(?:feed|rss|rdf:RDF)\s[^<>]{0,2000}?xml:lang=[\"']([A-Za-z0-9_-]{1,40})[\"']"
)
_ATOM03_MODES = (b'mode="base64"', b"mode='base64'", b'mode="xml"', b"mode='xml'")
# RE2 (a DFA, linear by construction) finds every marker in one pass, where Python's re
# would try each pattern at every "<"; each alternative starts with "<", which RE2 skips
# to with memchr. RSS: <fullitem>, an XHTML body, a title or description holding an
# element (not CDATA, not its own end). Atom: a text summary holding escaped markup, an
# XHTML title or summary.
_RSS_SCAN = re2.compile(rb"<fullitem|<xhtml:body|<body xmlns=|<(?:title|description)>[^<]*<[^!/]")
_ATOM_SCAN = re2.compile(
    rb"<summary(?:\s+type=[\"']text[\"'])?\s*>[^<]*&lt;"
    rb"|<(?:title|summary)\s[^<>]{0,200}type=[\"']xhtml[\"']"
)
_MISREAD = {
    b"<fulli": "a fullitem",
    b"<xhtml": "an XHTML body",
    b"<body ": "an XHTML body",
    b"<title": "markup inside a title",
    b"<descr": "markup inside a description",
    b"<summa": "escaped markup in an Atom text summary",
}
_MEDIA_MARKERS = (b"<media:group", b"<media:keywords")
_ATOM_ROOT = re.compile(rb"<feed[\s>]")
_RSS1 = b'"http://purl.org/rss/1.0/"'  # the namespace itself (its content module's URI is longer)
_ROOT_BASE = re.compile(rb"xml:base=[\"']([^\"'<>]{1,2048})[\"']")


@dataclass(frozen=True, slots=True)
class Scan:
    """What the bytes of a document show before any parser reads them."""

    misread: str | None
    """Why fastfeedparser would misread the document (then feedparser reads it), or None."""
    supplement: bool
    """Whether :func:`supplement` has something to add."""
    language: str | None
    base: str | None = None
    """The root's xml:base, where no other element has one (then no lxml pass is needed)."""


def scan(document: bytes) -> Scan:
    """One RE2 pass and one ``bytes.find`` over the document, the rest over its head."""
    first = _FIRST_ENTRY.search(document, 0, _HEAD)
    head = document[: first.start() if first else _HEAD]
    match = _LANGUAGE.search(head) or _ROOT_LANG.search(head)
    language = match.group(1).decode("utf-8", "replace") if match else None
    atom = _ATOM_ROOT.search(head) is not None  # not an RSS feed's atom:link
    misread = None
    if b'xmlns="http://backend.userland.com/rss2"' in head:
        misread = "RSS 2.0 in a default namespace"
    elif b"http://purl.org/atom/ns#" in head and any(m in document for m in _ATOM03_MODES):
        misread = "Atom 0.3 base64 or XML content"
    xhtml = False
    for found in (_ATOM_SCAN if atom else _RSS_SCAN).finditer(document):
        marker = found.group(0)
        if marker.endswith((b'xhtml"', b"xhtml'")):
            xhtml = True
        else:
            misread = misread or _MISREAD[marker[:6]]
            break
    base_at = document.find(b"xml:base=")
    bases = 0 if base_at < 0 else 1 + (document.find(b"xml:base=", base_at + 9) >= 0)
    root_base = None
    if bases == 1 and base_at < len(head):
        match = _ROOT_BASE.match(document, base_at)
        root_base = match.group(1).decode("utf-8", "replace") if match else None
    extra = (
        xhtml
        or b"itunes.com/dtds" in head
        or (b"search.yahoo.com/mrss" in head and any(m in document for m in _MEDIA_MARKERS))
        or (_RSS1 in head and b"<content:encoded" in document)
        or (bases > 0 and root_base is None)
    )
    return Scan(misread, extra, language, root_base)


ATOM, ATOM03 = "{http://www.w3.org/2005/Atom}", "{http://purl.org/atom/ns#}"
XHTML = "{http://www.w3.org/1999/xhtml}"
MEDIA = "{http://search.yahoo.com/mrss/}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_ENTRY_TAGS = (
    f"{ATOM}entry",
    f"{ATOM03}entry",
    "item",
    "{http://purl.org/rss/1.0/}item",
    "{http://my.netscape.com/rdf/simple/0.9/}item",
    "{http://backend.userland.com/rss2}item",
)
_CONTENT_TAGS = frozenset(
    (f"{ATOM}content", f"{ATOM03}content", f"{ATOM}summary", f"{ATOM03}summary", "description")
)
_MEDIA_GROUP, _MEDIA_THUMBNAIL = f"{MEDIA}group", f"{MEDIA}thumbnail"
_MEDIA_KEYWORDS = f"{MEDIA}keywords"
_ITUNES_IMAGE, _ITUNES_KEYWORDS = f"{ITUNES}image", f"{ITUNES}keywords"
_ATOM_LINKS = frozenset((f"{ATOM}link", f"{ATOM03}link"))
_ATOM_TITLE, _ATOM_SUMMARY = f"{ATOM}title", f"{ATOM}summary"
_PARSER = etree.XMLParser(
    recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)


@dataclass(frozen=True, slots=True)
class Extra:
    """What one entry has that fastfeedparser's reading lacks."""

    base: str | None = None
    """The entry's xml:base, resolved (None: the document sets none)."""
    content_base: str | None = None
    thumbnail: str | None = None
    content: str | None = None
    """RSS 1.0 ``content:encoded``."""
    enclosures: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    """Atom enclosure links: (href, type, length)."""
    image: str | None = None
    """A podcast episode's ``itunes:image``."""
    keywords: tuple[str, ...] = ()
    """``itunes:keywords`` and ``media:keywords`` (feedparser files them as categories)."""
    title: str | None = None
    """An Atom XHTML title, as HTML."""
    summary: str | None = None
    """An Atom XHTML summary, as HTML."""


def supplement(document: bytes, url: str, count: int) -> list[Extra] | None:
    """Per entry, in document order, what fastfeedparser misses (run when :func:`scan` says);
    None when lxml does not find the same ``count`` entries (then nothing is matched up)."""
    try:
        root = etree.fromstring(document, _PARSER, base_url=url)
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    entries = list(root.iter(*_ENTRY_TAGS))
    if len(entries) != count:
        return None
    want = _Want(
        base=b"xml:base=" in document,
        rss1=b"<content:encoded" in document and str(root.tag).endswith("RDF"),
        xhtml=b"xhtml" in document,
        media=b"search.yahoo.com/mrss" in document,
        itunes=b"itunes.com/dtds" in document,
        enclosure=b"enclosure" in document,
    )
    return [_extra(entry, want) for entry in entries]


@dataclass(frozen=True, slots=True)
class _Want:
    """Which of the supplement's elements the document can hold at all."""

    base: bool
    rss1: bool
    xhtml: bool
    media: bool
    itunes: bool
    enclosure: bool


def _extra(entry: etree._Element, want: _Want) -> Extra:
    """What one entry has: a find (in C) per kind of element the document can hold."""
    thumbnail = encoded = image = title = summary = None
    keywords: list[str] = []
    enclosures: tuple[tuple[str, str, str], ...] = ()
    if want.media:
        group = next(entry.iterchildren(_MEDIA_GROUP), None)
        for holder in (entry, group) if group is not None else (entry,):
            for element in holder.iterchildren(_MEDIA_THUMBNAIL, _MEDIA_KEYWORDS):
                if element.tag == _MEDIA_KEYWORDS:
                    keywords += _words(element.text)
                else:
                    thumbnail = thumbnail or element.get("url")
    if want.itunes:
        for element in entry.iterchildren(_ITUNES_IMAGE, _ITUNES_KEYWORDS):
            if element.tag == _ITUNES_KEYWORDS:
                keywords += _words(element.text)
            else:
                image = image or element.get("href")
    if want.rss1:
        found = next(entry.iterchildren(CONTENT_ENCODED), None)
        encoded = found.text if found is not None else None
    if want.enclosure:
        enclosures = tuple(
            (link.get("href") or "", link.get("type") or "", link.get("length") or "")
            for link in entry.iterchildren(*_ATOM_LINKS)
            if link.get("rel") == "enclosure" and link.get("href")
        )
    if want.xhtml:
        for element in entry.iterchildren(_ATOM_TITLE, _ATOM_SUMMARY):
            if element.tag == _ATOM_TITLE:
                title = _xhtml(element)
            else:
                summary = _xhtml(element)
    base = content_base = None
    if want.base:
        base = entry.base
        content = next(entry.iterchildren(*_CONTENT_TAGS), None)
        content_base = content.base if content is not None else base
    return Extra(
        base,
        content_base,
        thumbnail,
        encoded,
        enclosures,
        image,
        tuple(keywords),
        title,
        summary,
    )


def _words(text: str | None) -> list[str]:
    return [word.strip() for word in (text or "").split(",") if word.strip()]


def _xhtml(element: etree._Element) -> str | None:
    """An Atom ``type="xhtml"`` element's content as HTML (RFC 4287 3.1.1.3: the div's children)."""
    if element.get("type") != "xhtml":
        return None
    div = next(element.iterchildren(f"{XHTML}div"), None)
    holder = div if div is not None else element
    parts = [html.escape(holder.text or "", quote=False)]
    for child in holder:
        etree.cleanup_namespaces(child)
        parts.append(etree.tostring(child, encoding="unicode", method="html", with_tail=True))
    return "".join(parts).replace(' xmlns="http://www.w3.org/1999/xhtml"', "")
