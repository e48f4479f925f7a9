"""The filter language of routes: parsing with precise errors, evaluation with reasons,
include/exclude words, and a filtered route end to end on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsbote.cli_filter import filter_test_command
from newsbote.config.load import parse_config
from newsbote.config.schema import RouteConfig
from newsbote.errors import ConfigError
from newsbote.route import route_item
from newsbote.route.decision import evaluate, subject_of
from newsbote.route.filters import (
    All,
    Any,
    Condition,
    FilterSyntaxError,
    MaxAge,
    Not,
    normalize,
    parse_filter,
)
from newsbote.route.trial import filter_test
from newsbote.store import Store
from newsbote.store.queries import explain
from newsbote.types import Entry, Item, KeyKind
from tests.helpers import board_titles, load, run_once, write_config
from tests.servers import FeedServer, rss

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def item(
    title: str = "Linux 7.0",
    *,
    content: str = "<p>Der neue Kernel</p>",
    summary: str = "",
    categories: tuple[str, ...] = (),
    author: str | None = None,
    link: str | None = "https://example.org/a",
    published: datetime | None = None,
    updated: datetime | None = None,
    source: str = "heise",
) -> Item:
    entry = Entry(
        guid="g",
        link=link,
        title=title,
        content_html=content,
        summary_html=summary,
        author=author,
        published=published,
        updated=updated,
        categories=categories,
    )
    return Item(source, "g", KeyKind.GUID, link, entry, "f")


def decide(tree: object, it: Item, language: str | None = "de") -> tuple[bool, str]:
    decision = evaluate(parse_filter(tree), subject_of(it, language=language, now=NOW))
    return decision.passed, decision.reason


def test_normalize_folds_case_and_accents_on_both_sides() -> None:
    assert normalize("Größe Ärger Café ＬＩＮＵＸ") == "grosse arger cafe linux"


def test_contains_finds_whole_words_case_and_accent_insensitively() -> None:
    tree = {"field": "title", "contains": "muller"}
    assert decide(tree, item("Herr MÜLLER spricht")) == (True, 'title contains "muller"')
    # a word inside a longer word is no match: "AI" is not in "said"
    assert decide({"field": "title", "contains": "AI"}, item("he said")) == (
        False,
        'title does not contain "AI"',
    )
    assert (
        decide({"field": "title", "contains": "linux kernel"}, item("Der Linux  Kernel"))[0]
        is False
    )
    assert decide({"field": "title", "contains": "linux kernel"}, item("Der Linux Kernel"))[0]
    # a value ending in punctuation needs no word boundary after it
    assert decide({"field": "title", "contains": "C++"}, item("C++20 erschienen"))[0]


def test_equals_compares_the_whole_value_and_any_category() -> None:
    ad = item(categories=("Security", "ANZEIGE"))
    assert decide({"field": "categories", "equals": "anzeige"}, ad) == (
        True,
        'category "ANZEIGE" equals "anzeige"',
    )
    assert decide({"field": "title", "equals": "linux"}, item("Linux 7.0"))[0] is False
    assert decide({"field": "categories", "equals": "x"}, item()) == (
        False,
        'no categories (so none equals "x")',
    )


def test_matches_uses_re2_over_the_field_as_written() -> None:
    tree = {"field": "content", "matches": r"(?i)\bCVE-\d{4}-\d+"}
    assert decide(tree, item(content="<p>Fix für cve-2026-1234</p>"))[0]
    assert decide(tree, item(content="<p>CVE-26</p>"))[0] is False
    assert decide({"field": "language", "matches": "^de$"}, item())[0]


def test_max_age_measures_from_published_then_updated_then_first_seen() -> None:
    old = NOW - timedelta(days=3)
    tree = {"max_age": "2d"}
    assert decide(tree, item(published=old)) == (
        False,
        "older than 2d (published 2026-12-03 12:00 UTC)",
    )
    assert decide(tree, item(updated=old)) == (
        False,
        "older than 2d (updated 2026-12-03 12:00 UTC)",
    )
    passed, reason = decide(tree, item())
    assert passed and reason == "not older than 2d (first seen 2026-12-06 12:00 UTC)"


def test_the_deciding_condition_is_named_through_not_all_and_any() -> None:
    tree = {
        "all": [
            {"field": "title", "contains": "Linux"},
            {"not": {"field": "categories", "equals": "Anzeige"}},
            {"any": [{"field": "content", "matches": "CVE"}, {"max_age": "2d"}]},
        ]
    }
    # blocked by the `not`: the reason is the fact that held, the category
    assert decide(tree, item(categories=("Anzeige",))) == (
        False,
        'category "Anzeige" equals "Anzeige"',
    )
    # blocked by the `any`: every alternative failed, all named
    assert decide(tree, item(published=NOW - timedelta(days=9))) == (
        False,
        'content does not match "CVE" and older than 2d (published 2026-11-27 12:00 UTC)',
    )
    passed, reason = decide(tree, item())
    assert passed
    assert reason == (
        'title contains "Linux" and no categories (so none equals "Anzeige") and '
        "not older than 2d (first seen 2026-12-06 12:00 UTC)"
    )


@pytest.mark.parametrize(
    ("value", "path", "complaint"),
    [
        ([], "filter", "expected a table"),
        ({}, "filter", "found an empty table"),
        ({"alll": []}, "filter", "did you mean 'all'?"),
        ({"all": []}, "filter.all", "non-empty list"),
        ({"all": [{"field": "titel", "contains": "x"}]}, "filter.all[0].field", "'title'?"),
        ({"any": [{"contains": "x"}]}, "filter.any[0]", "contains needs field"),
        ({"field": "title"}, "filter", "exactly one of contains, equals, matches, found none"),
        ({"field": "title", "contains": "a", "equals": "b"}, "filter", "found contains, equals"),
        ({"field": "title", "contain": "a"}, "filter", "did you mean 'contains'?"),
        ({"field": "title", "contains": 3}, "filter.contains", "expected a non-empty string"),
        ({"field": "title", "contains": "  "}, "filter.contains", "needs a word"),
        ({"not": {"max_age": "2 weeks"}}, "filter.not.max_age", "expected a duration"),
        ({"max_age": 0}, "filter.max_age", "above zero"),
        ({"all": [{"max_age": "1d"}], "any": []}, "filter", "stands alone"),
    ],
)
def test_a_malformed_filter_names_the_spot_what_was_expected_and_found(
    value: object, path: str, complaint: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(value)
    assert caught.value.path == path
    assert complaint in caught.value.message


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", r"invalid escape sequence: \1 (found at position 4)"),
        ("(?=a)b", "invalid perl operator: (?= (found at position 1)"),
        ("(?<!x)y", "(found at position 1)"),
        ("a(", "missing ): a( (found at position 1)"),
        ("x{2000}", "invalid repetition size: {2000} (found at position 2)"),
    ],
)
def test_re2_refuses_what_it_cannot_do_in_linear_time_naming_the_pattern(
    pattern: str, reason: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter({"any": [{"field": "title", "matches": pattern}]})
    assert caught.value.path == "filter.any[0].matches"
    assert "RE2 cannot use the pattern" in caught.value.message
    assert reason in caught.value.message


def test_a_bad_filter_in_the_config_file_names_file_line_and_key(tmp_path: Path) -> None:
    text = (
        'store = "sqlite:///x.db"\n'
        "[[sources]]\n"
        'name = "heise"\n'
        'url = "https://example.org/feed"\n'
        "[[destinations]]\n"
        'name = "board"\n'
        'kind = "board"\n'
        "[[routes]]\n"
        'destinations = ["board"]\n'
        'filter = { any = [ { field = "title", matches = "(?<=Linux) 7" } ] }\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "newsbote.toml")
    error = caught.value
    assert (error.line, error.key) == (10, "routes.filter")
    assert error.message.startswith(
        'filter.any[0].matches: RE2 cannot use the pattern "(?<=Linux) 7"'
    )
    assert "position 1" in error.message


def test_the_filter_reads_well_as_sub_tables(tmp_path: Path) -> None:
    text = (
        'store = "sqlite:///x.db"\n'
        "[[sources]]\n"
        'name = "heise"\n'
        'url = "https://example.org/feed"\n'
        "[[destinations]]\n"
        'name = "board"\n'
        'kind = "board"\n'
        "[[routes]]\n"
        'destinations = ["board"]\n'
        "[[routes.filter.any]]\n"
        'field = "title"\n'
        'contains = "Linux"\n'
        "[[routes.filter.any]]\n"
        'not.max_age = "2d"\n'
    )
    route = parse_config(text, tmp_path / "newsbote.toml").config.routes[0]
    assert route.filter == Any((Condition("title", "contains", "Linux"), Not(MaxAge(172800.0))))


def test_patterns_are_compiled_once_when_the_config_loads() -> None:
    route = RouteConfig.model_validate(
        {"destinations": ["d"], "filter": {"field": "title", "matches": "Linux"}}
    )
    assert isinstance(route.filter, Condition)
    matcher = route.filter.matcher
    route_item(item(), [route])
    route_item(item("BSD"), [route])
    assert route.filter.matcher is matcher
    assert route.model_dump()["filter"] == {"field": "title", "matches": "Linux"}


def test_route_item_gives_each_route_its_reason() -> None:
    routes = [
        RouteConfig.model_validate(
            {"destinations": ["ads"], "filter": {"field": "categories", "equals": "Anzeige"}}
        ),
        RouteConfig.model_validate(
            {
                "destinations": ["forum"],
                "filter": {"not": {"field": "categories", "equals": "Anzeige"}},
            }
        ),
    ]
    targets, reasons = route_item(item(categories=("Anzeige",)), routes, language="de", now=NOW)
    assert [t.destination for t in targets] == ["ads"]
    assert reasons == [
        'route 1: passed the filter: category "Anzeige" equals "Anzeige"; to ads',
        'route 2: blocked by the filter: category "Anzeige" equals "Anzeige"',
    ]


def test_include_and_exclude_words_stay_whole_word_and_now_ignore_accents() -> None:
    route = RouteConfig.model_validate(
        {"destinations": ["d"], "include": ["linux-kernel", "Müller"], "exclude": ["Werbung"]}
    )
    assert route_item(item("Linux-Kernel 7"), [route])[1] == ["route 1: to d"]
    assert route_item(item("Herr Muller"), [route])[0]
    assert route_item(item("Linux-Kernels"), [route])[1] == [
        "route 1: no include word matched (linux-kernel, Müller)"
    ]
    assert route_item(item("Linux-Kernel", categories=("WERBUNG",)), [route])[1] == [
        "route 1: excluded by the word 'Werbung'"
    ]


def test_include_and_filter_both_apply_include_first() -> None:
    route = RouteConfig.model_validate(
        {"destinations": ["d"], "include": ["Linux"], "filter": {"max_age": "1d"}}
    )
    old = item(published=NOW - timedelta(days=2))
    assert route_item(old, [route], now=NOW)[1] == [
        "route 1: blocked by the filter: older than 1d (published 2026-12-04 12:00 UTC)"
    ]
    assert route_item(item("BSD", published=NOW), [route], now=NOW)[1][0].startswith(
        "route 1: no include word"
    )


def test_words_and_patterns_run_in_linear_time_over_hostile_text() -> None:
    """RE2 over a text made to make a backtracking engine explode: Python ``re`` needs
    exponential steps for ``(a+)+$`` on this; RE2 answers. Counted, not timed: the
    search is one call whose result is checked."""
    hostile = "a" * 50_000 + "!"
    tree = All((Condition("title", "matches", "(a+)+$"), Condition("title", "contains", "a a")))
    decision = evaluate(tree, subject_of(item(hostile), language=None, now=NOW))
    assert decision == type(decision)(False, 'title does not match "(a+)+$"')


def _route_config(
    feed_server: FeedServer,
    store_url: str,
    tmp_path: Path,
    entries: list[tuple[str, str, str]],
    **source: object,
) -> Path:
    """A feed of ``entries`` and a config whose one source posts all of it through one
    route, the last table of the file (so a ``filter = …`` line appended is the route's)."""
    feed_server.set("/feed.xml", rss(entries))
    settings = {"name": "test", "url": feed_server.url("/feed.xml"), "allow_private": True}
    return write_config(
        tmp_path,
        store_url,
        [{**settings, "first_run": "all", **source}],
        routes=[{"sources": ["test"], "destinations": ["board"]}],
    )


def _add_filter(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(line)


async def test_a_filtered_route_posts_only_what_passes_and_why_names_the_condition(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    entries = [
        ("x", "https://e.org/x", "Linux 7.0 erschienen"),
        ("y", "https://e.org/y", "Anzeige: Linux-Schulung"),
        ("z", "https://e.org/z", "Kochrezepte"),
    ]
    path = _route_config(feed_server, store_url, tmp_path, entries)
    _add_filter(
        path,
        'filter = { all = [ { field = "title", contains = "linux" },\n'
        '                   { not = { field = "title", matches = "^Anzeige:" } } ] }\n',
    )
    loaded = load(path)
    await run_once(loaded, store)
    assert board_titles(store) == ["Linux 7.0 erschienen"]
    ad = store.call(explain, "y")[0].item
    assert ad.decision == "filtered"
    assert 'route 1: blocked by the filter: title matches "^Anzeige:"' in ad.reason
    other = store.call(explain, "z")[0].item
    assert 'route 1: blocked by the filter: title does not contain "linux"' in other.reason


async def _stored_feed(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> Path:
    entries = [
        ("x", "https://e.org/x", "Linux 7.0 erschienen"),
        ("y", "https://e.org/y", "[red]Anzeige[/red]: Kochkurs"),
    ]
    path = _route_config(feed_server, store_url, tmp_path, entries)
    await run_once(load(path), store)
    # the route gets a filter afterwards, as an operator tries one on what is stored
    _add_filter(path, 'filter = { field = "title", contains = "linux" }\n')
    return path


async def test_filter_test_tries_a_route_on_the_stored_items_newest_first(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    loaded = load(await _stored_feed(feed_server, store, store_url, tmp_path))
    results = filter_test(loaded, store, 1, source=None, limit=10)
    assert {(r.title, r.passed, r.reason) for r in results} == {
        ("Linux 7.0 erschienen", True, 'passed the filter: title contains "linux"'),
        (
            "[red]Anzeige[/red]: Kochkurs",
            False,
            'blocked by the filter: title does not contain "linux"',
        ),
    }
    assert all(r.source == "test" and r.link for r in results)
    assert len(filter_test(loaded, store, 1, source="test", limit=1)) == 1
    with pytest.raises(ConfigError, match="no route 2: the config has 1 route"):
        filter_test(loaded, store, 2, source=None, limit=10)
    with pytest.raises(ConfigError, match="route 1 does not take source 'tset'") as caught:
        filter_test(loaded, store, 1, source="tset", limit=10)
    assert caught.value.hint == "did you mean 'test'?"


async def test_the_filter_test_command_prints_each_item_verdict_and_reason_as_text(
    feed_server: FeedServer, store: Store, store_url: str, tmp_path: Path
) -> None:
    path = await _stored_feed(feed_server, store, store_url, tmp_path)
    app = typer.Typer()
    app.command("filter-test")(filter_test_command)
    app.command("other")(lambda: None)  # two commands: the name is a subcommand
    runner = CliRunner()
    result = runner.invoke(app, ["filter-test", "1", "--config", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[red]Anzeige[/red]: Kochkurs" in result.output  # a feed's markup shown as text
    assert 'blocked by the filter: title does not contain "linux"' in result.output
    assert "1 of 2 pass" in result.output
    failed = runner.invoke(app, ["filter-test", "3", "--config", str(path)])
    assert failed.exit_code == 2  # the command line's code for a config error
    assert "no route 3" in failed.output


DOCS = Path(__file__).resolve().parent.parent / "docs" / "filters.md"
BASE = """store = "sqlite:///x.db"
[[sources]]
name = "heise"
url = "https://example.org/feed"
[[destinations]]
name = "board"
kind = "board"
"""
FORUM = """[[destinations]]
name = "forum"
kind = "webhook"
url = "https://forum.example.org/hooks/news"
secret_env = "FORUM_HOOK_SECRET"
"""


@pytest.mark.parametrize(
    "snippet", re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
)
def test_every_example_of_the_filters_page_loads(snippet: str, tmp_path: Path) -> None:
    text = BASE + (snippet if "[[destinations]]" in snippet else FORUM + snippet)
    loaded = parse_config(text, tmp_path / "newsbote.toml")
    if "[[routes]]" in snippet:
        route = loaded.config.routes[0]
        assert route.filter is not None or route.include
    else:
        assert loaded.destination_options["forum"].model_dump()["daily_cap"] == 20


def test_the_sub_table_example_is_the_inline_example() -> None:
    snippets = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    inline, tables = (
        parse_config(BASE + FORUM + s, Path("newsbote.toml")).config.routes[0].filter
        for s in snippets[:2]
    )
    assert inline == tables


def test_each_field_is_folded_once_however_many_conditions_and_routes_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folded: list[str] = []

    def counting(text: str) -> str:
        folded.append(text)
        return normalize(text)

    tree = {"all": [{"field": "content", "contains": w} for w in ("der", "neue", "kernel")]}
    routes = [
        RouteConfig.model_validate({"destinations": [d], "include": ["kernel"], "filter": tree})
        for d in ("a", "b", "c")
    ]
    route_item(item(), routes)  # the include words' patterns are compiled at first use
    monkeypatch.setattr("newsbote.route.decision.normalize", counting)
    targets, _ = route_item(item(categories=("Linux",)), routes, now=NOW)
    assert [t.destination for t in targets] == ["a", "b", "c"]
    assert sorted(folded) == sorted(["Linux 7.0", "Der neue Kernel", "Linux"])


@pytest.mark.parametrize(("language", "posted"), [("en", ["Linux 7.0 erschienen"]), ("de", [])])
async def test_a_language_filter_sees_the_language_a_source_posts_in(
    feed_server: FeedServer,
    store: Store,
    store_url: str,
    tmp_path: Path,
    language: str,
    posted: list[str],
) -> None:
    """A poll hands the source's language to the routes (the source's own setting, else the
    config's), so ``field = "language"`` decides in a real poll, not only in filter-test."""
    entries = [("x", "https://e.org/x", "Linux 7.0 erschienen")]
    path = _route_config(feed_server, store_url, tmp_path, entries, language=language)
    _add_filter(path, 'filter = { field = "language", equals = "en" }\n')
    await run_once(load(path), store)
    assert board_titles(store) == posted
