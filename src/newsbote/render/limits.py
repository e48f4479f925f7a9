"""Smart truncation: a post that fits its destination, cut between blocks or sentences,
never inside markup, always ending with the link to the article.

The cut is made on the HTML (whole top-level blocks, then the sentences of the
first block that does not fit) and the result is converted afterwards, so the
output is always well-formed in its markup: nothing is left open.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from newsbote.enrich.sanitize import plain_text
from newsbote.enrich.teaser import teaser_from_text
from newsbote.render.markup import convert, html_string
from newsbote.render.tree import BLOCK_TAGS, parse_fragment
from newsbote.types import Markup

Measure = Callable[[str], int]
MORE_CLASS = "newsbote-more"
ELLIPSIS = "<p>…</p>"
_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def mastodon_length(text: str) -> int:
    """Characters as Mastodon counts them: every link is 23."""
    return len(_URL.sub("x" * 23, text))


def top_level_blocks(fragment: str) -> list[str]:
    """The fragment as a list of top-level blocks; loose inline content is wrapped in ``<p>``."""
    root = parse_fragment(fragment)
    blocks: list[str] = []
    loose: list[str] = [html.escape(root.text)] if root.text and root.text.strip() else []

    def flush() -> None:
        joined = "".join(loose).strip()
        if joined:
            blocks.append(f"<p>{joined}</p>")
        loose.clear()

    for child in root:
        tag = child.tag if isinstance(child.tag, str) else ""
        tail, child.tail = child.tail, None
        if tag in BLOCK_TAGS:
            flush()
            blocks.append(html_string(child))
        elif tag:
            loose.append(html_string(child))
        if tail and tail.strip():
            loose.append(html.escape(tail))
    flush()
    return blocks


def fit(fragment: str, markup: Markup, limit: int | None, measure: Measure = len) -> str:
    """``fragment`` converted to ``markup`` in at most ``limit`` units of ``measure``."""
    full = convert(fragment, markup)
    if limit is None or measure(full) <= limit:
        return full
    blocks = top_level_blocks(fragment)
    link = blocks.pop() if blocks and MORE_CLASS in blocks[-1] else None
    tail = [ELLIPSIS] + ([link] if link else [])

    def build(parts: list[str]) -> str:
        return convert("".join(parts + tail), markup)

    if measure(build([])) > limit:
        return _only_link(link, markup, limit, measure)
    low, high = 0, len(blocks)
    while low < high:  # the most whole blocks that fit
        middle = (low + high + 1) // 2
        if measure(build(blocks[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    kept = blocks[:low]
    if low < len(blocks):
        partial = _partial(blocks[low], kept, build, limit, measure)
        if partial:
            kept.append(partial)
    return build(kept)


def _partial(
    block: str, kept: list[str], build: Callable[[list[str]], str], limit: int, measure: Measure
) -> str | None:
    """As much of ``block``'s text as fits, cut at a sentence (or word) boundary."""
    text = plain_text(block)
    room = limit - measure(build(kept))
    while room > 20:
        candidate = f"<p>{html.escape(teaser_from_text(text, room), quote=False)}</p>"
        overflow = measure(build([*kept, candidate])) - limit
        if overflow <= 0:
            return candidate
        room -= max(overflow, 10)
    return None


def _only_link(link: str | None, markup: Markup, limit: int, measure: Measure) -> str:
    converted = convert(link or "", markup)
    if measure(converted) <= limit:
        return converted
    return convert(f"<p>{html.escape(plain_text(link or ''))[: max(0, limit - 1)]}…</p>", markup)
