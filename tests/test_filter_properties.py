"""Properties of the filter language: parse ∘ print is the identity, printing gives plain
TOML values, evaluation keeps the laws of all/any/not, and RE2 refuses what it cannot do
in linear time with an error naming the pattern."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from newsbote.route.decision import Subject, evaluate
from newsbote.route.filters import (
    FIELDS,
    All,
    Any,
    Condition,
    Filter,
    FilterSyntaxError,
    MaxAge,
    Not,
    parse_filter,
    print_filter,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)

words = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
).filter(lambda w: any(c.isalnum() for c in w))
patterns = st.sampled_from(
    [r"(?i)\bCVE-\d{4}-\d+", "^Anzeige:", "linux|bsd", r"[[:alpha:]]+\d", "a{2,5}", "(?s).*x"]
)
fields = st.sampled_from(FIELDS)
conditions = st.one_of(
    st.builds(Condition, fields, st.just("contains"), words),
    st.builds(Condition, fields, st.just("equals"), words),
    st.builds(Condition, fields, st.just("matches"), patterns),
)
ages = st.one_of(
    st.integers(1, 10_000).map(float),
    st.floats(0.001, 1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([60.0, 3600.0, 86400.0, 2 * 86400.0, 90 * 60.0]),
).map(MaxAge)
trees: st.SearchStrategy[Filter] = st.recursive(
    st.one_of(conditions, ages),
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=1, max_size=4).map(lambda c: All(tuple(c))),
        st.lists(inner, min_size=1, max_size=4).map(lambda c: Any(tuple(c))),
    ),
    max_leaves=12,
)
subjects = st.builds(
    Subject,
    title=st.text(max_size=30),
    summary=st.text(max_size=30),
    content=st.sampled_from(["", "CVE-2026-1234 in Linux", "aaaa x", "Anzeige: BSD"]),
    author=st.text(max_size=10),
    categories=st.lists(st.text(max_size=8), max_size=3).map(tuple),
    link=st.just("https://example.org/a"),
    language=st.sampled_from(["de", "en", ""]),
    date=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    date_kind=st.just("published"),
    now=st.just(NOW),
)


@given(trees)
def test_parse_of_print_is_the_identity(tree: Filter) -> None:
    assert parse_filter(print_filter(tree)) == tree


@settings(max_examples=50)
@given(trees)
def test_a_printed_filter_survives_a_trip_through_a_toml_file(tree: Filter) -> None:
    document = tomlkit.document()
    document["filter"] = print_filter(tree)
    assert parse_filter(tomllib.loads(tomlkit.dumps(document))["filter"]) == tree


@given(trees, subjects)
def test_not_flips_the_verdict_and_keeps_the_reason(tree: Filter, subject: Subject) -> None:
    inner = evaluate(tree, subject)
    flipped = evaluate(Not(tree), subject)
    assert (flipped.passed, flipped.reason) == (not inner.passed, inner.reason)


@given(st.lists(trees, min_size=1, max_size=4), subjects)
def test_all_and_any_agree_with_python_on_the_children(
    children: list[Filter], subject: Subject
) -> None:
    verdicts = [evaluate(child, subject).passed for child in children]
    assert evaluate(All(tuple(children)), subject).passed is all(verdicts)
    assert evaluate(Any(tuple(children)), subject).passed is any(verdicts)
    # De Morgan: not any == all of nots
    nots = All(tuple(Not(child) for child in children))
    assert evaluate(nots, subject).passed is not any(verdicts)


@given(
    st.sampled_from([r"(a)\1", "(?=x)", "(?!x)", "(?<=x)y", "(?<!x)y", r"\Z(", "a**", "x{1001}"]),
    st.text(alphabet="abc", max_size=5),
)
def test_re2_refuses_non_linear_patterns_naming_them(bad: str, prefix: str) -> None:
    pattern = prefix + bad
    try:
        parse_filter({"field": "title", "matches": pattern})
    except FilterSyntaxError as exc:
        assert exc.path == "filter.matches"
        assert "RE2 cannot use the pattern" in exc.message
        assert "found at position" in exc.message or "found in the whole pattern" in exc.message
    else:
        raise AssertionError(f"RE2 accepted {pattern!r}")
