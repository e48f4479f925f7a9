"""Full text: when a feed carries only a teaser, the article page's main text instead.

Extraction is trafilatura's (the best published scores among Python
extractors); its HTML is sanitized like feed HTML. ``auto`` fetches the page
only for entries that look like teasers and keeps the feed's text unless the
page's text is clearly longer and continues it.
"""

from __future__ import annotations

import html
import logging
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import urljoin

from newsbote.enrich.sanitize import is_tracking_pixel, plain_text, sanitize_html
from newsbote.render.limits import top_level_blocks
from newsbote.types import Entry

log = logging.getLogger("newsbote.enrich")

FulltextMode = Literal["auto", "always", "never"]
SHORT_WORDS = 80
MAX_PAGE_BYTES = 2 * 1024 * 1024
"""The largest article page given to the extractor; a bigger page keeps the feed's text.
A 2 MB page of 12,000 paragraphs costs its one pass 3.3 s of CPU (12.5 s with the three
passes and the metadata pass it used to take; a 5 MB page took 230 s then)."""
# an attempt at a mark or "[" scans the whitespace after it only (each run follows one
# mark): linear, also where prefer_page removes it from a whole text
_TEASER_END = re.compile(r"(?:\[\s*(?:…|\.\.\.)\s*\]|…|\.\.\.|\[mehr\]|\[more\])\s*$", re.I)
_READ_MORE_PHRASES = (
    "weiterlesen",
    "mehr lesen",
    "read more",
    "continue reading",
    "read the rest",
    "full story",
    "den ganzen artikel",
)
# searched only where a phrase is: a case-insensitive alternation costs 7 µs per entry
# (in the last 300 characters)
_READ_MORE = re.compile(rf"\b(?:{'|'.join(_READ_MORE_PHRASES)})\b", re.I)


@lru_cache(maxsize=1)
def _config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")  # no signal-based timeout off the main thread
    return config


def looks_like_teaser(entry: Entry) -> str | None:
    """Why ``entry`` looks like a teaser, or None when it looks complete."""
    text = entry.plain
    if not text:
        return "the feed has no text"
    if _TEASER_END.search(text[-40:]):
        return "the text ends with an ellipsis"
    tail = text[-300:]
    lowered = tail.lower()
    if any(phrase in lowered for phrase in _READ_MORE_PHRASES) and _READ_MORE.search(tail):
        return "the text ends with a 'read more' link"
    words = text.count(" ") + 1  # the text's whitespace is collapsed to single spaces
    if words < SHORT_WORDS:
        return f"the text is short ({words} words)"
    return None


def page_too_large(size: int) -> str | None:
    """Why a page of ``size`` bytes is not extracted, or None when it may be."""
    if size <= MAX_PAGE_BYTES:
        return None
    return f"article page too large to extract ({size:,} bytes, at most {MAX_PAGE_BYTES:,})"


@dataclass(frozen=True, slots=True)
class Extracted:
    """The main text of an article page, sanitized, and its lead image."""

    html: str
    text: str
    image: str | None


def extract_article(page: bytes | str, url: str) -> Extracted | None:
    """Main text (paragraphs, headings, lists, quotes, links, images) of an article page,
    or None when the page has none.

    The text is trafilatura's default extraction, whole: nothing of it is cut. The images
    are the page's own ``<img>`` elements that lie within the extracted text (or just
    before its first block), each put after the block it follows on the page; images in
    the page's navigation, header, footer, asides and forms, logos and icons are left
    out. The lead image is the page's first ``og:image`` (else ``twitter:image``). The
    page is parsed once and extracted once (metadata extraction would double the cost).
    Measured in benchmarks/fidelity.py.
    """
    import trafilatura  # 29 MB: imported when a page is first extracted, not at start-up

    if isinstance(page, str):
        page = page.encode("utf-8", errors="replace")
    if page_too_large(len(page)):
        return None
    try:
        # a tree, never a string: trafilatura copies it, and a string that starts with
        # "http" is taken for an address by its date finder
        tree = trafilatura.load_html(page)
        if tree is None:
            return None
        extracted = trafilatura.extract(
            tree,
            url=url,
            output_format="html",
            include_links=True,
            include_images=False,  # with images, boxes of teasers and captions come along
            include_comments=False,
            include_tables=True,
            config=_config(),
        )
    except Exception as exc:
        log.info("extract url=%s failed: %s", url, exc)
        return None
    text = _unwrap_document(extracted) if extracted else ""
    if not text.strip():
        return None
    image = _lead_image(tree, url)  # before _with_images changes the tree
    body = sanitize_html(_with_images(text, tree, url), url)
    return Extracted(html=body, text=plain_text(body), image=image)


_OG_IMAGE = "//meta[@property='og:image' or @name='og:image']/@content"
_TWITTER_IMAGE = "//meta[@name='twitter:image' or @property='twitter:image']/@content"


