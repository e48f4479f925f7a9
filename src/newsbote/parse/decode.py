"""Turn a fetched body into safe UTF-8 a feed parser can trust.

Handles gzip bodies stored without a Content-Encoding, byte order marks,
UTF-16 without a BOM, declared charsets that lie (latin-1 declared over UTF-8
bytes and the reverse), and strips the DOCTYPE so that no parser ever sees an
entity declaration: nothing expands, nothing external is loaded. A latin-1 or
ASCII label means windows-1252, as the WHATWG Encoding Standard (and every
browser) reads it: its bytes 0x80-0x9F are ’ “ — €, not C1 controls. Named HTML
entities become characters (:mod:`newsbote.parse.entities`).
"""

from __future__ import annotations

import codecs
import logging
import re
import zlib

from newsbote.errors import ParseError
from newsbote.parse.entities import map_html_entities

log = logging.getLogger("newsbote.parse")

# The next two are anchored at the start (one attempt) and read up to the first ">".
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:\-]+)[\"']", re.S)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)
_DOCTYPE_PLAIN = re.compile(r"[^\[>\"']*")  # one character class: one pass, no backtracking
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.I)  # on a header
# A numeric character reference: an attempt at each "&#" reads its digits once.
_NUMERIC_REFERENCE = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,16}));")
# The references that may stand for no character: a surrogate (hex D800-DFFF, decimal
# 55296-57343) or a number beyond Unicode (six hex digits or seven decimal ones and more).
# A superset, found without a callback per reference; only where one is, are all checked.
# Each attempt at "&#" reads that reference's own digits: linear.
_MAYBE_INVALID_REFERENCE = re.compile(
    rb"&#(?:[xX]0*(?:[dD][89a-fA-F][0-9a-fA-F]{2};|[0-9a-fA-F]{6})|0*(?:5[5-7][0-9]{3};|[0-9]{7}))"
)
_SINGLE_BYTE = {"iso8859-1", "latin-1", "cp1252", "ascii", "iso8859-15", "latin_1", "us-ascii"}
# The labels the WHATWG Encoding Standard maps to windows-1252 (by their Python codec names).
_WINDOWS_1252 = {"iso8859-1", "latin-1", "latin_1", "ascii", "us-ascii", "cp1252"}


def _c1_controls(error: UnicodeError) -> tuple[str, int]:
    """The five bytes windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) are U+0081..."""
    assert isinstance(error, UnicodeDecodeError)
    return "".join(chr(b) for b in error.object[error.start : error.end]), error.end


codecs.register_error("newsbote-windows-1252", _c1_controls)


def _mostly_utf8(body: bytes) -> str | None:
    """UTF-8 text with a few stray bytes (each becomes U+FFFD), or None for another charset:
    windows-1252 text is invalid UTF-8 at nearly every non-ASCII byte, UTF-8 text at few."""
    text = body.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return text if invalid * 20 < non_ascii - invalid else None


def _windows_1252(body: bytes) -> str:
    return body.decode("cp1252", errors="newsbote-windows-1252")


MAX_INFLATE = 64 * 1024 * 1024
"""What a gzip body may inflate to when the caller gives no limit of its own."""


