"""Full text: when a feed carries only a teaser, the article page's main text instead.

Extraction is trafilatura's (the best published scores among Python
extractors); its HTML is sanitized like feed HTML. ``auto`` fetches the page
only for entries that look like teasers and keeps the feed's text unless the
page's text is clearly longer and continues it.
"""

from __future__ import annotations

import logging
import re
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
"""The largest article page given to the extractor: its three passes cost about 45 s of
CPU per MB of HTML (a 5 MB page took 230 s); a bigger page keeps the feed's text."""
MAX_TAIL_BLOCKS = 64
"""The most trailing blocks :func:`_without_tail` drops: each costs a search of the whole
text, and an extraction where more differ is not one whose tail to trust."""
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
    """Main text (paragraphs, headings, lists, quotes, links, images) of an article page.

    Three passes of trafilatura over the same page: the default extraction gives
    the text; trailing blocks that its precision mode rejects (related links,
    "more on this" lists, captions of the next teaser) are cut; the images come
    from an extraction that keeps them, each placed after the text it followed
    there (extracting with images keeps their captions and credits too, which
    are mostly noise). Measured on the 160 gold pages: see benchmarks/fidelity.py.
    """
    import trafilatura  # 29 MB: imported when a page is first extracted, not at start-up

    # Bytes only: trafilatura never fetches, but htmldate (its date finder) fetches a
    # string that starts with "http" when it is handed one instead of a tree.
    if isinstance(page, str):
        page = page.encode("utf-8", errors="replace")
    if page_too_large(len(page)):
        return None

    def extract(*, include_images: bool, favor_precision: bool = False) -> str:
        extracted = trafilatura.extract(
            page,
            url=url,
            output_format="html",
            include_links=True,
            include_images=include_images,
            include_comments=False,
            include_tables=True,
            favor_precision=favor_precision,
            config=_config(),
        )
        return _unwrap_document(extracted) if extracted else ""

    try:
        text = extract(include_images=False)
        if not text:
            return None
        strict = extract(include_images=False, favor_precision=True)
        pictured = extract(include_images=True)
        metadata = trafilatura.extract_metadata(page, default_url=url)
    except Exception as exc:
        log.info("extract url=%s failed: %s", url, exc)
        return None
    blocks = _without_tail(top_level_blocks(text), _words(plain_text(strict)))
    body = sanitize_html(_with_images(blocks, top_level_blocks(pictured)), url)
    image = urljoin(url, metadata.image) if metadata is not None and metadata.image else None
    if image and is_tracking_pixel(image):
        image = None
    return Extracted(html=body, text=plain_text(body), image=image)


def _words(text: str) -> str:
    """Visible text for comparisons: whitespace collapsed, soft hyphens gone."""
    return " ".join(text.replace("\xad", "").split())


def _without_tail(blocks: list[str], strict: str) -> list[str]:
    """``blocks`` without trailing ones the precision-minded extraction left out."""
    kept = list(blocks)
    while kept and len(kept) > len(blocks) - MAX_TAIL_BLOCKS:
        last = _words(plain_text(kept[-1]))
        if not last or last in strict:
            break
        kept.pop()
    return kept


# On lxml's output (trafilatura's), where every "<" opens a tag closed by ">": an
# attempt scans one tag.
_IMG = re.compile(r"<img\b[^>]*>", re.I)


def _with_images(blocks: list[str], pictured: list[str]) -> str:
    """``blocks`` with the images of ``pictured`` (the same article extracted with its
    images) put back, each after the block whose text it followed. Images after the
    article's last block and some text it does not have (related links, teasers)
    are left out with that text.
    """
    index = {_words(plain_text(block)): i for i, block in enumerate(blocks)}
    last = len(blocks) - 1
    after: dict[int, list[str]] = {}
    anchor, beyond = -1, False
    for block in pictured:
        words = _words(plain_text(block))
        found = index.get(words)
        if found is not None:
            anchor, beyond = found, False
        elif words and anchor == last:
            beyond = True  # past the end of the article
        images = _IMG.findall(block)
        if images and not beyond:
            after.setdefault(anchor, []).extend(images)
    parts = [f"<p>{img}</p>" for img in after.get(-1, [])]
    for i, block in enumerate(blocks):
        parts.append(block)
        parts += [f"<p>{img}</p>" for img in after.get(i, [])]
    return "".join(parts)


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
    """Why the page's text should replace the feed's, or None to keep the feed's."""
    feed_text = entry.plain
    if mode == "always":
        return "fulltext = always"
    if len(page.text) < max(1.3 * len(feed_text), len(feed_text) + 200):
        return None
    opening = _normalized(_TEASER_END.sub("", feed_text))[:80]
    if opening and opening not in _normalized(page.text):
        return None
    return "the feed's text is a teaser of the article page"
