"""Full-text fidelity: newsbote's article extraction beside plain trafilatura, same run.

Two page sets of ``../shared/corpus/articles/``:

* ``trafilatura-eval/`` (160 pages; gold.json: for each page about three snippets of the
  article, "with", and three of its boilerplate, "without", chosen by hand);
* ``readability-testpages/`` (38 pages; ``expected.html`` is what Readability.js keeps:
  a reference, not human gold).

Two metrics:

* **segment** precision, recall and F (trafilatura-eval only), as trafilatura's own
  evaluation counts them: a snippet counts when it is in the extracted visible text;
* **word 4-gram shingles**, as scrapinghub's article-extraction-benchmark counts them:
  tokens are ``\\w+`` runs (case kept; invisible soft hyphens and zero-width characters
  removed first, as the segment metric does), a document's shingles are the multiset of its
  4-token windows, per document precision = matched / predicted and recall = matched /
  gold; both are averaged over the documents (precision over those with some predicted
  text that is judged, recall over those with gold text) and F1 is of the two averages.

What counts as gold text for the shingles:

* readability-testpages: the visible text of ``expected.html``. Both precision and recall
  are defined, but against another extractor's choices (captions, bylines and headers it
  keeps count as missed when an extractor drops them).
* trafilatura-eval: the "with" snippets, each one shingled on its own (joining them would
  invent shingles across their seams). The gold marks about 20 words of article and 20 of
  boilerplate per page and leaves the rest of the page unjudged, so precision counts only
  judged shingles: a predicted shingle in a "with" snippet is a hit, one in a "without"
  snippet is a false positive, any other is neither. Counting the unjudged text as false
  would put every extractor's precision near 0.1 and measure only the article's length.

Split: the extraction is tuned on trafilatura-eval (``TUNED``); readability-testpages
(``HELD_OUT``) is not looked at while tuning, and its figures are the unbiased ones.

Extractors: newsbote's ``extract_article``; its first trafilatura pass alone (the same
options, sanitized the same way, without the later passes); trafilatura ``extract`` with
its defaults; and with ``favor_precision=True``. Each page goes through all four in turn,
so that the machine's load falls alike on each; times are the mean per page (of each
page's shortest run, with ``--repeat``).
Usage: python benchmarks/fidelity.py [--pages] [--repeat N] [ARTICLES_DIR]
  --pages   also list the pages where newsbote's later passes win or lose against its first
            pass (shingle F1)
  --repeat  time each page's extraction N times and keep the shortest (default 1)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsbote.enrich.fulltext import extract_article
from newsbote.enrich.sanitize import plain_text, sanitize_html

ARTICLES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles"
DEFAULT = ARTICLES / "trafilatura-eval"
TUNED = "trafilatura-eval"
HELD_OUT = "readability-testpages"
URL = "https://example.org/article"
NGRAM = 4

Extractor = Callable[[bytes, str], str]


# --- segments (trafilatura's evaluation) ---------------------------------------------------


@dataclass(frozen=True)
class Score:
    true_positives: int
    false_positives: int
    false_negatives: int
    documents: int

    @property
    def precision(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return self.true_positives / max(1, self.true_positives + self.false_negatives)

    @property
    def f_score(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _normalized(text: str) -> str:
    """Visible text: whitespace collapsed, soft hyphens (U+00AD, invisible) removed."""
    return " ".join(text.replace("\xad", "").split())


def segment_counts(text: str, with_: list[str], without: list[str]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one page's snippets."""
    text = _normalized(text)
    tp = sum(1 for snippet in with_ if _normalized(snippet) in text)
    fp = sum(1 for snippet in without if _normalized(snippet) in text)
    return tp, fp, len(with_) - tp


def newsbote_text(page: bytes, url: str) -> str:
    extracted = extract_article(page, url)
    return extracted.text if extracted else ""


def evaluate(directory: Path, extractor: Extractor = newsbote_text) -> Score:
    """Segment score of ``extractor`` on the trafilatura evaluation pages in ``directory``."""
    gold = json.loads((directory / "gold.json").read_text(encoding="utf-8"))
    tp = fp = fn = 0
    for entry in gold.values():
        text = extractor((directory / entry["file"]).read_bytes(), URL)
        counts = segment_counts(text, entry["with"], entry["without"])
        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
    return Score(tp, fp, fn, len(gold))


