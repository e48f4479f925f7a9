"""Feed parsers: newsbote's reading and fastfeedparser against feedparser on the shared corpus.

All parse the same input per document: the bytes newsbote hands a parser (gzip
inflated, charset repaired, named HTML entities as characters, DOCTYPE stripped;
``newsbote.parse.decode``). Each parse is repeated until it has run for 50 ms (at most
200 times); the time is the mean. "newsbote" is ``newsbote.parse.read.read_xml``: the
pre-scan, fastfeedparser, the lxml supplement where the scan asks for it, and feedparser
for the documents the scan sends to it or fastfeedparser fails on (what replaced a bare
``fastfeedparser.parse``). feedparser runs as newsbote runs it (no sanitizing, no URI
resolution: newsbote does both itself), and with its defaults for comparison. A parse
"succeeds" as newsbote judges it: no exception, and entries or a feed title. Prints the
totals, the speed-ups on all and on large documents (≥ 100 KB), how often each parser
fails, and the documents newsbote reads with feedparser. "their set" is fastfeedparser's
own benchmark feeds (feeds/fastfeedparser/benchmark/).
Usage: python benchmarks/parsers.py [CORPUS_DIR]
"""

from __future__ import annotations

import csv
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastfeedparser
import feedparser

from newsbote.errors import ParseError
from newsbote.parse.decode import decode_text, prepare_xml
from newsbote.parse.read import read_xml

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FEED_FORMATS = ("rss", "atom", "rdf", "json-feed", "gzip+")
LARGE = 100_000
MIN_TIME, MAX_RUNS = 0.05, 200


@dataclass(frozen=True)
class Result:
    seconds: float
    ok: bool
    entries: int


@dataclass(frozen=True)
class Row:
    path: str
    size: int
    fast: Result
    slow: Result
    default: Result
    """feedparser with its defaults (sanitizing and resolving URIs itself)."""
    ours: Result
    """newsbote's reading (``read_xml``)."""
    parser: str
    """The parser ``read_xml`` chose."""


def timed(parse: Callable[[bytes], Any], document: bytes) -> Result:
    """The mean time of one parse, whether it succeeded, and how many entries it found."""
    try:
        raw = parse(document)
    except Exception:
        return Result(0.0, False, 0)
    ok = bool(raw.get("entries") or raw.get("feed", {}).get("title"))
    runs, start = 0, time.perf_counter()
    while runs < MAX_RUNS and (runs == 0 or time.perf_counter() - start < MIN_TIME):
        parse(document)
        runs += 1
    return Result((time.perf_counter() - start) / runs, ok, len(raw.get("entries") or []))


def with_newsbote(document: bytes) -> Any:
    return read_xml(document, "https://corpus.example/", "https://corpus.example/").raw


def chosen(document: bytes) -> str:
    try:
        return read_xml(document, "https://corpus.example/", "https://corpus.example/").parser
    except ParseError:
        return "none"


def with_feedparser(document: bytes) -> Any:
    return feedparser.parse(document, sanitize_html=False, resolve_relative_uris=False)


def feed_documents(corpus: Path) -> list[tuple[str, int, bytes]]:
    """(path, size, the bytes a parser gets) of every feed document in the manifest."""
    documents = []
    with (corpus / "manifest.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if not row["format"].startswith(FEED_FORMATS):
                continue
            body = (corpus / row["path"]).read_bytes()
            try:
                if "json" in row["format"]:
                    document = decode_text(body, row["path"]).encode("utf-8")
                else:
                    document = prepare_xml(body, row["path"])
            except ParseError:
                continue  # newsbote refuses it before any parser: not a parser's figure
            documents.append((row["path"], len(body), document))
    return documents


def main(corpus: Path) -> None:
    logging.disable(logging.CRITICAL)  # the parsers' own complaints about broken feeds
    warnings.simplefilter("ignore")
    documents = feed_documents(corpus)
    rows = [
        Row(
            path,
            size,
            timed(fastfeedparser.parse, document),
            timed(with_feedparser, document),
            timed(feedparser.parse, document),
            timed(with_newsbote, document),
            chosen(document),
        )
        for path, size, document in documents
        if "json" not in path  # read_xml reads XML; a JSON Feed is json.loads and a mapping
    ]
    both = [r for r in rows if r.fast.ok and r.slow.ok]
    large = [r for r in both if r.size >= LARGE]
    print(f"{len(rows)} feed documents from {corpus / 'manifest.tsv'}")
    # the feeds fastfeedparser's authors benchmark with (real captures of popular sites)
    theirs = [r for r in both if r.path.startswith("feeds/fastfeedparser/benchmark/")]
    for name, subset in (
        ("all", both),
        (f"≥ {LARGE // 1000} KB", large),
        ("their set", theirs),
    ):
        fast = sum(r.fast.seconds for r in subset)
        slow = sum(r.slow.seconds for r in subset)
        default = sum(r.default.seconds for r in subset)
        ours = sum(r.ours.seconds for r in subset)
        ratios = [r.slow.seconds / r.fast.seconds for r in subset if r.fast.seconds]
        our_ratios = [r.slow.seconds / r.ours.seconds for r in subset if r.ours.seconds]
        print(
            f"{name:<9} {len(subset):4d} documents both parse: fastfeedparser {fast * 1000:6.1f} ms,"
            f" feedparser {slow * 1000:7.1f} ms ({slow / fast:4.1f}x in all,"
            f" median {statistics.median(ratios):4.1f}x per document;"
            f" with its defaults {default * 1000:7.1f} ms, {default / fast:4.1f}x)"
        )
        print(
            f"{'':<9} newsbote's reading {ours * 1000:6.1f} ms: {slow / ours:4.1f}x faster than"
            f" feedparser (median {statistics.median(our_ratios):4.1f}x per document),"
            f" {default / ours:4.1f}x than feedparser with its defaults"
        )
    fallback = [r for r in rows if not r.fast.ok and r.slow.ok]
    neither = [r for r in rows if not r.fast.ok and not r.slow.ok]
    print(
        f"fastfeedparser fails {sum(not r.fast.ok for r in rows)}, feedparser fails "
        f"{sum(not r.slow.ok for r in rows)}; newsbote falls back to feedparser on "
        f"{len(fallback)}, neither parses {len(neither)} (a ParseError naming the source)"
    )
    differ = [r for r in both if r.fast.entries != r.slow.entries]
    print(f"entry counts differ on {len(differ)} of {len(both)} documents both parse")
    for r in sorted(both, key=lambda r: r.size, reverse=True)[:5]:
        print(
            f"  {r.path:<52} {r.size / 1000:7.0f} KB  {r.fast.seconds * 1000:7.2f} ms vs "
            f"{r.slow.seconds * 1000:8.2f} ms  {r.slow.seconds / r.fast.seconds:5.1f}x"
        )
    routed = [r for r in rows if r.parser == "feedparser"]
    print(
        f"newsbote reads {len(routed)} documents with feedparser"
        f" ({sum(r.size for r in routed) / 1000:.0f} KB of {sum(r.size for r in rows) / 1000:.0f} KB):"
    )
    for r in routed:
        print(f"  feedparser: {r.path}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