def _inflate(body: bytes, url: str, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=47)
    try:
        data = decompressor.decompress(body, limit)
    except zlib.error as exc:
        raise ParseError(url, f"broken gzip body: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise ParseError(url, f"gzip body inflates beyond {limit} bytes")
    return data


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _sniff_utf16(body: bytes) -> str | None:
    head = body[:4]
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le"
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    return None


def decode_text(
    body: bytes, url: str, content_type: str = "", *, max_bytes: int = MAX_INFLATE
) -> str:
    """The document as text, by BOM, then XML declaration, then HTTP charset, then UTF-8.

    A gzip body (stored without a Content-Encoding) may inflate to ``max_bytes``.
    """
    if body[:2] == b"\x1f\x8b":
        body = _inflate(body, url, max_bytes)
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    wide = _sniff_utf16(body)
    if wide:
        return body.decode(wide, errors="replace")
    match = _XML_DECL.match(body[:512])
    declared = _codec(match.group(1).decode("ascii")) if match else None
    if declared is None:
        header = _CHARSET.search(content_type or "")
        declared = _codec(header.group(1)) if header else None
    if declared and declared.startswith(("utf-16", "utf-32")):
        declared = None  # declared wide but no BOM and no NUL bytes: the bytes are narrow
    if declared is None or declared == "utf-8" or declared in _SINGLE_BYTE:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            if declared in (None, "utf-8") or declared in _WINDOWS_1252:
                return _mostly_utf8(body) or _windows_1252(body)
    return body.decode(declared or "utf-8", errors="replace")


def prepare_xml(
    body: bytes, url: str, content_type: str = "", *, max_bytes: int = MAX_INFLATE
) -> bytes:
    """UTF-8 bytes with a UTF-8 XML declaration and no DOCTYPE."""
    text = decode_text(body, url, content_type, max_bytes=max_bytes).lstrip("\ufeff \t\r\n")
    text = _XML_DECL_TEXT.sub("", text, count=1).lstrip()
    head_end, doctypes = _prolog(text, url)
    head = text[:head_end]
    if doctypes:
        kept, position = [], 0
        for start, end in doctypes:
            kept.append(head[position:start])
            position = end
        kept.append(head[position:])
        head = "".join(kept)
    if "<!ENTITY" in head.upper():
        raise ParseError(url, "the document declares entities outside a DOCTYPE; refusing to parse")
    body_text = map_html_entities(text[head_end:])
    document = ('<?xml version="1.0" encoding="utf-8"?>\n' + head + body_text).encode("utf-8")
    # "#" first: a search for one byte is fifty times faster than one for two
    if b"#" in document and _MAYBE_INVALID_REFERENCE.search(document):
        return _valid_references(document, url)
    return document


def _valid_references(document: bytes, url: str) -> bytes:
    """``document`` with character references to what is no character (a surrogate, a
    number beyond Unicode) replaced by one to U+FFFD: no encoder takes what they stand for."""
    replaced = 0

    def valid(match: re.Match[bytes]) -> bytes:
        nonlocal replaced
        hexadecimal, decimal = match.groups()
        code = int(hexadecimal, 16) if hexadecimal else int(decimal)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            replaced += 1
            return b"&#xFFFD;"
        return match.group(0)

    document = _NUMERIC_REFERENCE.sub(valid, document)
    if replaced:
        log.warning(
            "parse url=%s replaced=%d character references to no character became U+FFFD",
            url,
            replaced,
        )
    return document


def _prolog(text: str, url: str) -> tuple[int, list[tuple[int, int]]]:
    """Index of the root element's ``<`` (everything before it is prolog) and the spans
    of the DOCTYPEs in the prolog.

    One pass: every search starts where the last one ended, so a run of unclosed
    declarations costs its length, not its length squared.
    """
    doctypes: list[tuple[int, int]] = []
    position = 0
    while True:
        index = text.find("<", position)
        if index < 0 or index + 1 >= len(text):
            return len(text), doctypes
        following = text[index + 1]
        if following == "?":
            end = text.find("?>", index + 2)
            position = end + 2 if end >= 0 else len(text)
        elif text.startswith("<!--", index):
            end = text.find("-->", index + 4)
            position = end + 3 if end >= 0 else len(text)
        elif following == "!" and text[index + 2 : index + 9].upper() == "DOCTYPE":
            position = _doctype_end(text, index + 9, url)
            doctypes.append((index, position))
        elif following == "!":
            position = text.find(">", index) + 1 or len(text)
        else:
            return index, doctypes


def _doctype_end(text: str, position: int, url: str) -> int:
    """Just past the ``>`` that closes a DOCTYPE whose name starts at ``position``: outside
    quoted strings and after an internal subset in brackets, if there is one."""
    while position < len(text):
        char = text[position]
        if char == ">":
            return position + 1
        if char in "\"'":
            end = text.find(char, position + 1)
            if end < 0:
                break
            position = end + 1
        elif char == "[":
            # the subset ends at the first "]" that only whitespace separates from a ">"
            end = text.find("]", position + 1)
            while end >= 0:
                after = end + 1
                while after < len(text) and text[after] in " \t\r\n":
                    after += 1
                if after < len(text) and text[after] == ">":
                    return after + 1
                end = text.find("]", after)
            break
        else:  # the name and keywords: up to the next bracket, quote or ">"
            position = _DOCTYPE_PLAIN.match(text, position).end()  # type: ignore[union-attr]
    raise ParseError(url, "the DOCTYPE declaration is never closed")
