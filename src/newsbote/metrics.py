"""Counters for Prometheus, served at ``/metrics``.

The service counts in plain dictionaries; prometheus_client (about 14 MB
resident) is loaded only by the web app, whose collector reads these counts
when Prometheus scrapes. A worker without a web server never loads it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

POLLS: Counter[str] = Counter()
"""Source polls by result (ok, not-modified, error, gone, crashed)."""
DELIVERIES: Counter[tuple[str, str]] = Counter()
"""Delivery attempts by (destination, result)."""


def count_poll(result: str) -> None:
    POLLS[result] += 1


def count_delivery(destination: str, result: str, count: int = 1) -> None:
    DELIVERIES[(destination, result)] += count


class Collector:
    """A prometheus_client collector over the counts above."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        polls = CounterMetricFamily("newsbote_polls", "Source polls by result", labels=["result"])
        for result, count in sorted(POLLS.items()):
            polls.add_metric([result], count)
        yield polls
        deliveries = CounterMetricFamily(
            "newsbote_deliveries",
            "Delivery attempts by destination and result",
            labels=["destination", "result"],
        )
        for (destination, result), count in sorted(DELIVERIES.items()):
            deliveries.add_metric([destination, result], count)
        yield deliveries