# --- word shingles (scrapinghub's article-extraction-benchmark) -----------------------------

_TOKEN = re.compile(r"\w+")  # one character class, repeated: linear
# invisible characters that break a word for ``\w`` but not for the reader: soft hyphen,
# zero-width space, joiners, word joiner, byte order mark
_INVISIBLE = dict.fromkeys(map(ord, "\xad\u200b\u200c\u200d\u2060\ufeff"))


def shingles(text: str, n: int = NGRAM) -> Counter[tuple[str, ...]]:
    """The multiset of ``text``'s word n-grams (a text under n words is one shorter shingle)."""
    tokens = _TOKEN.findall(text.translate(_INVISIBLE))
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)))


@dataclass(frozen=True)
class Gold:
    """What a page's extracted text is judged against."""

    text: Counter[tuple[str, ...]]
    """Shingles of the article: predicted ones found here are hits, missing ones misses."""
    noise: Counter[tuple[str, ...]] | None = None
    """Judged boilerplate; None when every predicted shingle outside ``text`` is false."""
    with_: tuple[str, ...] = ()
    without: tuple[str, ...] = ()


def shingle_counts(gold: Gold, text: str) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of ``text``'s shingles.

    A gold snippet under four words is one shorter shingle: it is looked for among the
    text's n-grams of its own length."""
    predicted: Counter[tuple[str, ...]] = Counter()
    if text.strip():
        judged = gold.text + gold.noise if gold.noise is not None else gold.text
        for n in {len(shingle) for shingle in judged} | {NGRAM}:
            predicted.update(shingles(text, n))
    tp = sum((predicted & gold.text).values())
    fn = sum((gold.text - predicted).values())
    extra = predicted - gold.text
    if gold.noise is not None:
        fp = sum((extra & gold.noise).values())
    else:
        fp = sum(count for shingle, count in extra.items() if len(shingle) == NGRAM)
    return tp, fp, fn


def _ratio(part: int, other: int) -> float:
    return part / (part + other)


@dataclass
class Tally:
    """One extractor on one page set."""

    counts: list[tuple[int, int, int]] = field(default_factory=list)
    segments: list[tuple[int, int, int]] = field(default_factory=list)
    seconds: float = 0.0
    empty: int = 0

    @property
    def precision(self) -> float:
        judged = [_ratio(tp, fp) for tp, fp, _ in self.counts if tp + fp]
        return sum(judged) / max(1, len(judged))

    @property
    def recall(self) -> float:
        judged = [_ratio(tp, fn) for tp, _, fn in self.counts if tp + fn]
        return sum(judged) / max(1, len(judged))

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def segment(self) -> Score | None:
        if not self.segments:
            return None
        tp, fp, fn = (sum(column) for column in zip(*self.segments, strict=True))
        return Score(tp, fp, fn, len(self.segments))

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.seconds / max(1, len(self.counts))


def page_f1(counts: tuple[int, int, int]) -> float:
    tp, fp, fn = counts
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# --- the page sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    name: str
    html: bytes
    gold: Gold


def pages(articles: Path, name: str) -> Iterator[Page]:
    """The pages of one set, each with its gold."""
    directory = articles / name
    if name == TUNED:
        entries = json.loads((directory / "gold.json").read_text(encoding="utf-8"))
        for key, entry in entries.items():
            with_, without = entry["with"], entry["without"]
            gold = Gold(
                text=sum((shingles(s) for s in with_), Counter()),
                noise=sum((shingles(s) for s in without), Counter()),
                with_=tuple(with_),
                without=tuple(without),
            )
            yield Page(key, (directory / entry["file"]).read_bytes(), gold)
    else:
        for folder in sorted(p for p in directory.iterdir() if (p / "expected.html").is_file()):
            reference = plain_text((folder / "expected.html").read_text(encoding="utf-8"))
            yield Page(
                folder.name, (folder / "source.html").read_bytes(), Gold(shingles(reference))
            )


# --- the extractors --------------------------------------------------------------------------


def _trafilatura(**options: Any) -> Extractor:
    import trafilatura

    from newsbote.enrich.fulltext import _config

    def extract(page: bytes, url: str) -> str:
        return trafilatura.extract(page, url=url, config=_config(), **options) or ""

    return extract


