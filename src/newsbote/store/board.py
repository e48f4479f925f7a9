"""Reading the built-in board's posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from newsbote.store.schema import board_posts


@dataclass(frozen=True, slots=True)
class BoardPost:
    id: int
    thread_title: str
    body_html: str
    link: str | None
    image: str | None
    author_name: str
    author_title: str
    source_name: str
    posted_at: datetime
    edited_at: datetime | None


def _post(row: Any) -> BoardPost:
    return BoardPost(
        id=row.id,
        thread_title=row.thread_title,
        body_html=row.body_html,
        link=row.link,
        image=row.image,
        author_name=row.author_name,
        author_title=row.author_title,
        source_name=row.source_name,
        posted_at=row.posted_at,
        edited_at=row.edited_at,
    )


def list_posts(
    connection: Connection, destination: str, page: int, size: int
) -> tuple[list[BoardPost], int]:
    """One page of threads, newest first, and the total count."""
    total = connection.execute(
        select(func.count())
        .select_from(board_posts)
        .where(board_posts.c.destination == destination)
    ).scalar_one()
    rows = connection.execute(
        select(board_posts)
        .where(board_posts.c.destination == destination)
        .order_by(board_posts.c.posted_at.desc(), board_posts.c.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    ).all()
    return [_post(row) for row in rows], total


def get_post(connection: Connection, post_id: int) -> BoardPost | None:
    row = connection.execute(select(board_posts).where(board_posts.c.id == post_id)).first()
    return _post(row) if row else None


def post_id_by_key(connection: Connection, key: str) -> int | None:
    """The id of the post with this ledger key (its remote id), if there is one."""
    found: int | None = connection.execute(
        select(board_posts.c.id).where(board_posts.c.delivery_key == key)
    ).scalar()
    return found
