"""Passwords out of URLs before they reach a log, an error or a screen.

A ground-floor module (it imports nothing of newsbote), so the fetcher, the
store and the config can all use it without an import cycle.
"""

from __future__ import annotations

__all__ = ["mask_url"]

_AUTHORITY_ENDS = "/?#"


def mask_url(url: str) -> str:
    """``url`` with the password of its ``user:password@`` part replaced by ``***``.

    Linear in the URL's length (no regular expression: the URL may come from a
    feed). The user name stays, so an operator can still tell accounts apart.
    """
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    end = len(url)
    for char in _AUTHORITY_ENDS:
        found = url.find(char, start)
        if 0 <= found < end:
            end = found
    userinfo, at, host = url[start:end].rpartition("@")
    if not at:
        return url
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return url
    return f"{url[:start]}{user}:***@{host}{url[end:]}"
