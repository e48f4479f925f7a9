"""Entry fields fastfeedparser leaves raw: an author's name, enclosures, its own excerpts.

Used by :mod:`newsbote.parse.feed` on either parser's reading.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from newsbote.enrich.sanitize import is_tracking_pixel
from newsbote.types import Enclosure
from newsbote.urls import web_url

EXCERPT = 512
"""fastfeedparser's description of an entry without one: its content's first 512 characters."""


def author_name(name: str) -> str | None:
    """The name of an RSS ``<author>`` written ``email (Name)`` or ``Name (email)``."""
    if not name.endswith(")") or "(" not in name:
        return name or None
    before, _, inside = name[:-1].rpartition("(")
    before, inside = before.strip(), inside.strip()
    if "@" in before and " " not in before and inside:
        return inside
    if "@" in inside and " " not in inside and before:
        return before
    return name


def media_description(entry: Mapping[str, Any]) -> str | None:
    """A media:group's description (YouTube's only text), as fastfeedparser files it."""
    for media in entry.get("media_content") or []:
        if isinstance(media, Mapping) and media.get("description"):
            return html.escape(str(media["description"])).replace("\n", "<br>")
    return None


def is_excerpt(summary: str, text: str) -> bool:
    """Whether fastfeedparser made ``summary`` of the content's ``text`` (for an entry
    without one, it takes the first 512 characters of the content's text, or all of it)."""
    if len(summary) > EXCERPT or "<" in summary:
        return False
    letters = "".join(summary.split())
    if len(summary) < EXCERPT - 1:  # shorter than a cut (stripped of its last space)
        return letters == "".join(text.split())
    return bool(letters) and "".join(text[: EXCERPT * 2].split()).startswith(letters)


def enclosures(
    entry: Mapping[str, Any],
    atom_links: Sequence[tuple[str, str, str]],
    absolute: Callable[[str], str | None],
) -> tuple[Enclosure, ...]:
    """RSS ``<enclosure>``, Atom ``rel="enclosure"`` links (with their length, from the
    supplement), JSON Feed attachments; each URL absolute and passed by ``web_url``."""
    found: list[tuple[Any, Any, Any]] = [
        (e.get("url") or e.get("href"), e.get("type"), e.get("length"))
        for e in entry.get("enclosures") or []
        if isinstance(e, Mapping)
    ]
    if atom_links:
        found += atom_links
    elif not found:
        found += [
            (link.get("href"), link.get("type"), link.get("length"))
            for link in entry.get("links") or []
            if isinstance(link, Mapping) and link.get("rel") == "enclosure"
        ]
    files = []
    for target, kind, length in found:
        url = web_url(absolute(str(target))) if target else None
        if url:
            size = str("" if length is None else length).strip()
            files.append(
                Enclosure(url, str(kind or "").strip(), int(size) if size.isdigit() else None)
            )
    return tuple(files)


def cover(files: Iterable[Enclosure], itunes_image: str | None) -> str | None:
    """An image enclosure, else a podcast episode's ``itunes:image``."""
    for enclosure in files:
        if enclosure.type.startswith("image/") and not is_tracking_pixel(enclosure.url):
            return enclosure.url
    return itunes_image
