"""Bulk inserts and updates on the DBAPI's own ``executemany``, for the hot paths.

SQLAlchemy Core's per-execution parameter processing costs more than the
database's work when a poll stores dozens of rows; here the statement is
compiled once per (dialect, table, columns) and only the types that need it
(our UTC datetimes) are converted row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from newsbote.store.schema import UTCDateTime


@lru_cache(maxsize=64)
def _statement(
    dialect: Dialect, table: Table, columns: tuple[str, ...], ignore_conflicts: bool
) -> tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...]]:
    if ignore_conflicts:
        module = postgresql if dialect.name == "postgresql" else sqlite
        statement: Any = module.insert(table).on_conflict_do_nothing()
    else:
        statement = table.insert()
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    order = tuple(compiled.positiontup or columns) if dialect.positional else columns
    processors = tuple(
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(table.c[name].type, UTCDateTime)
        else None
        for name in order
    )
    return str(compiled), order, processors


@lru_cache(maxsize=64)
def _compiled(
    dialect: Dialect, statement: Any
) -> tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...], dict[str, Any]]:
    compiled = statement.compile(dialect=dialect)
    # parameters as the SQL names them (anonymous ones, like a literal None, get a name too)
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    order = tuple(compiled.positiontup) if dialect.positional else tuple(binds)
    processors = tuple(
        binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(binds[name].type, UTCDateTime)
        else None
        for name in order
    )
    return str(compiled), order, processors, dict(compiled.params)


def execute_many(connection: Connection, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run a prebuilt statement (a module constant, compiled once per dialect) for each
    of ``rows``: bind parameters a row leaves out keep the statement's own values."""
    if not rows:
        return
    sql, order, processors, defaults = _compiled(connection.dialect, statement)
    _run(connection, sql, order, processors, [{**defaults, **row} for row in rows])


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> int:
    """INSERT ``rows`` (all with the same keys) in one executemany; return how many
    rows were inserted (as the driver counts them: -1 where it cannot tell)."""
    if not rows:
        return 0
    sql, order, processors = _statement(connection.dialect, table, tuple(rows[0]), ignore_conflicts)
    return _run(connection, sql, order, processors, rows)


def _run(
    connection: Connection,
    sql: str,
    order: tuple[str, ...],
    processors: tuple[Callable[[Any], Any] | None, ...],
    rows: Sequence[dict[str, Any]],
) -> int:
    converted: dict[Any, Any] = {}

    def convert(process: Callable[[Any], Any], value: Any) -> Any:
        # the same timestamp (this poll's "now") recurs in every row: convert it once
        if value is None:
            return None
        done = converted.get(value, converted)
        if done is converted:
            done = converted[value] = process(value)
        return done

    # Rows are copied at C speed (itemgetter, dict); only the few columns that need a
    # conversion are touched one by one.
    params: list[Any]
    if connection.dialect.positional:
        getter = itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
        lists = [list(getter(row)) for row in rows]
        for index, process in enumerate(processors):
            if process is not None:
                for values in lists:
                    values[index] = convert(process, values[index])
        params = [tuple(values) for values in lists]  # SQLAlchemy takes tuples, not lists
    else:
        params = [dict(row) for row in rows]
        for name, process in zip(order, processors, strict=True):
            if process is not None:
                for values in params:
                    values[name] = convert(process, values[name])
    return int(connection.exec_driver_sql(sql, params).rowcount)
