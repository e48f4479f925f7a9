"""The floor for ``poll.py``: a bare aiohttp + fastfeedparser + sqlite3 loop on the same farm.

No sanitizing, identity, rendering or delivery: fetch every feed (100 at a time),
parse it, insert its entries into one SQLite table, then fetch again with the
ETag (every answer a 304). The issue's reference machine did 1.95 s cold and
0.91 s unchanged; running this beside ``poll.py`` tells how fast the machine of
the day is, so the two figures can be compared.
Usage: python benchmarks/bare.py [--feeds 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import fastfeedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))

from farm import running_farm


async def cycle(
    session: aiohttp.ClientSession,
    db: sqlite3.Connection,
    port: int,
    feeds: int,
    etags: dict[int, str],
) -> int:
    limit = asyncio.Semaphore(100)
    stored = 0

    async def one(n: int) -> None:
        nonlocal stored
        headers = {"If-None-Match": etags[n]} if n in etags else {}
        async with (
            limit,
            session.get(f"http://127.0.0.1:{port}/feed/{n}.xml", headers=headers) as r,
        ):
            if r.status == 304:
                return
            body = await r.read()
            etags[n] = r.headers.get("ETag", "")
        feed = fastfeedparser.parse(body)
        rows = [
            (e.get("id"), e.get("link"), e.get("title"), e.get("description")) for e in feed.entries
        ]
        db.executemany("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?)", rows)
        db.commit()
        stored += len(rows)

    await asyncio.gather(*(one(n) for n in range(feeds)))
    return stored


async def main(feeds: int) -> None:
    with running_farm(feeds) as port, tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "bare.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE items (key TEXT PRIMARY KEY, link TEXT, title TEXT, html TEXT)")
        etags: dict[int, str] = {}
        async with aiohttp.ClientSession() as session:
            for name in ("cold", "unchanged"):
                wall, cpu = time.perf_counter(), time.process_time()
                stored = await cycle(session, db, port, feeds, etags)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"bare {name:<10} wall {wall:6.2f} s   cpu {cpu:6.2f} s   stored {stored}")
        db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--feeds", type=int, default=1000)
    asyncio.run(main(parser.parse_args().feeds))
