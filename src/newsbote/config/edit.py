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


def name_for(url: str, taken: set[str]) -> str:
    """A short unique source name from a URL: its host without ``www.``, then a counter."""
    parts = urlsplit(url)
    base = (parts.hostname or Path(parts.path).stem or "source").removeprefix("www.")
    base = re.sub(r"[^a-z0-9.-]+", "-", base.lower()).strip("-") or "source"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}-{counter}", counter + 1
    return name


@dataclass(frozen=True, slots=True)
class NewSource:
    """A source to add: its URL, and what else its ``[[sources]]`` block says."""

    url: str
    name: str | None = None
    interval: str | None = None
    first_run: int | str | None = None


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
    sources = _sources(document)
    taken = {str(t.get("name")) for t in sources}
    known = {str(t.get("url")): str(t.get("name")) for t in sources}
    added: list[str] = []
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
        chosen = source.name or name_for(source.url, taken)
        table = tomlkit.table()
        table.add("name", chosen)
        table.add("url", source.url)
        if source.interval is not None:
            table.add("interval", source.interval)
        if source.first_run is not None:
            table.add("first_run", source.first_run)
        sources.append(table)
        taken.add(chosen)
        known[source.url] = chosen
        added.append(chosen)
    if added:
        _save(path, tomlkit.dumps(document))
    return added


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
