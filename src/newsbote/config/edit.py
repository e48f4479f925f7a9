"""Edit ``newsbote.toml`` in place with tomlkit, keeping comments and layout."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import tomlkit

from newsbote.errors import ConfigError


def _document(path: Path) -> tomlkit.TOMLDocument:
    import tomlkit  # 4.5 MB: loaded only when the config file is edited

    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "config file not found", file=str(path), hint="run 'newsbote init'"
        ) from None
    except Exception as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc


def _sources(document: tomlkit.TOMLDocument) -> Any:
    import tomlkit
    from tomlkit.items import AoT

    sources = document.get("sources")
    if sources is not None and not isinstance(sources, AoT) and len(sources) == 0:
        del document["sources"]  # the last source was removed; tomlkit keeps an empty array
        sources = None
    if sources is None:
        sources = tomlkit.aot()
        document.append("sources", sources)
    if not isinstance(sources, AoT):
        raise ConfigError("'sources' must be an array of tables ([[sources]])")
    return sources


NAME_CHARS = 60
"""The longest source name taken from a title (an OPML outline's, written by anyone)."""


def name_for(url: str, taken: set[str], title: str | None = None) -> str:
    """A short unique source name: ``title`` where it has printable text (an OPML
    outline's), else the URL's host without ``www.``; then a counter."""
    base = _title_name(title or "")
    if not base:
        parts = urlsplit(url)
        base = (parts.hostname or Path(parts.path).stem or "source").removeprefix("www.")
        base = re.sub(r"[^a-z0-9.-]+", "-", base.lower()).strip("-") or "source"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}-{counter}", counter + 1
    return name


def _title_name(title: str) -> str:
    """A title as a one-line name: printable characters only, spaces collapsed, cut."""
    printable = "".join(char if char.isprintable() else " " for char in title)
    return " ".join(printable.split())[:NAME_CHARS].strip()


@dataclass(frozen=True, slots=True)
class NewSource:
    """A source to add: its URL, and what else its ``[[sources]]`` block says."""

    url: str
    name: str | None = None
    interval: str | None = None
    first_run: int | str | None = None
    title: str | None = None
    """The name to derive one from where ``name`` is not given (an OPML outline's title)."""


def add_source(
    path: Path,
    url: str,
    *,
    name: str | None = None,
    interval: str | None = None,
    first_run: int | str | None = None,
) -> str:
    """Append a ``[[sources]]`` block for ``url``; return its name. Refuses duplicates."""
    (chosen,) = add_sources(path, [NewSource(url, name, interval, first_run)])
    return chosen


def add_sources(path: Path, new: Sequence[NewSource], *, skip_known: bool = False) -> list[str]:
    """Append a ``[[sources]]`` block for each, in one edit of the file; return their names.

    A URL that is configured already (or comes twice) is refused, or with ``skip_known``
    passed over. One parse and one write for all: an OPML file of 1,000 feeds is one edit,
    not 1,000.
    """
    import tomlkit

    document = _document(path)
    before = tomlkit.dumps(document)
    sources = _sources(document)
    taken = {str(t.get("name")) for t in sources}
    known = {str(t.get("url")): str(t.get("name")) for t in sources}
    added: list[str] = []
    blocks: list[str] = []
    for source in new:
        if source.url in known:
            if skip_known:
                continue
            raise ConfigError(
                f"source {source.url!r} is already configured as {known[source.url]!r}",
                file=str(path),
            )
        if source.name is not None and source.name in taken:
            raise ConfigError(f"a source named {source.name!r} exists already", file=str(path))
        chosen = source.name or name_for(source.url, taken, source.title)
        table = tomlkit.table()
        table.add("name", chosen)
        table.add("url", source.url)
        if source.interval is not None:
            table.add("interval", source.interval)
        if source.first_run is not None:
            table.add("first_run", source.first_run)
        sources.append(table)
        blocks.append(tomlkit.dumps({"sources": [table]}))
        taken.add(chosen)
        known[source.url] = chosen
        added.append(chosen)
    if added:
        placed = _placed(before, blocks)
        _save(path, placed if _same(placed, document) else tomlkit.dumps(document))
    return added