def _lead_image(tree: Any, url: str) -> str | None:
    for path in (_OG_IMAGE, _TWITTER_IMAGE):
        found = next((str(c).strip() for c in tree.xpath(path) if str(c).strip()), None)
        if found:
            image = urljoin(url, found)
            return None if is_tracking_pixel(image) else image
    return None


_WORD = re.compile(r"\w+")  # one character class, repeated: linear
_IMAGE_FILE = re.compile(r"\.(?:avif|bmp|gif|hei[cf]|jpe?g|png|webp)\b", re.I)
_SILENT = ("script", "style", "noscript", "template", "head", "title", "svg")
_FURNITURE = ("nav", "header", "footer", "aside", "form", "button")
_FRAMES = ("figure", "picture")
_MARK = "\ue000"  # a private-use character: no page's text should hold one
MAX_PICTURES = 500
"""The most pictures of a page that are looked at (in page order)."""
_NOT_PICTURES = ("logo", "icon", "avatar", "sprite")
ANCHOR = 4
"""Words that find a block of the text on the page (a shorter block anchors no image)."""
LEAD_WORDS = 40
"""How far before the text's first block an image in a ``<figure>`` may be (a headline
and its byline lie between an article's opening picture and its text)."""
LEAD_WORDS_BARE = 15
"""How far before the first block an image outside a ``<figure>`` may be."""


@dataclass(frozen=True, slots=True)
class _Picture:
    at: int  # the number of words of the page before it
    framed: bool  # in a <figure> or <picture>
    src: str
    alt: str


def _page_words(tree: Any) -> tuple[list[str], list[_Picture]]:
    """The words of the page's visible text in document order, and its pictures outside
    the page's furniture (at most ``MAX_PICTURES``), each at its place among those words.

    Linear: lxml's walk stops only at the elements that matter here, and the text is
    read in one piece, with a mark after each picture. The tree is changed (its
    invisible parts go, the marks come): the extraction must be done with it."""
    from lxml import etree

    etree.strip_elements(tree, *_SILENT, with_tail=False)
    found: list[tuple[bool, str, str]] = []
    furniture = framed = 0
    walk = etree.iterwalk(tree, events=("start", "end"), tag=("img", *_FRAMES, *_FURNITURE))
    for event, element in walk:
        step = 1 if event == "start" else -1
        if element.tag in _FURNITURE:
            furniture += step
        elif element.tag in _FRAMES:
            framed += step
        elif (
            event == "start"
            and not furniture
            and len(found) < MAX_PICTURES
            and (src := _image_src(element))
        ):
            element.tail = f" {_MARK} {element.tail or ''}"
            found.append((framed > 0, src, element.get("alt") or ""))
    pieces = " ".join(tree.itertext()).casefold().split(_MARK)
    if len(pieces) != len(found) + 1:  # the page has marks of its own
        return [], []
    words: list[str] = _WORD.findall(pieces[0])
    pictures: list[_Picture] = []
    for (in_frame, src, alt), piece in zip(found, pieces[1:], strict=True):
        pictures.append(_Picture(len(words), in_frame, src, alt))
        words += _WORD.findall(piece)
    return words, pictures


def _image_src(element: Any) -> str | None:
    """The picture's address (lazy-loading pages keep it in ``data-src``), when it names an
    image file that is not a logo or an icon."""
    for attribute in ("data-src", "src", "data-original", "data-lazy-src"):
        src = (element.get(attribute) or "").strip()
        if src and len(src) <= 2048 and not src.startswith("data:") and _IMAGE_FILE.search(src):
            lowered = src.casefold()
            return None if any(word in lowered for word in _NOT_PICTURES) else src
    return None


def _with_images(text: str, tree: Any, url: str) -> str:
    """``text`` with the page's pictures that lie among its blocks, each after the block it
    follows on the page (a picture just before the first block goes before it)."""
    if tree.find(".//img") is None:
        return text
    words, pictures = _page_words(tree)
    if not pictures:
        return text
    blocks = top_level_blocks(text)
    own = [_WORD.findall(plain_text(block).casefold()) for block in blocks]
    keys = [tuple(words_[:ANCHOR]) for words_ in own]
    wanted = {key for key in keys if len(key) == ANCHOR}
    heads = {key[0] for key in wanted}
    starts: dict[tuple[str, ...], list[int]] = {}  # where on the page each block may start
    for i, word in enumerate(words):
        if word in heads and (key := tuple(words[i : i + ANCHOR])) in wanted:
            starts.setdefault(key, []).append(i)
    anchors: list[tuple[int, int]] = []  # (where on the page, which block), in page order
    cursor = 0
    for index, key in enumerate(keys):
        found = starts.get(key, [])
        at = bisect_left(found, cursor)
        if at < len(found):
            anchors.append((found[at], index))
            cursor = found[at] + len(own[index])
    if not anchors:
        return text
    first, end = anchors[0][0], cursor
    places = [where for where, _ in anchors]
    after: dict[int, list[str]] = {}
    seen: set[str] = set()
    for picture in pictures:
        lead = LEAD_WORDS if picture.framed else LEAD_WORDS_BARE
        src = urljoin(url, picture.src)
        if not first - lead <= picture.at <= end or src in seen:
            continue
        seen.add(src)
        owner = anchors[bisect_right(places, picture.at) - 1][1] if picture.at >= first else -1
        alt = f' alt="{html.escape(picture.alt)}"' if picture.alt else ""
        after.setdefault(owner, []).append(f'<p><img src="{html.escape(src)}"{alt}></p>')
    if not after:
        return text
    parts = after.get(-1, [])
    for index, block in enumerate(blocks):
        parts.append(block)
        parts += after.get(index, [])
    return "".join(parts)


