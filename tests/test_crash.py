"""``newsbote worker`` processes: three drain one PostgreSQL ledger without sharing a row,
two share the polling of one store, and workers killed with SIGKILL at random points lose
nothing and post nothing twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from newsbote.store import Store, open_store
from newsbote.store.schema import deliveries
from tests.conftest import fresh_postgres
from tests.helpers import add_destination, board_count, board_titles, seed_deliveries, write_config
from tests.servers import FeedServer, WebhookReceiver, rss
from tests.synapse import Homeserver

SECRET = b"crash-test-secret"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(SECRET).start()
    yield server
    server.stop()


def worker(path: Path, *args: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"NEWSBOTE_TEST_HOOK_SECRET": SECRET.decode()}
    return subprocess.Popen(
        [sys.executable, "-m", "newsbote", "worker", "--config", str(path), "--log-level", "WARNING", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def config(
    tmp_path: Path,
    store_url: str,
    receiver: WebhookReceiver,
    *,
    lease: str = "120s",
    **hook: object,
) -> Path:
    path = write_config(
        tmp_path, store_url, [], routes=[], extra=f'[service]\ndelivery_lease = "{lease}"\n'
    )
    add_destination(
        path, "hook", "webhook", url=receiver.url("/hook"), secret_env="NEWSBOTE_TEST_HOOK_SECRET",
        allow_private=True, **hook,
    )  # fmt: skip
    return path


def states(store: Store) -> dict[str, int]:
    return dict(
        store.call(
            lambda c: c.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            ).all()
        )
    )


def test_three_workers_drain_one_postgresql_ledger_without_sharing_a_row(
    postgres_admin: str, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    for url in fresh_postgres(postgres_admin):
        store = open_store(url)
        try:
            store.call(seed_deliveries, 2000, "hook", datetime.now(UTC))
            path = config(tmp_path, url, receiver)
            processes = [worker(path, "--drain") for _ in range(3)]
            for process in processes:
                _, error = process.communicate(timeout=240)
                assert process.returncode == 0, error.decode()[-2000:]
            assert states(store) == {"sent": 2000}
            per_key = Counter(r.headers["Idempotency-Key"] for r in receiver.received)
            assert len(per_key) == 2000
            assert max(per_key.values()) == 1, "a row was sent twice: two workers claimed it"
        finally:
            store.close()


def test_three_workers_post_one_postgresql_ledger_to_the_board_each_row_once(
    postgres_admin: str, tmp_path: Path
) -> None:
    # the board's rows are taken without a lease (posted and recorded in one transaction):
    # with three workers at it, every row is still posted once and recorded once
    for url in fresh_postgres(postgres_admin):
        store = open_store(url)
        try:
            store.call(seed_deliveries, 2000, "board", datetime.now(UTC))
            path = write_config(tmp_path, url, [], routes=[])
            processes = [worker(path, "--drain") for _ in range(3)]
            for process in processes:
                _, error = process.communicate(timeout=240)
                assert process.returncode == 0, error.decode()[-2000:]
            assert states(store) == {"sent": 2000}
            assert board_count(store) == 2000
            attempts = store.call(
                lambda c: c.execute(select(func.max(deliveries.c.attempts))).scalar_one()
            )
            assert attempts == 1, "a row was taken twice"
        finally:
            store.close()


def crash_loop(path: Path, store: Store, kills: int, rng: random.Random) -> tuple[int, int]:
    """Start a worker, SIGKILL it at a random moment; repeat.

    Returns how many kills there were, and how many left rows claimed by the dead worker.
    """
    killed = mid_send = 0
    for _ in range(kills):
        process = worker(path)
        time.sleep(
            rng.uniform(0.6, 2.0)
        )  # startup takes about 0.6 s: kills land mid-claim/send/record
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        if process.stderr:
            process.stderr.close()
        killed += process.returncode == -signal.SIGKILL
        mid_send += states(store).get("sending", 0) > 0
    return killed, mid_send


def drain(path: Path) -> None:
    process = worker(path, "--drain")
    _, error = process.communicate(timeout=300)
    assert process.returncode == 0, error.decode()[-2000:]


def test_sigkilled_workers_lose_nothing_and_post_nothing_twice(
    receiver: WebhookReceiver, synapse: Homeserver, tmp_path: Path
) -> None:
    items = 400
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    store = open_store(url)
    token = synapse.register("crashbote")
    room = synapse.create_room(token)
    receiver.delay = 0.4  # a slow receiver: a kill often lands while a send is in flight

    def both(directory: Path, rate: int) -> Path:
        """The webhook and the Matrix room, each at ``rate`` posts a minute."""
        directory.mkdir()
        path = config(directory, url, receiver, lease="2s", rate_per_minute=rate)
        add_destination(
            path, "raum", "matrix", homeserver=synapse.url, room=room, access_token=token,
            allow_private=True, rate_per_minute=rate,
        )  # fmt: skip
        return path

    try:
        store.call(seed_deliveries, items, "hook", datetime.now(UTC), more=("raum",))
        # slow workers (5 posts a second each way), so that 50 kills find them mid-work
        killed, mid_send = crash_loop(both(tmp_path / "slow", 300), store, 50, random.Random(11))
        assert killed == 50
        assert mid_send >= 10, f"only {mid_send} kills caught a worker mid-send"
        assert states(store).get("pending", 0) > 0, "the workers finished before the kills ended"
        time.sleep(2.5)  # every lease of a killed worker has run out
        drain(both(tmp_path / "fast", 600_000))
        assert states(store) == {"sent": 2 * items}
    finally:
        store.close()
    assert len(receiver.posts) == items
    resent = len(receiver.received) - items
    assert resent > 0, "no send was cut off by a kill: the test did not test a crash"
    events = synapse.messages(token, room)
    bodies = Counter(e["content"]["body"] for e in events)
    assert len(bodies) == items and max(bodies.values()) == 1, "an item reached Matrix twice"
    assert len(events) == items


def test_two_workers_share_the_polling_of_one_store(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    for n in range(10):
        items = [
            (f"f{n}-{i}", f"https://example.org/{n}/{i}", f"Artikel {n}.{i}") for i in range(5)
        ]
        feed_server.set(f"/feed{n}.xml", rss(items))
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    sources = [
        {"name": f"feed{n}", "url": feed_server.url(f"/feed{n}.xml"), "allow_private": True,
         "first_run": "all", "interval": "1h"}
        for n in range(10)
    ]  # fmt: skip
    path = write_config(tmp_path, url, sources)
    processes = [worker(path) for _ in range(2)]
    store = open_store(url)
    try:
        deadline = time.monotonic() + 60
        while board_count(store) < 50 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a second round changes nothing: every source is leased or done
        for process in processes:
            process.send_signal(signal.SIGTERM)
            _, error = process.communicate(timeout=30)
            assert process.returncode == 0, error.decode()[-2000:]
        assert board_count(store) == 50
        assert sorted(board_titles(store)) == sorted(
            f"Artikel {n}.{i}" for n in range(10) for i in range(5)
        )
        assert len(feed_server.requests) == 10  # each feed fetched once, by one of the two
    finally:
        store.close()
