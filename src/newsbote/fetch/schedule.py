"""When to poll a source next: a pure function of what the last poll learned."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from newsbote.config.schema import ServiceConfig


def next_check(
    now: datetime,
    *,
    interval: float,
    service: ServiceConfig,
    max_age: float | None = None,
    retry_after: float | None = None,
    ttl_minutes: int | None = None,
    errors: int = 0,
    rng: random.Random | None = None,
) -> datetime:
    """The time of the next poll.

    The configured interval is the base. The publisher's wishes (Cache-Control
    max-age or Expires, RSS ``<ttl>``, Retry-After) can only lengthen it.
    Consecutive errors double it. Everything stays within the service's
    ``min_interval`` and ``max_interval``, then varies by ``jitter`` so that
    sources added together do not stay in lockstep.
    """
    seconds = interval
    if ttl_minutes is not None and ttl_minutes > 0:
        seconds = max(seconds, ttl_minutes * 60.0)
    if errors > 0:
        seconds = seconds * (2 ** min(errors - 1, 16))
    if service.jitter:
        spread = seconds * service.jitter
        seconds += (rng or random).uniform(-spread, spread)
    # The publisher's wishes are floors that jitter never undercuts.
    seconds = max(seconds, service.min_interval, max_age or 0.0, retry_after or 0.0)
    return now + timedelta(seconds=min(seconds, service.max_interval))
