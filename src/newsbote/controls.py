"""Terminal escape sequences and control characters in text from outside.

A ground-floor module (it imports nothing of newsbote): the sanitizer takes them out of
every entry that goes on, and the command line out of everything it prints.
"""

from __future__ import annotations

import re

__all__ = ["ESCAPE_SEQUENCE", "without_controls"]

# Escape sequences are removed whole (CSI, OSC, and ESC with one character), so no
# "[31m" is left behind. No pattern backtracks: each part is a run of one character class.
ESCAPE_SEQUENCE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]?|\][^\x07\x1b]*(?:\x07|\x1b\\)?|.?)", re.DOTALL
)
# C0 controls but tab, newline and carriage return; DEL; the two noncharacters XML
# refuses. One character class: a linear search.
_CONTROL = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\ufffe\\uffff]")


def without_controls(text: str) -> str:
    """``text`` without escape sequences and the control characters no document may carry
    (the same object when it has none, the common case)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))
