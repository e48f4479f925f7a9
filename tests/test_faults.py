"""The fault suite: 30 % of posts fail (500, 502, 429, or a reply slower than the
client waits, after the post was made). Every item still ends ``sent`` exactly once
where the destination is idempotent or can look its posts up; where it can do
neither, an uncertain send waits as ``unknown`` and is never resent blindly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.worker import Service
from tests.helpers import add_destination, load, write_config
from tests.servers import rss
from tests.test_vendors import options
from tests.vendors import Faults, Vendors

ITEMS = 40


@pytest.fixture
def vendors() -> Iterator[Vendors]:
    server = Vendors().start()
    yield server
    server.stop()


def due_now(store: Store) -> None:
    """Skip the backoff: make every failed or unknown row due (time passes in the test)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.call(
        lambda c: c.execute(
            deliveries.update()
            .where(deliveries.c.state.in_(["failed", "unknown"]))
            .values(next_attempt_at=past)
        )
    )


async def drain(path: Path, store: Store, rounds: int = 30) -> None:
    async with Service(load(path), store) as service:
        await service.poll_due(force=True)
        for _ in range(rounds):
            await service.deliver_all()
            states = store.call(lambda c: set(c.execute(select(deliveries.c.state)).scalars()))
            if states <= {"sent", "dead"}:
                return
            due_now(store)


def feed(vendors: Vendors) -> None:
    items = [(f"g{n}", f"https://example.org/artikel/{n}", f"Meldung Nummer {n:03d} aus dem Netz") for n in range(ITEMS)]  # fmt: skip
    vendors.set("/feed.xml", rss(items))


def config(tmp_path: Path, store_url: str, vendors: Vendors, kinds: list[str]) -> Path:
    path = write_config(
        tmp_path,
        store_url,
        [
            {
                "name": "blog",
                "url": vendors.url("/feed.xml"),
                "allow_private": True,
                "first_run": "all",
            }
        ],
        routes=[{"sources": ["*"], "destinations": kinds}],
    )
    for kind in kinds:
        add_destination(path, kind, kind, **(options(kind, vendors) | {"max_attempts": 50}))
    return path


@pytest.mark.parametrize("kind", ["mastodon", "discourse", "slack", "xenforo"])
async def test_every_item_ends_sent_exactly_once_through_random_faults(
    kind: str, vendors: Vendors, store: Store, store_url: str, tmp_path: Path
) -> None:
    vendors.faults = Faults(rate=0.3, timeout=1.5)
    feed(vendors)
    await drain(config(tmp_path, store_url, vendors, [kind]), store)
    rows = store.call(lambda c: list(c.execute(select(deliveries))))
    assert len(rows) == ITEMS and {r.state for r in rows} == {"sent"}
    posts: dict[object, object] = {"mastodon": vendors.mastodon, "discourse": vendors.discourse,
                                   "slack": vendors.slack, "xenforo": vendors.xenforo}[kind]  # type: ignore[assignment]  # fmt: skip
    assert len(posts) == ITEMS, f"{len(posts)} posts for {ITEMS} items ({vendors.faults.injected})"
    assert vendors.faults.injected["timeout"] > 0 and vendors.faults.injected["429"] > 0
    assert vendors.attempts > ITEMS


@pytest.mark.parametrize("kind", ["telegram", "discord"])
async def test_without_idempotency_or_lookup_an_uncertain_send_is_never_repeated(
    kind: str, vendors: Vendors, sqlite_store: Store, sqlite_url: str, tmp_path: Path
) -> None:
    vendors.faults = Faults(rate=0.3, timeout=1.5)
    feed(vendors)
    await drain(config(tmp_path, sqlite_url, vendors, [kind]), sqlite_store, rounds=15)
    rows = sqlite_store.call(lambda c: list(c.execute(select(deliveries))))
    states = [r.state for r in rows]
    posts = vendors.telegram if kind == "telegram" else vendors.discord
    texts = [str(p.get("text") or p.get("content")) for p in posts.values()]
    titles = [f"Meldung Nummer {n:03d} aus dem Netz" for n in range(ITEMS)]
    arrived = {t: sum(t in text for text in texts) for t in titles}
    assert max(arrived.values()) == 1, "an uncertain send was repeated"
    assert set(states) <= {"sent", "unknown"}
    # every injected timeout left its row unknown (the post arrived, its answer did not)
    assert states.count("unknown") >= vendors.faults.injected["timeout"] > 0
    sent_titles = {r.title for r in rows if r.state == "sent"}
    assert all(arrived[t] == 1 for t in sent_titles)
