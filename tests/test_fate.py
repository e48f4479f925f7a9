"""Every outcome of the fixed set, each produced by a real poll of a local feed server and
read back as ``why`` reads it (``explain``), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsbote.fate import Fate, Judged
from newsbote.route import routes_for
from newsbote.store import Store
from newsbote.store.queries import explain
from newsbote.worker import Service
from tests.helpers import add_destination, load, run_once, write_config
from tests.servers import FeedServer, WebhookReceiver, rss

SECRET = "geheim-und-lang"
ITEMS = [("g2", "https://example.org/2", "Zwei"), ("g1", "https://example.org/1", "Eins")]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    monkeypatch.setenv("NEWSBOTE_TEST_HOOK_SECRET", SECRET)
    server = WebhookReceiver(SECRET.encode()).start()
    yield server
    server.stop()


def _source(server: FeedServer, name: str = "blog", **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": server.url(f"/{name}.xml"), "allow_private": True, **extra}


def _hook(path: Path, receiver: WebhookReceiver, **options: Any) -> None:
    add_destination(
        path, "hook", "webhook", url=receiver.url("/hook"), allow_private=True,
        secret_env="NEWSBOTE_TEST_HOOK_SECRET", **options,
    )  # fmt: skip


def fates_of(store: Store, path: Path, query: str) -> dict[str | None, Judged]:
    """``why``'s outcomes for the one item ``query`` names, by destination."""
    config = load(path).config
    routes = {
        s.name: [r.destinations for r in routes_for(config.routes, s.name)] for s in config.sources
    }
    (found,) = store.call(explain, query, routes)
    return {judged.destination: judged for judged in found.fates}


