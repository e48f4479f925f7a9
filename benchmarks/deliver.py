"""Delivery benchmark: N ledger rows to a local webhook receiver, 32 sends in flight.

The receiver runs in its own process and answers every POST with 200. newsbote's
real delivery path runs: claim (lease) → webhook send (signed JSON, Idempotency-Key)
→ record. Prints deliveries per second and CPU seconds.
Usage: python benchmarks/deliver.py [--items 5000] [--store sqlite|postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers

from tests.helpers import seed_deliveries

from farm import free_port
from newsbote.config import parse_config
from newsbote.deliver.runner import deliver_due
from newsbote.store import open_store
from newsbote.worker import build_destinations

BODY = "<p>" + "Ein Satz über Glasfaser und Netze. " * 60 + "</p>"


def _receive(port: int, ready: multiprocessing.synchronize.Event) -> None:
    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": request.headers["Idempotency-Key"]})

    async def started(_: web.Application) -> None:
        ready.set()

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.on_startup.append(started)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _seed(connection: Connection, count: int) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    seed_deliveries(connection, count, "hook", now, body=BODY)


async def drain(loaded: Any, store: Any) -> int:
    destinations = build_destinations(loaded, store)
    sent = 0
    try:
        while True:
            outcomes = await deliver_due(store, destinations, limit=32)
            if not outcomes:
                return sent
            sent += sum(1 for o in outcomes if o.receipt is not None)
    finally:
        for destination in destinations.values():
            await destination.close()


def main(count: int, store_url: str | None) -> None:
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    receiver = context.Process(target=_receive, args=(port, ready), daemon=True)
    receiver.start()
    ready.wait(60)
    os.environ["NEWSBOTE_BENCH_SECRET"] = "bench"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = store_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            text = (
                f'store = "{url}"\n[[destinations]]\nname = "hook"\nkind = "webhook"\n'
                f'url = "http://127.0.0.1:{port}/hook"\nsecret_env = "NEWSBOTE_BENCH_SECRET"\nallow_private = true\n'
            )
            loaded = parse_config(text, Path(tmp) / "newsbote.toml")
            store = open_store(loaded.config.store)
            store.call(_seed, count)
            wall, cpu = time.perf_counter(), time.process_time()
            sent = asyncio.run(drain(loaded, store))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            store.close()
            print(
                f"{sent} of {count} delivered to the webhook, store {url.split('://')[0]}: "
                f"{wall:.2f} s wall, {cpu:.2f} s CPU, {sent / wall:.0f} deliveries/s (32 in flight)"
            )
    finally:
        receiver.terminate()
        receiver.join(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--store", default=None)
    arguments = parser.parse_args()
    main(arguments.items, arguments.store)
