"""The one policy for every URL that leaves newsbote (links, images, webhook fields).

A feed is written by a stranger, and so is every URL in it. Before a URL is
placed into any output (the board, a forum post, a chat message, a webhook
body), it passes :func:`web_url` (links to articles, images) or
:func:`link_url` (links inside an article's body, where ``mailto:`` is fine
too). Each returns the URL in a form safe for every markup newsbote writes,
or ``None``; a URL that is ``None`` is never passed on (its link text stays as
text, its image is dropped).

The policy, in the order it is applied:

1. What browsers ignore is removed first, as they remove it (WHATWG URL
   standard): leading and trailing C0 controls and spaces, and every tab,
   line feed and carriage return anywhere. ``" java\\tscript:"`` is
   ``javascript:`` to a browser and so it is here.
2. The scheme, read case-insensitively, must be ``http`` or ``https``
   (``mailto`` too, for :func:`link_url`). Everything else is refused:
   ``javascript:``, ``data:``, ``vbscript:``, ``file:``, unknown schemes, and
   URLs without a scheme (relative ``/x`` and scheme-relative ``//host/x``:
   a caller resolves them against their base first).
3. An http(s) URL needs ``//`` and a host; a backslash counts as a slash, as it
   does in browsers. Refused: credentials (``user:pass@host``, whose ``@`` lets
   a URL show one host and open another), a bad port, a host with anything but
   letters, digits, ``.``, ``-`` and ``_`` after IDNA encoding (so also IPv6
   literals, whose brackets no markup tolerates), and anything longer than
   2048 characters, before or after encoding.
4. The path, query and fragment are percent-encoded except for
   ``A-Z a-z 0-9 - . _ ~ ! $ & * + , ; = : @ % /`` (and ``?`` after the path).
   So spaces, quotes, ``< >``, ``( )``, ``[ ]``, ``{ }``, ``|``, ``\\``,
   backticks, ``^``, control characters and everything beyond ASCII are
   encoded: the URL cannot end a Markdown destination, a BBCode ``[url=…]``,
   a Slack ``<url|text>`` or an HTML attribute early. What remains is ``&``,
   which each markup escapes its own way (``&amp;`` in HTML).
"""

from __future__ import annotations

import re
from string import ascii_letters, digits
from urllib.parse import quote, urlsplit

from yarl import URL

MAX_LENGTH = 2048

__all__ = ["MAX_LENGTH", "link_url", "web_url"]

_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = str.maketrans("", "", "\t\n\r")
_SCHEME_CHARS = frozenset(ascii_letters + digits + "+-.")
_HOST_CHARS = frozenset(ascii_letters + digits + ".-_")
# RFC 3986's unreserved and sub-delimiters, less ' ( ) [ ] which end links in some markup
_KEEP = "-._~!$&*+,;=:@%"
_KEEP_PATH = _KEEP + "/"
_KEEP_QUERY = _KEEP + "/?"


def _normalized(url: str) -> tuple[str, str] | None:
    """``(scheme, rest)`` as a browser reads ``url``: scheme lower-cased, ignored characters gone."""
    if len(url) > 4 * MAX_LENGTH:  # bounded work before anything else
        return None
    url = url.strip(_C0_AND_SPACE).translate(_TAB_OR_NEWLINE)
    if not url or len(url) > MAX_LENGTH:
        return None
    colon = url.find(":")
    scheme = url[:colon]
    if colon < 1 or not scheme[0].isascii() or not scheme[0].isalpha():
        return None
    if not set(scheme) <= _SCHEME_CHARS:
        return None
    return scheme.lower(), url[colon + 1 :]


def _encoded(text: str, keep: str) -> str | None:
    try:
        return quote(text, safe=keep)
    except UnicodeEncodeError:  # a lone surrogate: no URL
        return None


def _host(netloc: str) -> str | None:
    """The host and port, IDNA-encoded; ``None`` for credentials, IPv6 literals, bad ports."""
    if not netloc or "@" in netloc or netloc.startswith("["):
        return None
    host, _, port = netloc.partition(":")
    if port and (not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536):
        return None
    if not host.isascii() or not set(host) <= _HOST_CHARS:
        try:
            host = URL.build(scheme="https", host=host).raw_host or ""
        except (ValueError, UnicodeError):
            return None
    if not host or len(host) > 253 or not set(host) <= _HOST_CHARS or host.strip(".") == "":
        return None
    return f"{host}:{int(port)}" if port else host


def _web(scheme: str, rest: str) -> str | None:
    if scheme not in ("http", "https"):
        return None
    rest = rest.replace("\\", "/")  # http(s) is a "special" scheme: browsers read \ as /
    if not rest.startswith("//"):
        return None
    try:
        parts = urlsplit(f"{scheme}:{rest}")
    except ValueError:  # an unbalanced [ or ] in the host
        return None
    host = _host(parts.netloc)
    if host is None:
        return None
    path = _encoded(parts.path, _KEEP_PATH)
    query = _encoded(parts.query, _KEEP_QUERY)
    fragment = _encoded(parts.fragment, _KEEP_QUERY)
    if path is None or query is None or fragment is None:
        return None
    before_fragment = rest.partition("#")[0]
    url = f"{scheme}://{host}{path}" + (f"?{query}" if "?" in before_fragment else "")
    url += f"#{fragment}" if "#" in rest else ""
    return url if len(url) <= MAX_LENGTH else None


# A URL already in the form the policy gives: http(s), a host of plain ASCII name
# characters, a short port without leading zeros, and only characters the policy keeps as
# they are, with at most one "?" before the query and one "#". Most URLs are; for them
# the policy's answer is the URL itself, found by one match instead of a parse. (A test
# checks the two agree.) Each part is one character class after a literal: linear.
_CANONICAL = re.compile(
    r"https?://(?P<host>[A-Za-z0-9._-]+)(?::[1-9][0-9]{0,3})?"
    r"(?:/[A-Za-z0-9._~!$&*+,;=:@%/-]*)?"
    r"(?:\?[A-Za-z0-9._~!$&*+,;=:@%/?-]*)?"
    r"(?:#[A-Za-z0-9._~!$&*+,;=:@%/?-]*)?"
)


def _canonical(url: str) -> bool:
    """Whether ``url`` is already what the policy would make of it (see ``_CANONICAL``)."""
    if len(url) > MAX_LENGTH:
        return False
    match = _CANONICAL.fullmatch(url)
    if match is None:
        return False
    host = match.group("host")
    return len(host) <= 253 and host.strip(".") != ""


def web_url(url: str | None) -> str | None:
    """``url`` as a safe absolute http(s) URL, or ``None`` if it is not one (see the module)."""
    if not url:
        return None
    if _canonical(url):
        return url
    normalized = _normalized(url)
    return _web(*normalized) if normalized else None


def link_url(url: str | None) -> str | None:
    """Like :func:`web_url`, but a ``mailto:`` link is fine too (links inside an article)."""
    if not url:
        return None
    if _canonical(url):
        return url
    normalized = _normalized(url)
    if normalized is None:
        return None
    scheme, rest = normalized
    if scheme != "mailto":
        return _web(scheme, rest)
    address = _encoded(rest, _KEEP_QUERY)
    if not address or address.startswith("/"):
        return None
    mailto = f"mailto:{address}"
    return mailto if len(mailto) <= MAX_LENGTH else None
