"""Which parser reads an XML feed document, and what it reads.

fastfeedparser reads (about 30x faster than feedparser); :func:`newsbote.parse.extra.scan`
sends the few documents it would misread to feedparser, and :func:`supplement` completes
what it half-reads. feedparser also takes over where fastfeedparser fails or finds nothing
(it recovers more broken documents). ``benchmarks/parsers.py`` times :func:`read_xml`
against feedparser alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fastfeedparser

from newsbote.errors import ParseError
from newsbote.parse.budget import Budget
from newsbote.parse.extra import Extra, scan, supplement

log = logging.getLogger("newsbote.parse")


@dataclass(frozen=True, slots=True)
class Read:
    """A parser's reading of a document, with what the supplement adds per entry."""

    raw: Mapping[str, Any]
    parser: str
    extras: Sequence[Extra] | None = None
    language: str | None = None
    base: str | None = None
    """The root element's xml:base (relative to the document's base), if the scan found one."""


def read_xml(document: bytes, url: str, base: str, budget: Budget | None = None) -> Read:
    """Read a prepared document (:func:`newsbote.parse.decode.prepare_xml`); raises
    :class:`ParseError` naming ``url`` when neither parser finds a feed in it."""
    fast_error: Exception | None = None
    seen = scan(document)
    if seen.misread is None:
        try:
            raw = fastfeedparser.parse(document)
            entries = raw.get("entries") or []
            if entries or raw.get("feed", {}).get("title"):
                extras = _extras(document, base, entries, seen.supplement)
                return Read(raw, "fastfeedparser", extras, seen.language, seen.base)
        except ParseError:
            raise
        except Exception as exc:
            fast_error = exc
    else:
        log.debug("read with feedparser url=%s because=%s", url, seen.misread)
    if budget is not None:
        budget.check("parsing the feed")
    raw = _with_feedparser(document, url, fast_error)
    return Read(raw, "feedparser", None, seen.language, seen.base)


def _extras(
    document: bytes, base: str, entries: Sequence[Mapping[str, Any]], needed: bool
) -> Sequence[Extra] | None:
    """:func:`supplement` when the scan or fastfeedparser's reading shows it has to add."""
    if not needed:
        needed = any(
            isinstance(link, Mapping) and link.get("rel") == "enclosure"
            for entry in entries
            for link in entry.get("links") or ()
        )
    return supplement(document, base, len(entries)) if needed else None


def _with_feedparser(document: bytes, url: str, fast_error: Exception | None) -> Any:
    import feedparser  # imported (12 MB) only when a feed needs it

    raw = feedparser.parse(document, sanitize_html=False, resolve_relative_uris=False)
    if not raw.get("version", "") and not raw.get("entries"):
        reason = raw.get("bozo_exception") or fast_error or "no feed elements found"
        raise ParseError(url, f"not an RSS, Atom or JSON feed ({short(reason)})")
    log.debug("parsed with feedparser url=%s fast_error=%s", url, short(fast_error))
    return raw


def short(reason: object) -> str:
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return text[:200]
