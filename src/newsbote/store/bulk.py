"""Bulk inserts on the DBAPI's own ``executemany``, for the hot path of a poll.

SQLAlchemy Core's per-execution parameter processing costs more than the
database's work when a poll stores dozens of rows; here the statement is
compiled once per (dialect, table, columns) and only the types that need it
(our UTC datetimes) are converted row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
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


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """INSERT ``rows`` (all with the same keys) in one executemany."""
    if not rows:
        return
    dialect = connection.dialect
    sql, order, processors = _statement(dialect, table, tuple(rows[0]), ignore_conflicts)
    pairs = list(zip(order, processors, strict=True))
    seen: dict[Any, Any] = {}

    def once(process: Callable[[Any], Any], value: Any) -> Any:
        # the same timestamp (this poll's "now") recurs in every row: convert it once
        if value is None:
            return None
        converted = seen.get(value, seen)
        if converted is seen:
            converted = seen[value] = process(value)
        return converted

    if dialect.positional:
        params: list[Any] = [
            tuple(
                row[name] if process is None else once(process, row[name])
                for name, process in pairs
            )
            for row in rows
        ]
    else:
        params = [
            {
                name: row[name] if process is None else once(process, row[name])
                for name, process in pairs
            }
            for row in rows
        ]
    connection.exec_driver_sql(sql, params)
