"""Reading a source whose configured URL is a local file.

Only the operator writes a source's URL, so only there may a path appear
(never in anything that comes out of a feed). Even so the read is careful:
only a regular file, opened without blocking (a FIFO or a device would hang
the poll or never end), and capped.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

from newsbote.errors import FetchError
from newsbote.types import Fetched

__all__ = ["is_local", "read_local_file"]

_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def is_local(url: str) -> bool:
    """True for a file path or a ``file://`` URL."""
    return "://" not in url or url[:7].lower() == "file://"


def _path(url: str) -> Path:
    if url[:7].lower() != "file://":
        return Path(url)
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(url, f"a file URL names a host ({parts.netloc!r})", permanent=True)
    return Path(unquote(parts.path))


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _check(url: str, mode: int, size: int, cap: int) -> None:
    if not stat.S_ISREG(mode):
        raise FetchError(
            url, f"{_kind(mode)}, not a regular file: refusing to read it", permanent=True
        )
    if size > cap:
        raise FetchError(url, f"file of {size} bytes exceeds the cap of {cap} bytes")


def read_local_file(url: str, etag: str | None, cap: int) -> Fetched:
    """The file's bytes (at most ``cap``), or 304 when its content hash equals ``etag``.

    Blocking: run it in a thread. Never blocks on the file itself: a FIFO or a
    device is refused before it is read.
    """
    path = _path(url)
    try:
        before = path.stat()
        _check(url, before.st_mode, before.st_size, cap)
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise FetchError(url, f"cannot read file: {exc.strerror or exc}") from exc
    with open(descriptor, "rb", closefd=True) as file:
        try:
            opened = os.fstat(descriptor)  # the file opened may not be the one checked
            _check(url, opened.st_mode, opened.st_size, cap)
            body = file.read(cap + 1)
        except OSError as exc:
            raise FetchError(url, f"cannot read file: {exc.strerror or exc}") from exc
    if len(body) > cap:
        raise FetchError(url, f"file exceeds the cap of {cap} bytes")
    tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    if etag == tag:
        return Fetched(url=url, final_url=url, status=304, body=b"", etag=tag)
    return Fetched(url=url, final_url=url, status=200, body=body, etag=tag)
