"""Poll benchmark: N local feeds through newsbote's real pipeline, three cycles.

fetch → parse → identify → store → render → enqueue → deliver to the board, for

* cold: every feed new, first-run guard off, every item enqueued and posted;
* unchanged: every feed answers 304;
* tick: 10 % of the feeds gained one entry.

Prints wall seconds, CPU seconds (this process, and helpers), feeds/s and peak RSS per cycle.
With ``--processes K`` the service polls with K processes (``[service] processes``: K-1
helper processes beside this one, as ``newsbote run`` starts them).
Usage: python benchmarks/poll.py [--feeds 1000] [--processes 1] [--store sqlite|postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import running_farm
from newsbote import outbox
from newsbote.config import load_config
from newsbote.store import Store, open_store
from newsbote.worker import Service


def write_config(directory: Path, store: str, feeds: int, port: int, processes: int = 1) -> Path:
    lines = [
        f'store = "{store}"',
        "[web]\nenabled = false",
        # one host serves every feed here, so the per-host limit is the global one
        f"[service]\nper_host = 100\nconcurrency = 100\nmin_interval = 1\nprocesses = {processes}",
    ]
    for n in range(feeds):
        lines.append(
            f'[[sources]]\nname = "feed-{n}"\nurl = "http://127.0.0.1:{port}/feed/{n}.xml"\n'
            'allow_private = true\nfirst_run = "all"'
        )
    lines.append('[[destinations]]\nname = "board"\nkind = "board"')
    lines.append('[[routes]]\nsources = ["*"]\ndestinations = ["board"]')
    path = directory / "newsbote.toml"
    path.write_text("\n\n".join(lines))
    return path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these running processes (Linux)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def ledger_rows(store: Store) -> int:
    return sum(store.call(outbox.counts).values())


async def cycle(service: Service, store: Store, name: str, feeds: int) -> None:
    helpers = service.helper_pids
    rows = ledger_rows(store)
    wall, cpu, helper_cpu = time.perf_counter(), time.process_time(), cpu_seconds(helpers)
    reports = await service.poll_due(force=True)
    polled = time.perf_counter() - wall
    delivered = await service.deliver_all()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    errors = [r for r in reports if r.error]
    queued = ledger_rows(store) - rows
    helped = f" + {cpu_seconds(helpers) - helper_cpu:5.2f} s" if helpers else ""
    print(
        f"{name:<10} wall {wall:6.2f} s   cpu {cpu:6.2f} s{helped}   {feeds / wall:6.0f} feeds/s   "
        f"peak RSS {peak_rss_mb():6.1f} MB   queued {queued:6d}   errors {len(errors)}   "
        f"(polling {polled:.2f} s, delivering {delivered} in {wall - polled:.2f} s)",
        flush=True,
    )
    if errors:
        print("  first error:", errors[0].error)


async def main(feeds: int, processes: int, store_url: str | None) -> None:
    with running_farm(feeds) as port, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        url = store_url or f"sqlite:///{directory / 'bench.db'}"
        loaded = load_config(write_config(directory, url, feeds, port, processes))
        store = open_store(loaded.config.store)
        print(
            f"{feeds} feeds × 20 entries, store {url.split('://')[0]}, {processes} process(es), "
            f"baseline RSS {peak_rss_mb():.1f} MB"
        )
        async with Service(loaded, store, processes=processes) as service:
            await service.ready()  # the helpers' start is not the pipeline's (service.py times it)
            await cycle(service, store, "cold", feeds)
            await cycle(service, store, "unchanged", feeds)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/_tick?fraction=0.1", method="POST"
            )
            with urllib.request.urlopen(request) as answer:
                answer.read()
            await cycle(service, store, "tick", feeds)
        store.close()


def arguments(doc: str | None) -> argparse.Namespace:
    """The options the polling and service benchmarks share; logging set up for a run."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument(
        "--store", default=None, help="store URL (default: a temporary SQLite file)"
    )
    logging.basicConfig(level=logging.ERROR)
    return parser.parse_args()


if __name__ == "__main__":
    options = arguments(__doc__)
    asyncio.run(main(options.feeds, options.processes, options.store))
