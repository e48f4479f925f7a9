"""Helper processes: with ``[service] processes = N``, ``newsbote run`` polls with N processes.

Python runs one poll's parsing, sanitizing and rendering at a time per process, so
a cold start of many sources is bound by one core. Each helper is a
``newsbote worker --helper`` on the same config file and store: it claims due
sources and deliveries with leases, like any worker, so nothing is polled or sent
twice and no article crosses between processes. A helper's stdin is a pipe from
the service: when that closes (the service stopped, however it ended), the helper
stops too. SIGUSR1 wakes a helper's scheduler (the service made sources due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from newsbote.errors import NewsboteError

log = logging.getLogger("newsbote.processes")

READY = b"ready\n"
"""What a helper prints on stdout once it polls."""


class Helpers:
    """``count`` helper processes polling and delivering beside this one."""

    def __init__(self, config_path: Path, count: int) -> None:
        self.config_path = config_path
        self.count = count
        self._processes: list[asyncio.subprocess.Process] = []
        self._ready: set[int] = set()
        """The helpers that said they poll (and handle SIGUSR1: before, it would kill them)."""

    async def start(self) -> None:
        """Start the helpers. They take a moment to import and read the config: the
        service polls meanwhile, and :meth:`ready` waits for them."""
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        for _ in range(self.count):
            self._processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "newsbote",
                    "worker",
                    "--helper",
                    "--config",
                    str(self.config_path),
                    "--log-level",
                    str(level),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            )

    async def ready(self, timeout: float = 60.0) -> None:
        """Wait until each helper polls; a clear error (and the helpers stopped) if one
        does not."""
        for process in self._processes:
            assert process.stdout is not None
            try:
                line = await asyncio.wait_for(process.stdout.readline(), timeout)
            except TimeoutError:
                line = b""
            if line != READY:
                await self.stop()
                raise NewsboteError(
                    f"helper process {process.pid} ([service] processes) did not start "
                    f"(exit code {process.returncode}); its log is above"
                )
            self._ready.add(process.pid)
        log.info("%d helper process(es) polling beside this one", self.count)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]

    @property
    def alive(self) -> int:
        return sum(1 for p in self._processes if p.returncode is None)

    def wake(self) -> None:
        """Have the ready helpers look for due sources now, not at their next tick."""
        for process in self._processes:
            if process.returncode is None and process.pid in self._ready:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGUSR1)

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop the helpers (they finish their polls and sends in flight); kill the slow."""
        for process in self._processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                log.warning("helper process %d did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._processes = []
        self._ready.clear()


def serve_as_helper(
    loop: asyncio.AbstractEventLoop, stop: Callable[[], None], wake: Callable[[], None]
) -> None:
    """In a helper: stop when the service's pipe closes, wake on SIGUSR1, say ready.

    The event loop watches the pipe (readable at its end of file). A thread blocked in
    reading it made Python abort at exit ("could not acquire lock for <stdin>") when a
    helper was stopped by a signal of its own, as systemd sends one to every process.
    """
    pipe = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(pipe, 4096)
        except OSError:
            data = b""
        if not data:  # end of file: the service's end of the pipe closed
            loop.remove_reader(pipe)
            stop()

    loop.add_reader(pipe, readable)
    loop.add_signal_handler(signal.SIGUSR1, wake)
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    # nobody reads the pipe after this line: anything else printed goes to stderr
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