def _first_pass() -> Extractor:
    """newsbote's first pass alone: its options, its sanitizing, none of its later passes."""
    html = _trafilatura(
        output_format="html",
        include_links=True,
        include_images=False,
        include_comments=False,
        include_tables=True,
    )

    def extract(page: bytes, url: str) -> str:
        body = html(page, url)
        start, end = body.find("<body>"), body.rfind("</body>")
        body = body[start + 6 : end] if start >= 0 and end > start else body
        return plain_text(sanitize_html(body, url)) if body else ""

    return extract


def extractors() -> dict[str, Extractor]:
    return {
        "newsbote extract_article": newsbote_text,
        "its first pass alone": _first_pass(),
        "trafilatura defaults": _trafilatura(),
        "trafilatura favor_precision": _trafilatura(favor_precision=True),
    }


@dataclass
class Run:
    """Every extractor on every page of one set, and each page's text."""

    tallies: dict[str, Tally]
    texts: dict[str, dict[str, str]]  # page → extractor → text
    golds: dict[str, Gold]


def run(
    articles: Path, name: str, chosen: dict[str, Extractor] | None = None, repeat: int = 1
) -> Run:
    """``chosen`` (all four by default) on every page of set ``name``; a page's time is the
    shortest of ``repeat`` runs (the machine's other load only ever adds time)."""
    chosen = chosen if chosen is not None else extractors()
    result = Run({e: Tally() for e in chosen}, {}, {})
    for page in pages(articles, name):
        result.golds[page.name] = page.gold
        texts = result.texts.setdefault(page.name, {})
        for extractor, extract in chosen.items():
            tally = result.tallies[extractor]
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                text = extract(page.html, URL)
                best = min(best, time.perf_counter() - started)
            tally.seconds += best
            texts[extractor] = text
            tally.empty += not text.strip()
            tally.counts.append(shingle_counts(page.gold, text))
            if page.gold.noise is not None:
                tally.segments.append(
                    segment_counts(text, list(page.gold.with_), list(page.gold.without))
                )
    return result


# --- the report ------------------------------------------------------------------------------


def table(name: str, result: Run) -> str:
    pages_ = len(result.golds)
    lines = [
        f"{name} ({pages_} pages{', tuned on' if name == TUNED else ', held out'})",
        "| extractor | segment F | shingle P | shingle R | shingle F1 | empty | ms/page |",
        "|---|---|---|---|---|---|---|",
    ]
    for extractor, tally in result.tallies.items():
        segment = tally.segment
        lines.append(
            f"| {extractor} | {f'{segment.f_score:.3f}' if segment else '–'} "
            f"| {tally.precision:.3f} | {tally.recall:.3f} | {tally.f1:.3f} "
            f"| {tally.empty} | {tally.ms_per_page:.0f} |"
        )
    return "\n".join(lines)


def differences(result: Run, ours: str, base: str, margin: float = 0.01) -> list[str]:
    """Pages where ``ours`` and ``base`` differ by more than ``margin`` of shingle F1."""
    found = []
    for page, texts in result.texts.items():
        gold = result.golds[page]
        mine, theirs = (
            page_f1(shingle_counts(gold, texts[ours])),
            page_f1(shingle_counts(gold, texts[base])),
        )
        if abs(mine - theirs) > margin:
            words, base_words = len(texts[ours].split()), len(texts[base].split())
            found.append(
                f"  {'lost' if mine < theirs else 'won'} {page}: F1 {mine:.2f} against "
                f"{theirs:.2f}, {words} of {base_words} words ({words / max(1, base_words):.0%})"
            )
    return sorted(found)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="Full-text fidelity on the shared corpus.")
    parser.add_argument("articles", nargs="?", type=Path, default=ARTICLES)
    parser.add_argument("--pages", action="store_true", help="list the pages the passes change")
    parser.add_argument("--repeat", type=int, default=1, help="runs per page; the shortest counts")
    args = parser.parse_args(argv)
    for name in (TUNED, HELD_OUT):
        result = run(args.articles, name, repeat=args.repeat)
        print(table(name, result))
        if args.pages:
            changed = differences(result, "newsbote extract_article", "its first pass alone")
            print(f"pages where newsbote's later passes change shingle F1: {len(changed)}")
            print("\n".join(changed))
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