_HEADER = re.compile(r"\[\[?\s*([^\]\s]*)\s*\]")
"""A table header at the start of a line: ``[name]`` or ``[[name]]`` (one line of the
operator's own file)."""


def _placed(text: str, blocks: Sequence[str]) -> str:
    """``text`` with the ``[[sources]]`` ``blocks`` written where a reader looks for them:
    after the last source, before the comments that open the next block, with a blank
    line between blocks; in a file without sources, before the destinations (and
    their comments). tomlkit appends a table after the comments that belong to the
    next one, without a blank line."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    headers = [(i, m.group(1)) for i, line in enumerate(lines) if (m := _HEADER.match(line))]
    own = [i for i, name in headers if name == "sources"]
    joined = "\n".join(blocks)
    if own:
        following = [i for i, _ in headers if i > own[-1]]
        end = following[0] if following else len(lines)
        while end > own[-1] + 1 and _is_blank_or_comment(lines[end - 1]):
            end -= 1
        return "".join([*lines[:end], "\n", joined, *lines[end:]])
    later = [i for i, name in headers if name in ("destinations", "routes")]
    if not later:
        return "".join([*lines, "\n" if lines else "", joined])
    start = later[0]
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    gap = "" if start == 0 or not lines[start - 1].strip() else "\n"
    return "".join([*lines[:start], gap, joined, "\n", *lines[start:]])


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _same(text: str, document: tomlkit.TOMLDocument) -> bool:
    """Whether ``text`` holds the same values as the edited ``document`` (a header
    look-alike inside a multi-line string would misplace a block: then tomlkit's own
    placement is used)."""
    import tomlkit

    try:
        return bool(tomlkit.parse(text).unwrap() == document.unwrap())
    except Exception:
        return False


def _save(path: Path, text: str) -> None:
    """Write the edited config, if it is valid: a refused edit leaves the file byte for
    byte as it was (a bad block written first made every later command fail)."""
    from newsbote.config.load import parse_config

    try:
        parse_config(text, path)
    except ConfigError as exc:
        hint = "; ".join(part for part in (exc.hint, "the file is left unchanged") if part)
        # no line: it would be a line of the edit, not of the file
        raise ConfigError(exc.message, file=str(path), key=exc.key, hint=hint) from None
    _write(path, text)


def _write(path: Path, text: str) -> None:
    """Replace the file at once (a crash leaves the old file or the new, never half of
    one), keeping its permissions (a config file may hold tokens); where the path is a
    symbolic link, the file it points to is replaced and the link stays."""
    target = path.resolve()
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        shutil.copymode(target, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def remove_source(path: Path, url_or_name: str) -> str:
    """Remove the source with that URL or name; return its name."""
    import tomlkit

    document = _document(path)
    sources = _sources(document)
    for index, table in enumerate(sources):
        if url_or_name in (str(table.get("url")), str(table.get("name"))):
            name = str(table.get("name"))
            del sources[index]
            _drop_route_references(document, name)
            _save(path, tomlkit.dumps(document))
            return name
    raise ConfigError(f"no source with URL or name {url_or_name!r}", file=str(path))


def _drop_route_references(document: tomlkit.TOMLDocument, name: str) -> None:
    """Take the removed source out of routes; a route left with no source goes too."""
    from tomlkit.items import AoT, Table

    routes = document.get("routes")
    if not isinstance(routes, AoT):
        return
    for index in reversed(range(len(routes))):
        route = routes[index]
        listed = [str(s) for s in (route.get("sources") or [])] if isinstance(route, Table) else []
        if name in listed:
            remaining = [s for s in listed if s != name]
            if remaining:
                route["sources"] = remaining
            else:
                del routes[index]
