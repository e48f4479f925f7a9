"""The command line end to end: init → add → check → run --once → status / why / preview."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsbote.cli import _progress_bar, app
from tests.servers import FeedServer, rss

runner = CliRunner()
ITEMS = [
    ("g2", "https://example.org/2", "Zweiter Artikel"),
    ("g1", "https://example.org/1", "Erster Artikel"),
]


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def configured(tmp_path: Path, feed_server: FeedServer, store_url: str) -> Path:
    feed_server.set("/feed.xml", rss(ITEMS, title="Testblog"))
    path = tmp_path / "newsbote.toml"
    code, output = invoke("init", "-c", str(path))
    assert code == 0, output
    text = path.read_text().replace('store = "sqlite:///newsbote.db"', f'store = "{store_url}"')
    path.write_text(text)
    code, output = invoke("add", feed_server.url("/feed.xml"), "-c", str(path), "--name", "blog")
    assert code == 0, output
    path.write_text(
        path.read_text().replace('name = "blog"', 'name = "blog"\nallow_private = true')
    )
    return path


def test_init_check_run_status_why_preview(configured: Path, feed_server: FeedServer) -> None:
    code, output = invoke("check", "-c", str(configured))
    assert code == 0, output
    assert "source blog: 'Testblog': 2 entries" in output

    code, output = invoke("preview", "blog", "-c", str(configured))
    assert code == 0, output
    assert "Zweiter Artikel" in output and "zum Artikel…" in output and "→ board (html)" in output
    code, output = invoke("status", "-c", str(configured))
    assert "deliveries: empty" in output

    code, output = invoke("run", "--once", "-c", str(configured))
    assert code == 0, output
    assert "polled 1 source(s); ledger: sent 1" in output

    code, output = invoke("status", "-c", str(configured))
    assert code == 0, output
    assert "blog" in output and "200" in output and "sent 1" in output

    code, output = invoke("why", "https://www.example.org/2?utm_source=x", "-c", str(configured))
    assert code == 0, output
    assert "identified:  by guid 'g2'" in output
    assert "queued" in output and "board v1 post: sent" in output
    code, output = invoke("why", "g1", "-c", str(configured))
    assert "first run of source 'blog'" in output and "none queued" in output
    code, output = invoke("why", "https://nowhere.example/", "-c", str(configured))
    assert code == 1 and "no stored item" in output

    code, output = invoke("preview", "blog", "-c", str(configured))
    assert "unchanged" in output and "nothing would be sent" in output


def test_check_reports_a_failing_source(configured: Path, feed_server: FeedServer) -> None:
    feed_server.set("/feed.xml", status=500, conditional=False)
    code, output = invoke("check", "-c", str(configured))
    assert code == 1
    assert "source blog:" in output and "HTTP 500" in output


def test_config_errors_are_readable(tmp_path: Path) -> None:
    path = tmp_path / "newsbote.toml"
    path.write_text('language = "de"\n\n[[destinations]]\nname = "board"\nkind = "mastadon"\n')
    code, output = invoke("check", "-c", str(path))
    assert code == 2
    assert f"{path}:5: destinations.kind: unknown destination kind 'mastadon'" in output
    code, output = invoke("status", "-c", str(tmp_path / "missing.toml"))
    assert code == 2 and "config file not found" in output and "newsbote init" in output


def test_remove_and_opml_round_trip(configured: Path, tmp_path: Path) -> None:
    out = tmp_path / "sources.opml"
    code, output = invoke("export-opml", "-c", str(configured), "-o", str(out))
    assert code == 0, output
    assert "xmlUrl=" in out.read_text()
    code, output = invoke("remove", "blog", "-c", str(configured))
    assert code == 0 and "removed source" in output
    code, output = invoke("import-opml", str(out), "-c", str(configured))
    assert code == 0, output
    assert "imported 1 new source(s)" in output
    assert "/feed.xml" in configured.read_text()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "newsbote.toml"
    assert invoke("init", "-c", str(path))[0] == 0
    code, output = invoke("init", "-c", str(path))
    assert code == 2 and "exists already" in output


def test_run_names_a_taken_port(configured: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        configured.write_text(configured.read_text().replace("port = 8080", f"port = {port}"))
        code, output = invoke("run", "-c", str(configured))
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port} for the web server ([web] port)" in output


def test_operator_controls_the_ledger(
    configured: Path, feed_server: FeedServer, store_url: str
) -> None:
    from sqlalchemy import update

    from newsbote.store import open_store
    from newsbote.store.schema import deliveries

    configured.write_text(
        configured.read_text().replace('name = "blog"', 'name = "blog"\nfirst_run = "all"')
    )
    assert invoke("run", "--once", "-c", str(configured))[0] == 0
    code, output = invoke("deliveries", "-c", str(configured), "--state", "sent")
    assert code == 0 and "Zweiter" in output and "Erster" in output

    store = open_store(store_url)
    try:
        store.call(
            lambda c: c.execute(
                update(deliveries).where(deliveries.c.id == 1).values(state="unknown")
            )
        )
        store.call(
            lambda c: c.execute(
                update(deliveries)
                .where(deliveries.c.id == 2)
                .values(state="dead", last_error="HTTP 403")
            )
        )
        code, output = invoke(
            "resolve", "1", "--sent", "https://board.example/t/1", "-c", str(configured)
        )
        assert code == 0 and "resolved as sent" in output
        assert (
            invoke("resolve", "1", "--not-sent", "-c", str(configured))[0] == 2
        )  # no longer unknown
        code, output = invoke("deliveries", "-c", str(configured), "--state", "dead")
        assert "HTTP 403" in output
        code, output = invoke("retry", "--dead", "-c", str(configured))
        assert code == 0 and "1 delivery(ies) queued again" in output
        states = store.call(
            lambda c: dict(
                c.execute(
                    deliveries.select().with_only_columns(deliveries.c.id, deliveries.c.state)
                ).all()
            )
        )
        assert states == {1: "sent", 2: "pending"}
        code, output = invoke("skip", "2", "-c", str(configured))
        assert code == 0 and "1 delivery(ies) skipped" in output
        assert (
            store.call(
                lambda c: c.execute(
                    deliveries.select()
                    .with_only_columns(deliveries.c.state)
                    .where(deliveries.c.id == 2)
                ).scalar_one()
            )
            == "skipped"
        )
    finally:
        store.close()


def test_log_lines_go_above_a_progress_bar_and_back_after_it() -> None:
    """While a bar shows, the log handler writes to the stderr Rich redirects above it;
    afterwards it writes where it wrote before."""
    handler = logging.StreamHandler(sys.__stderr__)
    logging.getLogger().addHandler(handler)
    try:
        with _progress_bar("polling sources"):
            assert handler.stream is sys.stderr
        assert handler.stream is sys.__stderr__
    finally:
        logging.getLogger().removeHandler(handler)
