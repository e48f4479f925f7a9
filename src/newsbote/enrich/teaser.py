"""Teasers: the start of an article, cut at a sentence boundary, never inside a word."""

from __future__ import annotations

import re

from newsbote.enrich.sanitize import plain_text

# Abbreviations after which a period does not end a sentence (German and English).
_ABBREVIATIONS = {
    "z.b", "d.h", "u.a", "bzw", "ca", "dr", "nr", "prof", "s", "vgl", "usw", "etc", "evtl",
    "ggf", "inkl", "mio", "mrd", "str", "u.ä", "o.ä", "z.t", "mr", "mrs", "ms", "vs", "e.g",
    "i.e", "jr", "sr", "st", "no", "jan", "feb", "mar", "apr", "aug", "sep", "sept", "oct",
    "okt", "nov", "dec", "dez",
}  # fmt: skip
_WINDOW = 64
# bounded: a mark and the closing quotes or brackets after it, searched in the first
# ``limit`` characters only
_BOUNDARY = re.compile(r"[.!?…](?:[\"'»«”“)\]]*)(?=\s+|$)")


def _ends_sentence(text: str, mark_at: int, after: int) -> bool:
    """Whether the punctuation at ``mark_at`` closes a sentence (``after``: just past it)."""
    if text[mark_at] != ".":
        return True
    # Only the text around the mark is read (a copy of the rest, at each mark, would make
    # a long text of "…" or "." cost its length times the number of marks). A word longer
    # than the window is neither an abbreviation nor a lone letter, cut or not.
    words = text[max(0, mark_at - _WINDOW) : mark_at].split()
    word = words[-1].lower() if words else ""
    if word in _ABBREVIATIONS or word.replace(".", "").isdigit():
        return False
    # "z. B." and "u. a.": a lone letter before the period is an abbreviation
    if len(word) == 1 and word.isalpha():
        return False
    following = text[after : after + _WINDOW].lstrip()[:1]
    return not (following.islower() or following.isdigit())


def make_teaser(content_html: str, limit: int = 400) -> str:
    """Plain text of at most ``limit`` characters ending at a sentence boundary.

    Falls back to a word boundary plus an ellipsis when no sentence ends early enough.
    """
    return teaser_from_text(plain_text(content_html), limit)


def teaser_from_text(text: str, limit: int = 400) -> str:
    """:func:`make_teaser` for text that is already plain."""
    if len(text) <= limit:
        return text
    best = 0
    for match in _BOUNDARY.finditer(text, 0, limit + 1):
        if match.end() <= limit and _ends_sentence(text, match.start(), match.end()):
            best = match.end()
    if best >= limit // 3:
        return text[:best].rstrip()
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip(" ,;:-") + " …"
