"""The next poll honours the publisher's wishes within the service's bounds."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from newsbote.config import ServiceConfig
from newsbote.fetch import next_check

NOW = datetime(2026, 11, 29, tzinfo=UTC)
SERVICE = ServiceConfig(jitter=0, min_interval=60, max_interval=86400)


def seconds(**kwargs: object) -> float:
    return (next_check(NOW, service=SERVICE, **kwargs) - NOW).total_seconds()  # type: ignore[arg-type]


def test_interval_is_the_base_and_minimum_is_enforced() -> None:
    assert seconds(interval=900) == 900
    assert seconds(interval=5) == 60


def test_max_age_ttl_and_retry_after_only_lengthen() -> None:
    assert seconds(interval=900, max_age=3600) == 3600
    assert seconds(interval=900, max_age=10) == 900
    assert seconds(interval=900, ttl_minutes=60) == 3600
    assert seconds(interval=900, retry_after=7200) == 7200
    assert seconds(interval=900, max_age=10**9) == 86400


def test_errors_back_off_exponentially_to_the_maximum() -> None:
    assert [seconds(interval=900, errors=n) for n in (1, 2, 3)] == [900, 1800, 3600]
    assert seconds(interval=900, errors=40) == 86400


def test_jitter_stays_within_its_fraction() -> None:
    service = ServiceConfig(jitter=0.1)
    rng = random.Random(1)
    values = [
        (next_check(NOW, interval=1000, service=service, rng=rng) - NOW).total_seconds()
        for _ in range(200)
    ]
    assert min(values) >= 900 and max(values) <= 1100
    assert len(set(values)) > 100
