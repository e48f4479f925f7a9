"""Reading the caching and back-off headers of an answer, defensively.

The values come from strangers: anything that is not a well-formed
delta-seconds or HTTP date is ignored, never an error, and every result is a
finite number of seconds, zero or more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["max_age", "seconds_until"]

_MAX_HEADER = 256
"""Longer values are not a number of seconds or a date: they are not read."""


def _delta_seconds(value: str) -> float | None:
    """``value`` as delta-seconds (ASCII digits only), or None."""
    if not (value.isascii() and value.isdigit()):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def seconds_until(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` / ``Expires`` value: delta seconds or an HTTP date.

    None for a missing or malformed value; a date in the past gives 0.
    """
    if not value or len(value) > _MAX_HEADER:
        return None
    value = value.strip()
    delta = _delta_seconds(value)
    if delta is not None:
        return delta
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def max_age(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the answer stays fresh: ``Cache-Control: max-age``, else ``Expires``."""
    cache_control = headers.get("Cache-Control", "")[: _MAX_HEADER * 4]
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() in ("no-store", "no-cache"):
            return None
        if name.lower() == "max-age":
            age = _delta_seconds(value.strip().strip('"'))
            if age is not None:
                return age
    return seconds_until(headers.get("Expires"), now)
