"""The built-in board: a read-only news wall in the seed forum's style, and the
embedded default destination. Posts live in the store; the web app shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import Field
from sqlalchemy import Connection, select, update

from newsbote.deliver.base import InStoreDestination, Options
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, NewPost
from newsbote.store.bulk import bulk_insert
from newsbote.store.schema import board_posts, items, sources
from newsbote.types import Markup, Receipt


class BoardOptions(Options):
    title: str | None = Field(None, description="heading of the board page")


class Board(InStoreDestination[BoardOptions]):
    """Posts become threads on the built-in board. Idempotent: a post's key is unique,
    and it is the post's remote id (``/p/KEY`` shows it)."""

    kind = "board"
    markup = Markup.HTML
    idempotent = True
    Options = BoardOptions

    def receipt_for(self, key: str) -> Receipt:
        return Receipt(key, f"/p/{key}")

    def post_now(self, connection: Connection, posts: Sequence[NewPost], now: datetime) -> None:
        if not posts:
            return
        bot = self.context.bot
        names = _source_names(connection, list({p.item_id for p in posts if p.source is None}))
        bulk_insert(
            connection,
            board_posts,
            [
                {
                    "destination": self.name,
                    "delivery_key": post.key,
                    "thread_title": post.message.title,
                    "body_html": post.message.body,
                    "link": post.message.link,
                    "image": post.message.image,
                    "author_name": bot.name,
                    "author_title": bot.title,
                    "source_name": post.source or names.get(post.item_id, ""),
                    "posted_at": now,
                }
                for post in posts
            ],
            ignore_conflicts=True,
        )

    def edit_now(
        self, connection: Connection, delivery: Delivery, receipt: Receipt, now: datetime
    ) -> None:
        changed = connection.execute(
            update(board_posts)
            .where(
                board_posts.c.destination == self.name,
                board_posts.c.delivery_key == receipt.remote_id,
            )
            .values(
                thread_title=delivery.message.title, body_html=delivery.message.body, edited_at=now
            )
        ).rowcount
        if not changed:
            raise DeliveryError(
                self.name, f"post {receipt.remote_id} no longer exists", permanent=True
            )


def _source_names(connection: Connection, item_ids: list[int]) -> dict[int, str]:
    if not item_ids:
        return {}
    rows = connection.execute(
        select(items.c.id, sources.c.title, sources.c.name)
        .join(sources, sources.c.id == items.c.source_id)
        .where(items.c.id.in_(item_ids))
    ).all()
    return {row.id: row.title or row.name for row in rows}
