"""Full-text fidelity: newsbote's article extraction on the trafilatura evaluation pages.

For every page in ../shared/corpus/articles/trafilatura-eval/ (gold.json: snippets
that must appear and boilerplate that must not), prints segment precision,
recall and F-score, as trafilatura's own evaluation counts them.
Usage: python benchmarks/fidelity.py [CORPUS_DIR]
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from newsbote.enrich.fulltext import extract_article

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles" / "trafilatura-eval"
)


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


def evaluate(directory: Path) -> Score:
    gold = json.loads((directory / "gold.json").read_text(encoding="utf-8"))
    tp = fp = fn = 0
    for entry in gold.values():
        page = (directory / entry["file"]).read_bytes()
        extracted = extract_article(page, "https://example.org/article")
        text = _normalized(extracted.text if extracted else "")
        for snippet in entry["with"]:
            if _normalized(snippet) in text:
                tp += 1
            else:
                fn += 1
        fp += sum(1 for snippet in entry["without"] if _normalized(snippet) in text)
    return Score(tp, fp, fn, len(gold))


if __name__ == "__main__":
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    started = time.perf_counter()
    score = evaluate(directory)
    elapsed = time.perf_counter() - started
    print(
        f"{score.documents} pages: precision {score.precision:.3f}  recall {score.recall:.3f}  "
        f"F {score.f_score:.3f}  ({elapsed:.1f} s, {elapsed / score.documents * 1000:.0f} ms/page)"
    )
