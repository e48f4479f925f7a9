"""OPML import and export of sources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from newsbote.config.schema import SourceConfig
from newsbote.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Outline:
    title: str
    url: str


def read_opml(path: Path) -> list[Outline]:
    """Every outline with an ``xmlUrl`` in the file, nested folders included."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise ConfigError(f"cannot read OPML: {exc}", file=str(path)) from exc
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        found = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise ConfigError(
            f"not an OPML file: its root element is <{found}>, not <opml>", file=str(path)
        )
    outlines = []
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if url:
            outlines.append(
                Outline(title=(node.get("title") or node.get("text") or "").strip(), url=url)
            )
    return outlines


def write_opml(
    sources: Sequence[SourceConfig],
    title: str = "newsbote sources",
    urls: Mapping[str, str] | None = None,
) -> str:
    """The sources as OPML; ``urls`` gives a source's URL as its config file writes it
    (by name), where that differs from the resolved one (a local file's relative path)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_escape(title)}</title></head>",
        "  <body>",
    ]
    for source in sources:
        lines.append(
            f'    <outline type="rss" text={quoteattr(source.name)} title={quoteattr(source.name)} '
            f"xmlUrl={quoteattr((urls or {}).get(source.name, source.url))}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
