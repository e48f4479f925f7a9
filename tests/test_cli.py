"""The command line end to end: init → add → check → run --once → status / why / preview."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from newsbote import cli
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
        code, output = invoke("resolve", "1", "--not-sent", "-c", str(configured))
        assert code == 1 and "delivery 1 is sent; only a delivery in state 'unknown'" in output
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


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["https://a.example/feed", "--interval", "15min"], "sources.interval"),
        (["https://a.example/feed", "--first-run", "lots"], "sources.first_run"),
        (["ftp://a.example/feed"], "sources.url"),
    ],
    ids=["interval", "first_run", "scheme"],
)
def test_a_refused_add_leaves_the_config_byte_for_byte(
    configured: Path, arguments: list[str], complaint: str
) -> None:
    """The right error used to come after the bad block was written: every later
    command then failed on it."""
    before = configured.read_bytes()
    code, output = invoke("add", *arguments, "-c", str(configured))
    assert code == 2 and complaint in output and "left unchanged" in output
    assert configured.read_bytes() == before
    assert invoke("check", "--no-fetch", "-c", str(configured))[0] == 0


def test_a_refused_remove_or_import_leaves_the_config_byte_for_byte(
    configured: Path, tmp_path: Path
) -> None:
    before = configured.read_bytes()
    code, output = invoke("remove", "nothing-of-that-name", "-c", str(configured))
    assert code == 2 and "no source with URL or name" in output
    assert configured.read_bytes() == before

    opml = tmp_path / "feeds.opml"
    feeds = [
        "https://fine.example/feed",
        "ftp://files.example/feed",
        "file:///home/someone/.ssh/id_rsa",
        "/etc/passwd",
    ]
    for bad in feeds[1:]:  # alone or among good ones, no outline may name a local file
        outlines = "".join(f'<outline type="rss" xmlUrl="{u}"/>' for u in (feeds[0], bad))
        opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>')
        code, output = invoke("import-opml", str(opml), "-c", str(configured))
        assert code == 2 and "nothing was imported" in output, output
        assert configured.read_bytes() == before


# What a hostile feed puts in its titles: a window title change (OSC), a colour (CSI),
# a right-to-left override, Rich markup, and a C1 control.
EVIL = "\x1b]0;pwned\x07\x1b[31m\u202e[red]x[/red]\x9b"
RAW = ["\x1b", "\x07", "\u202e", "\x9b", "]0;pwned", "[31m"]


def _json_feed(title: str) -> str:
    import json

    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": f"Feed {title}",
            "items": [
                {
                    "id": "evil-1",
                    "url": "https://example.org/evil",
                    "title": f"Artikel {title}",
                    "content_html": f"<p>Text {title}</p>",
                }
            ],
        }
    )


def test_text_from_outside_cannot_drive_the_terminal_or_show_a_password(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    """Feed titles, stored errors and replies reached the terminal raw: escape sequences
    changed the window title and colours, Rich read ``[red]`` as markup, and a feed URL's
    password was printed."""
    from sqlalchemy import update

    from newsbote.store import open_store
    from newsbote.store.schema import deliveries, sources
    from tests.helpers import write_config

    feed_server.set("/evil.json", _json_feed(EVIL), content_type="application/feed+json")
    locked = feed_server.url("/locked.xml").replace("://", "://reader:s3cret@")
    config = write_config(
        tmp_path,
        sqlite_url,
        [
            {"name": "evil", "url": feed_server.url("/evil.json"), "allow_private": True},
            {"name": "locked", "url": locked, "allow_private": True},  # 404: an error
        ],
    )
    outputs: dict[str, str] = {}
    outputs["check"] = invoke("check", "-c", str(config))[1]
    outputs["preview"] = invoke("preview", "evil", "-c", str(config))[1]
    outputs["run"] = invoke("run", "--once", "-c", str(config))[1]
    store = open_store(sqlite_url)
    try:  # what destinations and publishers answered, as stored
        store.call(
            lambda c: c.execute(
                update(deliveries).values(
                    state="failed", last_error=f"HTTP 502 {EVIL} from {locked}"
                )
            )
        )
        store.call(
            lambda c: c.execute(
                update(sources)
                .where(sources.c.name == "evil")
                .values(errors=1, last_error=f"{EVIL} at {locked}", url=locked)
            )
        )
    finally:
        store.close()
    cli.console.width = 300  # wide enough that no table cell is cut short
    try:
        outputs["status"] = invoke("status", "-c", str(config))[1]
        outputs["why"] = invoke("why", "https://example.org/evil", "-c", str(config))[1]
        outputs["deliveries"] = invoke("deliveries", "-c", str(config))[1]
    finally:
        cli.console.width = None  # type: ignore[assignment]  # the terminal's again
    shows = {
        "check": "Feed",
        "preview": "Artikel",
        "run": "polled 2 source(s)",
        "status": "evil",
        "why": "Artikel",
        "deliveries": "HTTP 502",
    }
    for command, output in outputs.items():
        assert shows[command] in output, (command, output)
        for raw in RAW:
            assert raw not in output, (command, raw, output)
        assert "s3cret" not in output, (command, output)
    # the markup is shown as the feed wrote it, not read as a colour
    assert "[red]x[/red]" in outputs["preview"] and "[red]x[/red]" in outputs["why"]
    assert "reader:***@" in outputs["check"] and "reader:***@" in outputs["status"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x1b]0;title\x07b", "ab"),  # OSC ended by BEL
        ("a\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\b", "alinkb"),  # ended by ST
        ("a\x1b[1;31mred\x1b[0mb", "aredb"),  # CSI
        ("a\x1bcb", "ab"),  # ESC and one character (here: reset the terminal)
        ("a\x9b31mb\x85c", "a31mbc"),  # C1 controls alone
        ("a\rb\x08c\x00d\x7f", "abcd"),
        ("\u202aa\u202bb\u202cc\u202dd\u202ee\u2066f\u2067g\u2068h\u2069", "abcdefgh"),
        ("line\nnext\tcol", "line next col"),
        ("ftp://me:pa:ss@h.example/x and https://u:p@h2.example", "ftp://me:***@h.example/x and https://u:***@h2.example"),
        ("Grüße, 東京 — [b]ok[/b]", "Grüße, 東京 — [b]ok[/b]"),
    ],
)  # fmt: skip
def test_shown_text_is_plain_one_line_and_masked(text: str, expected: str) -> None:
    assert cli.shown(text) == expected


def test_shown_keeps_lines_where_asked_and_markup_is_escaped() -> None:
    assert cli.shown("a\nb\tc\r", lines=True) == "a\nb\tc"
    from rich.console import Console

    printed = Console(width=200, emoji=False)
    with printed.capture() as captured:
        printed.print(f"title: {cli.shown_markup('[bold red]x[/] :smile:')}")
    assert captured.get().strip() == "title: [bold red]x[/] :smile:"


def test_shown_takes_linear_time_on_unterminated_sequences() -> None:
    """Unbounded untrusted text: a long run of escape openers and URL prefixes."""
    hostile = "\x1b]" * 50_000 + "\x1b[" * 50_000 + "\n" + "://a:" * 50_000
    assert cli.shown(hostile) == " " + "://a:" * 50_000


def test_log_lines_pass_through_shown(caplog: pytest.LogCaptureFixture) -> None:
    formatter = cli._ShownFormatter("%(message)s")
    record = logging.LogRecord("newsbote.x", logging.INFO, "f", 1, "title=%s", ("\x1b[31mx",), None)
    assert formatter.format(record) == "title=x"
