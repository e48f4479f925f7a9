"""A poll's processing budget: CPU seconds its parsing and sanitizing may take.

Every pass over a feed is linear and a body is capped, so a feed cannot make one
step take long; a huge or hostile one can still make many. The steps check the
budget between entries: past it, that source fails with a :class:`ParseError`
naming it, and the other sources go on.

The time counted is the CPU time of the threads that run the steps, not the
wall time: a busy machine (or a thread waiting for the GIL) does not fail a feed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from newsbote.errors import ParseError

P = ParamSpec("P")
T = TypeVar("T")


class Budget:
    """CPU seconds left for one poll of the source at ``url``."""

    __slots__ = ("_started", "seconds", "spent", "url")

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        self.spent = 0.0
        self._started: float | None = None

    def run(self, function: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``function(*args, **kwargs)``, its CPU time counted (in the thread that calls it)."""
        self._started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            self.spent += time.thread_time() - self._started
            self._started = None

    def check(self, doing: str) -> None:
        """Raise :class:`ParseError` when the budget is spent; ``doing`` says where it was."""
        spent = self.spent
        if self._started is not None:
            spent += time.thread_time() - self._started
        if spent > self.seconds:
            raise ParseError(
                self.url,
                f"took more than {self.seconds:g} s of processing; stopped while {doing} "
                "(the feed is too large or too complex to handle)",
            )
