"""Named HTML entities in a feed's XML, turned into characters before any XML parser sees them.

``&nbsp;``, ``&mdash;``, ``&eacute;`` are undefined in XML (only ``&amp; &lt; &gt; &quot;
&apos;`` are), and the DOCTYPE that might declare them is stripped: a recovering parser then
drops the entity and the rest of the text after it. Feeds use them anyway, so every known
HTML5 name becomes its numeric character reference (no DTD, nothing expands beyond one
character or two); an unknown name is dropped (what a DOCTYPE declared is never
expanded, nor shown). CDATA
sections are left alone: there an ``&`` is already text. One linear pass, and none at all
when the document has no such reference.
"""

from __future__ import annotations

import re
from html.entities import html5

_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
# Bounded and without nesting: each match attempt reads at most 34 characters.
_NAMED = re.compile(r"&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{0,31});")
_REFERENCES = {
    name[:-1]: "".join(f"&#{ord(char)};" for char in chars)
    for name, chars in html5.items()
    if name.endswith(";") and name[:-1] not in _XML_ENTITIES
}
_CDATA_OPEN, _CDATA_CLOSE = "<![CDATA[", "]]>"


def _reference(match: re.Match[str]) -> str:
    name = match.group(1)
    return _REFERENCES.get(name, "")


def map_html_entities(text: str) -> str:
    """``text`` (an XML document) with named HTML entities outside CDATA as numeric references."""
    if "&" not in text or not _NAMED.search(text):
        return text
    parts: list[str] = []
    position = 0
    while position < len(text):
        start = text.find(_CDATA_OPEN, position)
        if start < 0:
            parts.append(_NAMED.sub(_reference, text[position:]))
            break
        parts.append(_NAMED.sub(_reference, text[position:start]))
        end = text.find(_CDATA_CLOSE, start + len(_CDATA_OPEN))
        end = len(text) if end < 0 else end + len(_CDATA_CLOSE)
        parts.append(text[start:end])
        position = end
    return "".join(parts)
