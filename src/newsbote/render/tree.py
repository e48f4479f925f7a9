"""A small HTML-tree walker that the hand-written markup converters share.

The input is always sanitized HTML (see ``enrich.sanitize``), so the tree is
small and predictable. A :class:`Writer` subclass says how each construct is
spelled in its dialect; the walker handles structure: blocks separated by blank
lines, inline runs, lists, quotes, whitespace collapsing and text escaping.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import html as lxml_html

from newsbote.urls import link_url, web_url

_SPACES = re.compile(r"(?<=\S) {2,}|^ +| +$", re.M)

BLOCK_TAGS = {
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre",
    "hr", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption", "dl", "dt", "dd",
    "details", "summary", "caption", "section", "article",
}  # fmt: skip


def parse_fragment(fragment: str) -> Any:
    """An lxml element wrapping ``fragment`` (a ``div`` holding its nodes)."""
    return lxml_html.fragment_fromstring(fragment or "", create_parent="div")


def police_urls(root: Any) -> Any:
    """Every URL of the tree through the policy (:mod:`newsbote.urls`), in place.

    A link that fails it loses its ``href`` (its text stays, as text), an image
    that fails it is removed, a quote's ``cite`` that fails it is dropped; the
    URLs that pass are replaced by their encoded form, safe in any markup.
    """
    for element in list(root.iter("a", "img", "blockquote", "q")):
        if element.tag == "img":
            src = web_url(element.get("src"))
            if src is None:
                element.drop_tree()  # keeps its tail text
            else:
                element.set("src", src)
            continue
        name = "href" if element.tag == "a" else "cite"
        value = element.get(name)
        if value is None:
            continue
        url = link_url(value)
        if url is None:
            del element.attrib[name]
        else:
            element.set(name, url)
    return root


def unnest_images(root: Any) -> Any:
    """Move images out of links (``<a><img></a>`` → ``<a>href</a> <img>``), in place.

    For dialects that show an image as a link of its own, where a link inside a
    link would lose one of the two targets.
    """
    for link in list(root.iter("a")):
        images = [image for image in link.iter("img") if image.get("src")]
        if not images:
            continue
        for image in images:
            tail = image.tail
            image.getparent().remove(image)
            image.tail = tail
        if not link.text_content().strip():
            link.text = link.get("href") or ""
        anchor = link
        for image in images:
            image.tail, anchor.tail = anchor.tail, " "
            anchor.addnext(image)
            anchor = image
    return root


def _collapse(text: str) -> str:
    """HTML whitespace rules: runs become one space, edges stay a (single) space."""
    if not text:
        return ""
    core = " ".join(text.split())
    if not core:
        return " "
    return (" " if text[0].isspace() else "") + core + (" " if text[-1].isspace() else "")


class Writer:
    """How one markup dialect spells things. Override what differs."""

    paragraph_separator = "\n\n"
    nest_images = False
    """Whether a linked image stays inside its link (BBCode can; most dialects cannot)."""

    def escape(self, text: str) -> str:
        return text

    def bold(self, content: str) -> str:
        return content

    def italic(self, content: str) -> str:
        return content

    def underline(self, content: str) -> str:
        return content

    def strike(self, content: str) -> str:
        return content

    def code(self, text: str) -> str:
        return self.escape(text)

    def link(self, href: str, content: str) -> str:
        return content

    def image(self, src: str, alt: str) -> str:
        return self.escape(alt)

    def line_break(self) -> str:
        return "\n"

    def heading(self, level: int, content: str) -> str:
        return content

    def list_block(self, items: list[str], ordered: bool, start: int) -> str:
        lines = []
        for index, item in enumerate(items, start=start):
            marker = f"{index}. " if ordered else "• "
            lines.append(marker + item.replace("\n", "\n" + " " * len(marker)))
        return "\n".join(lines)

    def quote(self, content: str) -> str:
        return "\n".join("> " + line if line else ">" for line in content.split("\n"))

    def preformatted(self, text: str) -> str:
        return self.escape(text)

    def rule(self) -> str:
        return "———"

    def paragraph(self, content: str) -> str:
        return content

    def document(self, blocks: list[str]) -> str:
        return self.paragraph_separator.join(b for b in blocks if b.strip()).strip()

    # structure ----------------------------------------------------------------

    def render(self, fragment: str) -> str:
        root = police_urls(parse_fragment(fragment))
        return self.document(self.blocks(root if self.nest_images else unnest_images(root)))

    def blocks(self, element: Any) -> list[str]:
        out: list[str] = []
        run: list[str] = []

        def flush() -> None:
            text = _SPACES.sub(" ", "".join(run))
            text = "\n".join(line.strip(" ") for line in text.split("\n")).strip("\n")
            if text:
                out.append(self.paragraph(text))
            run.clear()

        if element.text:
            run.append(self.escape(_collapse(element.text)))
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag in BLOCK_TAGS:
                flush()
                out.extend(self.block(child, tag))
            elif tag:
                run.append(self.inline(child, tag))
            if child.tail:
                run.append(self.escape(_collapse(child.tail)))
        flush()
        return out

    def inline_content(self, element: Any) -> str:
        parts = [self.escape(_collapse(element.text))] if element.text else []
        for child in element:
            tag = child.tag if isinstance(child.tag, str) else ""
            if tag:
                parts.append(self.inline(child, tag))
            if child.tail:
                parts.append(self.escape(_collapse(child.tail)))
        return "".join(parts)

    def inline(self, element: Any, tag: str) -> str:
        if tag == "br":
            return self.line_break()
        if tag == "img":
            src = element.get("src")
            return self.image(src, element.get("alt") or "") if src else ""
        if tag in BLOCK_TAGS:
            return " ".join(self.blocks(element))
        content = self.inline_content(element)
        if not content.strip() and tag != "a":
            return content
        if tag in ("b", "strong"):
            return _wrap_outside_space(content, self.bold)
        if tag in ("i", "em", "cite"):
            return _wrap_outside_space(content, self.italic)
        if tag in ("u", "ins"):
            return _wrap_outside_space(content, self.underline)
        if tag in ("s", "del", "strike"):
            return _wrap_outside_space(content, self.strike)
        if tag in ("code", "kbd"):
            return self.code(element.text_content())
        if tag == "a":
            href = element.get("href")
            if not href:
                return content
            return self.link(href, content.strip() or self.escape(href))
        if tag == "q":
            return f"„{content}“"
        return content

    def block(self, element: Any, tag: str) -> list[str]:
        if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            content = self.inline_content(element).strip()
            return [self.heading(int(tag[1]), content)] if content else []
        if tag in ("ul", "ol"):
            items: list[str] = []
            for child in element:
                if not isinstance(child.tag, str):
                    continue
                if child.tag in ("ul", "ol"):
                    # a list straight inside a list (invalid, but common) belongs to the item before
                    nested = "\n".join(self.block(child, child.tag))
                    items.append(f"{items.pop()}\n{nested}" if items else nested)
                else:
                    items.append("\n".join(self.blocks(child)))
            items = [item for item in items if item.strip()]
            if not items:
                return []
            start = (
                int(element.get("start") or 1) if str(element.get("start") or "1").isdigit() else 1
            )
            return [self.list_block(items, tag == "ol", start)]
        if tag == "blockquote":
            inner = "\n\n".join(self.blocks(element))
            return [self.quote(inner)] if inner.strip() else []
        if tag == "pre":
            text = element.text_content().strip("\n")
            return [self.preformatted(text)] if text.strip() else []
        if tag == "hr":
            return [self.rule()]
        if tag == "tr":
            cells = [
                self.inline_content(cell).strip() for cell in element if isinstance(cell.tag, str)
            ]
            return [" | ".join(cells)] if any(cells) else []
        if tag in ("table", "thead", "tbody", "tfoot"):
            rows = [
                line
                for child in element
                if isinstance(child.tag, str)
                for line in self.block(child, child.tag)
            ]
            return ["\n".join(rows)] if rows else []
        return self.blocks(element)


def _wrap_outside_space(content: str, wrap: Any) -> str:
    """``wrap`` the content but keep surrounding spaces outside the markers (``**x** y``)."""
    stripped = content.strip()
    if not stripped:
        return content
    lead = content[: len(content) - len(content.lstrip())]
    trail = content[len(content.rstrip()) :]
    return f"{lead}{wrap(stripped)}{trail}"
