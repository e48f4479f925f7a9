"""Find the line of a key in a TOML text, so errors can name it."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*\[(\[)?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]?\]\s*(#.*)?$")


def _headers(lines: Sequence[str]) -> list[tuple[int, str, bool]]:
    found = []
    for number, line in enumerate(lines, start=1):
        match = _HEADER.match(line)
        if match:
            found.append(
                (number, match.group(2).replace('"', "").replace("'", ""), bool(match.group(1)))
            )
    return found


def locate(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of ``loc`` (a pydantic error location) in ``text``, if found.

    Handles top-level keys, ``[table]`` keys and ``[[array]]`` entries by index;
    falls back to the nearest enclosing header when the key itself is absent.
    """
    lines = text.splitlines()
    headers = _headers(lines)
    path = list(loc)
    start, end = 1, len(lines)
    best: int | None = None
    if path and isinstance(path[0], str):
        table = path[0]
        if len(path) >= 2 and isinstance(path[1], int):
            matches = [h for h in headers if h[1] == table and h[2]]
            if len(matches) > path[1]:
                start = matches[path[1]][0]
                best = start
                later = [h[0] for h in headers if h[0] > start]
                end = later[0] - 1 if later else len(lines)
                path = path[2:]
            else:
                path = [table]
        else:
            matches = [h for h in headers if h[1] == table and not h[2]]
            if matches:
                start = matches[0][0]
                best = start
                later = [h[0] for h in headers if h[0] > start]
                end = later[0] - 1 if later else len(lines)
                path = path[1:]
            else:
                first = headers[0][0] - 1 if headers else len(lines)
                end = first
    key = next((p for p in path if isinstance(p, str)), None)
    if key is not None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, end + 1):
            if pattern.match(lines[number - 1]):
                return number
    return best
