"""The filter language of a route: a small tree of conditions over an item's fields.

A filter is written in TOML as a table and becomes a frozen tree::

    { all = [F, ...] }                       All   every one holds
    { any = [F, ...] }                       Any   at least one holds
    { not = F }                              Not   F does not hold
    { field = "title", contains = "Linux" }  Condition(field, op, value)
    { max_age = "2d" }                       MaxAge  published (else updated, else first seen)
                                                     no longer ago than this

``contains`` and ``equals`` compare case- and accent-insensitively (both sides casefolded,
NFKD-decomposed and stripped of combining marks); ``contains`` finds the value as whole
words, ``equals`` compares the whole field. ``matches`` is an RE2 regular expression over
the field as written: RE2 runs in time linear in the text and refuses what it cannot do
so (backreferences, lookarounds), which :func:`parse_filter` reports as a config error.

:func:`print_filter` turns a tree back into the TOML value it was parsed from;
:func:`newsbote.route.decision.evaluate` says whether an item passes and what decided.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, cast, get_args

import re2

FieldName = Literal["title", "summary", "content", "author", "categories", "link", "language"]
Op = Literal["contains", "equals", "matches"]
FIELDS: tuple[str, ...] = get_args(FieldName)
OPS: tuple[str, ...] = get_args(Op)
_NODE_KEYS = ("all", "any", "not", "max_age", "field")

_WORD = r"[\pL\pN_]"
_NOT_WORD = r"[^\pL\pN_]"
VERBS = {  # an operator as said of a value that matches, and of one that does not
    "contains": ("contains", "does not contain"),
    "equals": ("equals", "does not equal"),
    "matches": ("matches", "does not match"),
}


class FilterSyntaxError(ValueError):
    """A filter that cannot be parsed: ``path`` names the spot (``filter.all[1].not``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def normalize(text: str) -> str:
    """``text`` casefolded, NFKD-decomposed and without combining marks ("Größe" → "grosse")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    if decomposed.isascii():
        return decomposed
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the error comes back as an exception; no stderr noise
    return options


def compile_pattern(pattern: str) -> re2._Regexp[str]:
    """``pattern`` compiled by RE2; ValueError naming the pattern, RE2's reason and where."""
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        where = ""
        fragment = text.rsplit(": ", 1)[-1] if ": " in text else ""
        position = pattern.find(fragment) if fragment else -1
        if position >= 0:
            where = f" (found at position {position + 1})"
        else:
            where = " (found in the whole pattern)"
        raise ValueError(
            f"RE2 cannot use the pattern {json.dumps(pattern, ensure_ascii=False)}: {text}{where};"
            " RE2 has no backreferences or lookarounds, as it runs in linear time"
        ) from None


def word_pattern(words: str) -> re2._Regexp[str] | None:
    """An RE2 pattern finding the normalized ``words`` as whole words in normalized text;
    None when nothing is left of them to find."""
    needle = normalize(words).strip()
    if not needle:
        return None
    before = f"(?:^|{_NOT_WORD})" if re2.match(_WORD, needle[0]) else ""
    after = f"(?:{_NOT_WORD}|$)" if re2.match(_WORD, needle[-1]) else ""
    return compile_pattern(before + re2.escape(needle) + after)


Matcher: TypeAlias = Callable[[str], bool]
"""Whether one value of a field matches: over the folded value (:func:`normalize`) for
``contains`` and ``equals``, over the value as written for ``matches``."""


def _matcher(op: str, value: str) -> Matcher:
    if op == "matches":
        pattern = compile_pattern(value)
        return lambda text: pattern.search(text) is not None
    if op == "equals":
        wanted = normalize(value).strip()
        return lambda folded: folded.strip() == wanted
    found = word_pattern(value)
    if found is None:
        raise ValueError("contains needs a word to find, found only spaces or marks")
    return lambda folded: found.search(folded) is not None


@dataclass(frozen=True, slots=True)
class Condition:
    """``field`` ``op`` ``value``: its matcher is compiled once, when the condition is made."""

    field: FieldName
    op: Op
    value: str
    matcher: Matcher = dataclasses.field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValueError(f"unknown field {self.field!r}")
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")
        object.__setattr__(self, "matcher", _matcher(self.op, self.value))


@dataclass(frozen=True, slots=True)
class MaxAge:
    """Items dated no longer than ``seconds`` ago pass."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Not:
    filter: Filter


@dataclass(frozen=True, slots=True)
class All:
    filters: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Any:
    filters: tuple[Filter, ...]


Filter: TypeAlias = All | Any | Not | Condition | MaxAge


# -- parsing and printing ----------------------------------------------------------------


def quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _found(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table with " + (", ".join(map(str, value)) or "no keys")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return repr(value)


def _suggestion(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_filter(value: object, path: str = "filter") -> Filter:
    """The tree of a filter written as ``value`` (a TOML table); :class:`FilterSyntaxError`
    naming the spot, what was expected and what was found otherwise."""
    if isinstance(value, All | Any | Not | Condition | MaxAge):
        return value
    if not isinstance(value, Mapping):
        raise FilterSyntaxError(
            path, f"expected a table like {{ all = [...] }}, found {_found(value)}"
        )
    table = cast(Mapping[str, object], value)
    kinds = [k for k in _NODE_KEYS if k in table]
    if not kinds:
        ops = [k for k in OPS if k in table]
        if ops:
            raise FilterSyntaxError(
                path, f"{ops[0]} needs field = one of {', '.join(FIELDS)}; found no field"
            )
        unknown = ", ".join(map(str, table)) or "an empty table"
        hint = _suggestion(str(next(iter(table))), (*_NODE_KEYS, *OPS)) if table else ""
        raise FilterSyntaxError(
            path,
            f"expected one of all, any, not, max_age or field, found {unknown}{hint}",
        )
    kind = kinds[0]
    if kind == "field":
        return _parse_condition(table, path)
    extra = [str(k) for k in table if k != kind]
    if extra:
        raise FilterSyntaxError(
            path, f"{kind} stands alone in its table, found also {', '.join(extra)}"
        )
    inner = table[kind]
    if kind == "not":
        return Not(parse_filter(inner, f"{path}.not"))
    if kind == "max_age":
        return MaxAge(_parse_age(inner, f"{path}.max_age"))
    if not isinstance(inner, list) or not inner:
        raise FilterSyntaxError(
            f"{path}.{kind}", f"expected a non-empty list of filters, found {_found(inner)}"
        )
    children = tuple(parse_filter(child, f"{path}.{kind}[{i}]") for i, child in enumerate(inner))
    return All(children) if kind == "all" else Any(children)


def _parse_age(value: object, path: str) -> float:
    from newsbote.config.schema import parse_duration

    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise FilterSyntaxError(path, str(exc)) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise FilterSyntaxError(path, f"expected a duration above zero, found {value!r}")
    return seconds


def _parse_condition(table: Mapping[str, object], path: str) -> Condition:
    name = table["field"]
    if name not in FIELDS:
        raise FilterSyntaxError(
            f"{path}.field",
            f"expected one of {', '.join(FIELDS)}, found {name!r}{_suggestion(str(name), FIELDS)}",
        )
    ops = [k for k in OPS if k in table]
    extra = [str(k) for k in table if k != "field" and k not in OPS]
    if extra:
        raise FilterSyntaxError(
            path,
            f"a condition has field and one of {', '.join(OPS)}, found also {', '.join(extra)}"
            + _suggestion(extra[0], OPS),
        )
    if len(ops) != 1:
        raise FilterSyntaxError(
            path,
            f"a condition has exactly one of {', '.join(OPS)}, found "
            + (", ".join(ops) if ops else "none"),
        )
    op = ops[0]
    value = table[op]
    if not isinstance(value, str) or not value:
        raise FilterSyntaxError(f"{path}.{op}", f"expected a non-empty string, found {value!r}")
    try:
        return Condition(cast(FieldName, name), cast(Op, op), value)
    except ValueError as exc:
        raise FilterSyntaxError(f"{path}.{op}", str(exc)) from None


def duration_text(seconds: float) -> str | float:
    """``seconds`` as the config writes durations ("2d", "90m"), or the number itself where
    no unit says it exactly."""
    from newsbote.config.schema import parse_duration

    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        count = seconds / size
        if count >= 1 and count.is_integer() and count < 1e15:
            text = f"{int(count)}{unit}"
            if parse_duration(text) == seconds:
                return text
    return seconds


def print_filter(tree: Filter) -> dict[str, object]:
    """The TOML value ``tree`` was parsed from: ``parse_filter(print_filter(f)) == f``."""
    if isinstance(tree, Condition):
        return {"field": tree.field, tree.op: tree.value}
    if isinstance(tree, MaxAge):
        return {"max_age": duration_text(tree.seconds)}
    if isinstance(tree, Not):
        return {"not": print_filter(tree.filter)}
    return {
        "all" if isinstance(tree, All) else "any": [print_filter(child) for child in tree.filters]
    }


def describe(tree: Filter) -> str:
    """One line for a person: ``title contains "Linux" and not (…)``."""
    if isinstance(tree, Condition):
        return f"{tree.field} {tree.op} {quoted(tree.value)}"
    if isinstance(tree, MaxAge):
        return f"max_age {age_text(tree.seconds)}"
    if isinstance(tree, Not):
        return f"not ({describe(tree.filter)})"
    joiner = " and " if isinstance(tree, All) else " or "
    return "(" + joiner.join(describe(child) for child in tree.filters) + ")"


def age_text(seconds: float) -> str:
    text = duration_text(seconds)
    return text if isinstance(text, str) else f"{seconds:g}s"
