"""Claiming rows for one worker: the one way leases are taken, for sources and deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, Table


def chosen(dialect: str, table: Table, oldest: Select[Any]) -> ColumnElement[bool]:
    """``table.id`` among the ids ``oldest`` selects (a LIMITed SELECT), as the WHERE of
    the UPDATE that leases them.

    On PostgreSQL the ids are locked once, in a CTE with ``SKIP LOCKED``: a row another
    worker is claiming is passed over, not waited for, and never more than the limit is
    taken (an ``IN (subquery … FOR UPDATE)`` may run its subquery again and lease more).
    SQLite has one writer at a time, so a plain subquery is enough there.
    """
    if dialect == "postgresql":
        locked = oldest.with_for_update(skip_locked=True).cte(f"chosen_{table.name}")
        return table.c.id == locked.c.id
    return table.c.id.in_(oldest.scalar_subquery())
