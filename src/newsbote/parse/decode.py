"""Turn a fetched body into safe UTF-8 a feed parser can trust.

Handles gzip bodies stored without a Content-Encoding, byte order marks,
UTF-16 without a BOM, declared charsets that lie (latin-1 declared over UTF-8
bytes and the reverse), and strips the DOCTYPE so that no parser ever sees an
entity declaration: nothing expands, nothing external is loaded.
"""

from __future__ import annotations

import codecs
import re
import zlib

from newsbote.errors import ParseError

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:\-]+)[\"']", re.S)
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)
_DOCTYPE = re.compile(r"<!DOCTYPE(?:[^\[>\"']|\"[^\"]*\"|'[^']*')*(?:\[.*?\]\s*)?>", re.S | re.I)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:\-]+)", re.I)
_SINGLE_BYTE = {"iso8859-1", "latin-1", "cp1252", "ascii", "iso8859-15", "latin_1", "us-ascii"}
_MAX_INFLATE = 64 * 1024 * 1024


def _inflate(body: bytes, url: str) -> bytes:
    decompressor = zlib.decompressobj(wbits=47)
    try:
        data = decompressor.decompress(body, _MAX_INFLATE)
    except zlib.error as exc:
        raise ParseError(url, f"broken gzip body: {exc}") from exc
    if decompressor.unconsumed_tail:
        raise ParseError(url, f"gzip body inflates beyond {_MAX_INFLATE} bytes")
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


def decode_text(body: bytes, url: str, content_type: str = "") -> str:
    """The document as text, by BOM, then XML declaration, then HTTP charset, then UTF-8."""
    if body[:2] == b"\x1f\x8b":
        body = _inflate(body, url)
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
            if declared in (None, "utf-8"):
                return body.decode("cp1252", errors="replace")
    return body.decode(declared or "utf-8", errors="replace")


def prepare_xml(body: bytes, url: str, content_type: str = "") -> bytes:
    """UTF-8 bytes with a UTF-8 XML declaration and no DOCTYPE."""
    text = decode_text(body, url, content_type).lstrip("\ufeff \t\r\n")
    text = _XML_DECL_TEXT.sub("", text, count=1).lstrip()
    head_end = _root_start(text)
    head = _DOCTYPE.sub("", text[:head_end])
    if "<!ENTITY" in head.upper():
        raise ParseError(url, "the document declares entities outside a DOCTYPE; refusing to parse")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + head + text[head_end:]).encode("utf-8")


def _root_start(text: str) -> int:
    """Index of the root element's ``<``: everything before it is prolog."""
    position = 0
    while True:
        index = text.find("<", position)
        if index < 0 or index + 1 >= len(text):
            return len(text)
        following = text[index + 1]
        if following == "?":
            position = text.find("?>", index) + 2 if "?>" in text[index:] else len(text)
        elif text.startswith("<!--", index):
            end = text.find("-->", index)
            position = end + 3 if end >= 0 else len(text)
        elif following == "!":
            doctype = _DOCTYPE.match(text, index)
            position = doctype.end() if doctype else text.find(">", index) + 1 or len(text)
        else:
            return index