async def test_posted_and_held_by_the_first_run_guard(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/blog.xml", rss(ITEMS))
    path = write_config(tmp_path, store_url, [_source(feed_server)])
    await run_once(load(path), store)
    posted = fates_of(store, path, "g2")["board"]
    assert posted.fate is Fate.POSTED and posted.detail.startswith("posted: /p/newsbote-")
    seen = fates_of(store, path, "g1")["board"]
    assert seen.fate is Fate.HELD_FIRST_RUN and "first run of source 'blog'" in seen.detail


async def test_would_post_until_the_delivery_round(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path,
    receiver: WebhookReceiver,
) -> None:  # fmt: skip
    feed_server.set("/blog.xml", rss(ITEMS[:1]))
    path = write_config(
        tmp_path, store_url, [_source(feed_server)], routes=[{"destinations": ["hook"]}]
    )
    _hook(path, receiver)
    async with Service(load(path), store) as service:
        await service.poll_due(force=True)  # polled, not yet delivered
    judged = fates_of(store, path, "g2")["hook"]
    assert (judged.fate, judged.detail) == (Fate.WOULD_POST, "queued to post (version 1)")


async def test_held_for_approval_and_held_as_a_flood(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/blog.xml", rss(ITEMS[1:]))
    feed_server.set("/wait.xml", rss([("w1", "https://example.org/w1", "Warte")]))
    sources = [_source(feed_server), _source(feed_server, "wait")]
    routes: list[dict[str, Any]] = [
        {"sources": ["blog"], "destinations": ["board"]},
        {"sources": ["wait"], "destinations": ["board"], "approve": True},
    ]
    extra = "[health]\nflood_limit = 1"
    path = write_config(tmp_path, store_url, sources, routes=routes, extra=extra)
    await run_once(load(path), store)
    feed_server.set("/blog.xml", rss([("g3", "https://example.org/3", "Drei"), *ITEMS]))
    await run_once(load(path), store)
    approval = fates_of(store, path, "w1")["board"]
    assert (approval.fate, approval.detail) == (Fate.HELD_APPROVAL, "waiting for approval")
    flood = fates_of(store, path, "g3")["board"]
    assert (flood.fate, flood.detail) == (Fate.HELD_FLOOD, "flood: 2 new items in one poll")


async def test_previously_seen_unchanged_and_update_ignored(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    feed_server.set("/blog.xml", rss(ITEMS[:1]))
    feed_server.set("/copy.xml", rss([("c2", "https://example.org/2", "Zwei, kopiert")]))
    path = write_config(
        tmp_path,
        store_url,
        [_source(feed_server, first_run="all")],
        routes=[{"destinations": ["board"]}],
    )
    await run_once(load(path), store)
    # a second source with the same article; a second destination, routed after the fact
    path = write_config(
        tmp_path, store_url,
        [_source(feed_server, first_run="all"), _source(feed_server, "copy", first_run="all")],
        routes=[{"destinations": ["board"]}, {"sources": ["blog"], "destinations": ["later"]}],
    )  # fmt: skip
    add_destination(path, "later", "board")
    feed_server.set("/blog.xml", rss(ITEMS[:1]).replace("Text von Zwei.", "Neuer Text."))
    await run_once(load(path), store)
    copy = fates_of(store, path, "c2")["board"]
    assert copy.fate is Fate.PREVIOUSLY_SEEN and copy.detail.startswith("duplicate of item #1")
    blog = fates_of(store, path, "g2")
    assert blog["board"].fate is Fate.UPDATE_IGNORED
    assert blog["board"].detail.startswith("version 2 not passed on")
    assert blog["later"].fate is Fate.UNCHANGED


async def test_blocked_by_filter_and_too_old(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    old = rss([]).replace(
        "</channel>",
        "<item><guid>o1</guid><title>Alt</title><pubDate>Mon, 01 Jan 2024 10:00:00 GMT</pubDate>"
        "</item></channel>",
    )
    feed_server.set("/blog.xml", rss(ITEMS[:1]))
    feed_server.set("/old.xml", old)
    sources = [_source(feed_server), _source(feed_server, "old")]
    routes = [{"sources": ["blog"], "destinations": ["board"], "exclude": ["Zwei"]}]
    path = write_config(tmp_path, store_url, sources, routes=routes)
    path.write_text(
        path.read_text()
        + '\n[[routes]]\nsources = ["old"]\ndestinations = ["board"]\nfilter = { max_age = "1d" }\n'
    )
    await run_once(load(path), store)
    blocked = fates_of(store, path, "g2")["board"]
    assert (blocked.fate, blocked.detail) == (
        Fate.BLOCKED,
        "route 1: excluded by the word 'Zwei'",
    )
    too_old = fates_of(store, path, "o1")["board"]
    assert too_old.fate is Fate.TOO_OLD and too_old.detail == (
        "route 1: blocked by the filter: older than 1d (published 2024-01-01 10:00 UTC)"
    )


async def test_over_the_daily_cap_failing_and_dead(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path,
    receiver: WebhookReceiver,
) -> None:  # fmt: skip
    feed_server.set("/blog.xml", rss([("g3", "https://example.org/3", "Drei"), *ITEMS]))
    path = write_config(
        tmp_path, store_url, [_source(feed_server, first_run="all")],
        routes=[{"destinations": ["hook"]}],
    )  # fmt: skip
    _hook(path, receiver, daily_cap=2)
    receiver.fail = [(400, {}), (503, {})]  # the oldest dies, the next fails, the third waits
    await run_once(load(path), store)
    sent = {fates_of(store, path, key)["hook"] for key in ("g1", "g2")}  # in either order
    ((dead,), (failing,)) = (
        [j for j in sent if j.fate is fate] for fate in (Fate.DEAD, Fate.FAILING)
    )
    assert "400" in dead.detail and "503" in failing.detail
    capped = fates_of(store, path, "g3")["hook"]
    assert capped.fate is Fate.OVER_DAILY_CAP
    assert capped.detail.startswith("over the daily cap of 2")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_why_prints_each_destinations_outcome_with_its_detail(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    import typer
    from typer.testing import CliRunner

    from newsbote import cli
    from newsbote.cli_holds import why_command

    feed_server.set("/blog.xml", rss(ITEMS))
    path = write_config(tmp_path, store_url, [_source(feed_server)])
    await run_once(load(path), store)
    app = typer.Typer()
    app.command("why")(why_command)
    app.command("other")(why_command)  # two commands: typer takes the first as a name
    saved, cli.console.width = cli.console._width, 300
    try:
        result = CliRunner().invoke(app, ["why", "g1", "--config", str(path)])
    finally:
        cli.console._width = saved
    assert result.exit_code == 0, result.output
    assert "outcome:     board: held by the first-run guard: first run of source 'blog'" in (
        result.output
    )
