"""Prometheus metrics, served at ``/metrics``."""

from prometheus_client import Counter

POLLS = Counter("newsbote_polls_total", "Source polls by result", ["result"])
DELIVERIES = Counter(
    "newsbote_deliveries_total",
    "Delivery attempts by destination and result",
    ["destination", "result"],
)
