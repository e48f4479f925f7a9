"""Service benchmark: a cold start of N feeds the way ``newsbote run`` does it, with K processes.

``poll.py`` times the pipeline's batch calls; this one times the service itself: the
scheduler, the pollers and the delivery loop of ``Service.run_forever`` in this process,
plus K-1 ``newsbote worker`` processes on the same store (each claims due sources and
deliveries with leases). The clock runs until all 20 × N articles are on the board.
Prints wall seconds, each process's CPU seconds and this process's peak RSS.
Usage: python benchmarks/service.py [--feeds 1000] [--processes 2] [--store URL]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import ENTRIES, running_farm
from newsbote import outbox
from newsbote.config import load_config
from newsbote.store import open_store
from newsbote.worker import Service
from poll import peak_rss_mb, write_config


async def main(feeds: int, processes: int, store_url: str | None) -> None:
    with running_farm(feeds) as port, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = store_url or f"sqlite:///{directory / 'bench.db'}"
        path = write_config(directory, url, feeds, port)
        loaded = load_config(path)
        store = open_store(loaded.config.store)
        expected = feeds * ENTRIES
        print(
            f"{feeds} feeds × {ENTRIES} entries, store {url.split('://')[0]}, {processes} processes"
        )
        wall, cpu = time.perf_counter(), time.process_time()
        command = [sys.executable, "-m", "newsbote", "worker", "--config", str(path)]
        helpers = [
            subprocess.Popen([*command, "--log-level", "WARNING"], stdout=subprocess.DEVNULL)
            for _ in range(processes - 1)
        ]
        async with Service(loaded, store) as service:
            running = asyncio.create_task(service.run_forever())
            sent = 0
            while sent < expected:
                await asyncio.sleep(0.1)
                sent = (await store.run(outbox.counts)).get("sent", 0)
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            service.stop()
            await running
        for helper in helpers:
            helper.send_signal(signal.SIGTERM)
            helper.wait(30)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"cold       wall {wall:6.2f} s   cpu {cpu:6.2f} s (this process)"
            f" + {children.ru_utime + children.ru_stime:.2f} s (worker processes)"
            f"   peak RSS {peak_rss_mb():6.1f} MB   {expected / wall:6.0f} articles/s"
        )
        store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--store", default=None, help="store URL (default: a temporary SQLite)")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(arguments.feeds, arguments.processes, arguments.store))
