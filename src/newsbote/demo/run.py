"""``newsbote demo``: writes the demo config, serves the sample sources, runs the service."""

from __future__ import annotations

import logging
from pathlib import Path

from newsbote.config import load_config
from newsbote.demo import server
from newsbote.serve import serve
from newsbote.store import open_store

log = logging.getLogger("newsbote.demo")


def demo_config(language: str, port: int, feed_port: int) -> str:
    base = f"http://127.0.0.1:{feed_port}"
    return f"""# Written by 'newsbote demo' on every start; edit a copy, not this file.
language = "{language}"
store = "sqlite:///newsbote.db"

[bot]
name = "News-Bote"
title = "{"Ich bring die Post" if language == "de" else "I bring the mail"}"

[web]
host = "127.0.0.1"
port = {port}

[service]
# The demo's own server publishes every 20 seconds; real publishers get the 1-minute floor.
min_interval = "5s"

[[sources]]
name = "bote-blog"
url = "{base}/blog/feed.xml"
interval = "10s"
first_run = 3
allow_private = true        # the sample server runs on 127.0.0.1
allow_private_pages = true  # and serves the article pages too

[[sources]]
name = "courier-weekly"
url = "{base}/news/atom.xml"
interval = "30s"
first_run = 2
allow_private = true
allow_private_pages = true   # its entries are teasers of pages on the same sample server
language = "en"

[[destinations]]
name = "board"
kind = "board"

[[routes]]
sources = ["*"]
destinations = ["board"]
"""


async def run_demo(directory: Path, *, port: int, feed_port: int, language: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "newsbote.toml"
    config_file.write_text(demo_config(language, port, feed_port), encoding="utf-8")
    runner = await server.start(directory, feed_port)
    try:
        loaded = load_config(config_file)
        store = open_store(loaded.config.store)
        try:
            ready = (
                f"demo running: board at http://127.0.0.1:{port}/ · sample feeds at "
                f"http://127.0.0.1:{feed_port}/blog/feed.xml (a new article every 20 s) · Ctrl-C stops"
            )
            await serve(loaded, store, on_ready=ready)
        finally:
            store.close()
    finally:
        await runner.cleanup()
    log.info("demo stopped")
