"""Small builders for test configs and services."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from newsbote.config import LoadedConfig, load_config
from newsbote.pipeline import PollReport
from newsbote.store import Store
from newsbote.store.schema import board_posts, deliveries, items, sources
from newsbote.worker import Service

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def write_config(
    directory: Path,
    store_url: str,
    sources: Sequence[dict[str, Any]],
    *,
    routes: Sequence[dict[str, Any]] | None = None,
    language: str = "de",
    extra: str = "",
) -> Path:
    lines = [f"language = {toml_value(language)}", f"store = {toml_value(store_url)}", extra, ""]
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in source.items()]
        lines.append("")
    lines += ["[[destinations]]", 'name = "board"', 'kind = "board"', ""]
    for route in routes or [{"sources": ["*"], "destinations": ["board"]}]:
        lines.append("[[routes]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in route.items()]
        lines.append("")
    path = directory / "newsbote.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def seed_deliveries(
    connection: Connection,
    count: int,
    destination: str = "board",
    now: datetime = NOW,
    more: Sequence[str] = (),
    body: str | None = None,
) -> None:
    """``count`` items of one source, each with a pending delivery to ``destination`` (and
    ``more``); ``body`` is every post's HTML (default: a short line naming the item)."""
    source_id = connection.execute(
        sources.insert().values(
            name="s", config_url="x", url="x", errors=0, first_run_done=True, created_at=now
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    item_rows = [
        {
            "source_id": source_id,
            "key": f"k{i}",
            "key_kind": "guid",
            "title": f"T{i}",
            "content_html": "",
            "summary_html": "",
            "teaser": "",
            "categories": "[]",
            "fingerprint": "f",
            "version": 1,
            "decision": "queued",
            "reason": "",
            "first_seen_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    ids = connection.execute(
        items.insert().returning(items.c.id, sort_by_parameter_order=True), item_rows
    ).scalars()
    connection.execute(
        deliveries.insert(),
        [
            {
                "item_id": item_id,
                "destination": name,
                "dedupe_key": f"d{item_id}",
                "version": 1,
                "action": "post",
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "title": f"Meldung {item_id}",
                "body": body or f"<p>Meldung Nummer {item_id}</p>",
                "link": f"https://example.org/{item_id}",
                "markup": "html",
                "created_at": now,
                "updated_at": now,
            }
            for item_id in ids
            for name in (destination, *more)
        ],
    )


def feed_config(
    directory: Path,
    store_url: str,
    feed_url: str,
    destinations: Sequence[str],
    *,
    source: dict[str, Any] | None = None,
    **route: Any,
) -> Path:
    """A config with one source "blog" (posting everything it has) routed to ``destinations``."""
    blog = {"name": "blog", "url": feed_url, "allow_private": True, "first_run": "all"}
    return write_config(
        directory,
        store_url,
        [blog | (source or {})],
        routes=[{"sources": ["*"], "destinations": list(destinations), **route}],
    )


def add_destination(path: Path, name: str, kind: str, **options: Any) -> None:
    """Append a ``[[destinations]]`` table to the config file at ``path``."""
    lines = ["", "[[destinations]]", f"name = {toml_value(name)}", f"kind = {toml_value(kind)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in options.items()]
    path.write_text(path.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")


async def run_once(loaded: LoadedConfig, store: Store, *, force: bool = True) -> list[PollReport]:
    async with Service(loaded, store) as service:
        return await service.run_once(force=force)


def board_titles(store: Store) -> list[str]:
    """Thread titles on the board, oldest first."""
    return store.call(
        lambda c: [
            row.thread_title for row in c.execute(select(board_posts).order_by(board_posts.c.id))
        ]
    )


def board_count(store: Store) -> int:
    return int(
        store.call(lambda c: c.execute(select(func.count()).select_from(board_posts)).scalar_one())
    )


def load(path: Path) -> LoadedConfig:
    return load_config(path)