# Notices a page shows instead of its article, or around it (English and German):
# subscriptions and sign-ins, reprint and copyright lines, cookie, JavaScript and
# ad-blocker walls. Looked for with ``in`` in casefolded text.
_NOTICES = (
    "subscribe",
    "subscriber",
    "subscription",
    "sign in",
    "log in",
    "sign up",
    "register",
    "all rights reserved",
    "reprint",
    "first appeared",
    "first published",
    "originally published",
    "cookie",
    "javascript",
    "your browser",
    "ad blocker",
    "adblock",
    "abonn",
    "anmelden",
    "einloggen",
    "registrieren",
    "alle rechte vorbehalten",
    "nachdruck",
    "zuerst erschienen",
    "erstmals erschienen",
    "werbeblocker",
    "©",
)


def boilerplate_only(page: Extracted) -> bool:
    """Whether the page's text is only notices: short (under ``SHORT_WORDS`` words), and
    every block of it a subscription, sign-in, reprint, copyright, cookie or JavaScript
    notice."""
    if page.text.count(" ") + 1 >= SHORT_WORDS:
        return False
    blocks = [plain_text(block).casefold() for block in top_level_blocks(page.html)]
    blocks = [block for block in blocks if block]
    return bool(blocks) and all(any(n in block for n in _NOTICES) for block in blocks)


def unusable(page: Extracted | None) -> str | None:
    """Why the page's text cannot stand for the article, or None when it can."""
    if page is None or not page.text:
        return "no article text found on it"
    if boilerplate_only(page):
        shown = page.text if len(page.text) <= 60 else page.text[:59] + "…"
        return f"its text is only boilerplate (“{shown}”)"
    return None


def _unwrap_document(extracted: str) -> str:
    """trafilatura wraps its HTML in ``<html><body>…``; keep what is inside the body."""
    start = extracted.find("<body>")
    end = extracted.rfind("</body>")
    return extracted[start + 6 : end] if start >= 0 and end > start else extracted


# used with .match: one attempt, one pass over the text
_LEADING_HEADING = re.compile(r"^\s*<h[1-3][^>]*>(.*?)</h[1-3]>\s*", re.S)


def without_title(body: str, title: str) -> str:
    """``body`` without a leading heading that repeats the title (the thread title shows it)."""
    match = _LEADING_HEADING.match(body)
    if match and _normalized(plain_text(match.group(1))) == _normalized(title):
        return body[match.end() :]
    return body


_NOT_WORD = re.compile(r"\W+")  # each run is one match: linear


def _normalized(text: str) -> str:
    return _NOT_WORD.sub(" ", text).strip().casefold()


def prefer_page(entry: Entry, page: Extracted, mode: FulltextMode) -> str | None:
    """Why the page's text should replace the feed's, or None to keep the feed's
    (:func:`feed_kept` says why)."""
    use, why = _judge(entry, page, mode)
    return why if use else None


def feed_kept(entry: Entry, page: Extracted | None, mode: FulltextMode) -> str | None:
    """Why the feed's text stays instead of the page's, or None when the page's replaces it.
    A page without article text, or with only notices, never replaces it."""
    problem = unusable(page)
    if problem is not None or page is None:
        return problem
    use, why = _judge(entry, page, mode)
    return None if use else why


def _judge(entry: Entry, page: Extracted, mode: FulltextMode) -> tuple[bool, str]:
    feed_text = entry.plain
    if mode == "always":
        return True, "fulltext = always"
    if len(page.text) < max(1.3 * len(feed_text), len(feed_text) + 200):
        return False, (
            f"its text is not clearly longer than the feed's "
            f"({len(page.text):,} against {len(feed_text):,} characters)"
        )
    opening = _normalized(_TEASER_END.sub("", feed_text))[:80]
    if opening and opening not in _normalized(page.text):
        return False, "its text does not continue the feed's"
    return True, "the feed's text is a teaser of the article page"
