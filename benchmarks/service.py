"""Service benchmark: a cold start of N feeds the way ``newsbote run`` does it, with K processes.

``poll.py`` times the pipeline's batch calls; this one times the service itself: the
scheduler, the pollers and the delivery loop of ``Service.run_forever``, with
``[service] processes = K`` (K-1 helper processes on the same store, started by the
service as ``newsbote run`` starts them, each claiming due sources and deliveries with
leases). The clock starts before the helpers do and runs until all 20 × N articles are
on the board. Prints wall seconds, CPU seconds (this process, and its helpers) and this
process's peak RSS.
Usage: python benchmarks/service.py [--feeds 1000] [--processes 2] [--store URL]
"""

from __future__ import annotations

import asyncio
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
from poll import arguments, cpu_seconds, peak_rss_mb, write_config


async def main(feeds: int, processes: int, store_url: str | None) -> None:
    with running_farm(feeds) as port, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = store_url or f"sqlite:///{directory / 'bench.db'}"
        path = write_config(directory, url, feeds, port, processes)
        loaded = load_config(path)
        store = open_store(loaded.config.store)
        expected = feeds * ENTRIES
        print(
            f"{feeds} feeds × {ENTRIES} entries, store {url.split('://')[0]}, {processes} processes"
        )
        wall, cpu = time.perf_counter(), time.process_time()
        async with Service(loaded, store, processes=processes) as service:
            helpers = service.helper_pids
            running = asyncio.create_task(service.run_forever())
            sent = 0
            while sent < expected:
                await asyncio.sleep(0.05)
                # a read: no write lock, so the check does not hold up the service's writes
                sent = (await store.read(outbox.counts)).get("sent", 0)
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            helper_cpu = cpu_seconds(helpers)
            service.stop()
            await running
        print(
            f"cold       wall {wall:6.2f} s   cpu {cpu:6.2f} s (this process)"
            f" + {helper_cpu:.2f} s (helpers)"
            f"   peak RSS {peak_rss_mb():6.1f} MB   {expected / wall:6.0f} articles/s"
        )
        store.close()


if __name__ == "__main__":
    options = arguments(__doc__)
    asyncio.run(main(options.feeds, options.processes, options.store))
