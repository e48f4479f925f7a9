"""The built-in board: a read-only news wall in the seed forum's style, and the
embedded default destination. Posts live in the store; the web app shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from sqlalchemy import Connection, select, update

from newsbote.deliver.base import InStoreDestination, Options
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, Outcome
from newsbote.store.bulk import bulk_insert
from newsbote.store.schema import board_posts, items, sources
from newsbote.types import Markup, Receipt


class BoardOptions(Options):
    title: str | None = Field(None, description="heading of the board page")


class Board(InStoreDestination[BoardOptions]):
    """Posts become threads on the built-in board. Idempotent: a post's key is unique."""

    kind = "board"
    markup = Markup.HTML
    idempotent = True
    Options = BoardOptions

    async def send(self, delivery: Delivery) -> Receipt:
        return _receipt(await self.deliver_many([(delivery, None)]))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        return _receipt(await self.deliver_many([(delivery, receipt)]))

    def write(
        self, connection: Connection, batch: Sequence[tuple[Delivery, Receipt | None]]
    ) -> list[Outcome]:
        now = datetime.now(UTC)
        bot = self.context.bot
        posts = [d for d, _ in batch if d.action != "edit"]
        names = _source_names(connection, [d.item_id for d in posts])
        keys = {d.id: d.idempotency_key for d in posts}
        if posts:
            bulk_insert(
                connection,
                board_posts,
                [
                    {
                        "destination": self.name,
                        "delivery_key": keys[d.id],
                        "thread_title": d.message.title,
                        "body_html": d.message.body,
                        "link": d.message.link,
                        "image": d.message.image,
                        "author_name": bot.name,
                        "author_title": bot.title,
                        "source_name": names.get(d.item_id, ""),
                        "posted_at": now,
                    }
                    for d in posts
                ],
                ignore_conflicts=True,
            )
        ids = _post_ids(connection, list(keys.values()))
        outcomes: list[Outcome] = []
        for delivery, receipt in batch:
            if delivery.action == "edit":
                outcomes.append(self._edit(connection, delivery, receipt, now))
                continue
            post_id = ids.get(keys[delivery.id])
            if post_id is None:
                outcomes.append(
                    Outcome(delivery, error=DeliveryError(self.name, "post was not stored"))
                )
            else:
                outcomes.append(Outcome(delivery, receipt=Receipt(str(post_id), f"/t/{post_id}")))
        return outcomes

    def _edit(
        self, connection: Connection, delivery: Delivery, receipt: Receipt | None, now: datetime
    ) -> Outcome:
        if receipt is None:
            return Outcome(
                delivery,
                error=DeliveryError(
                    self.name, "nothing to edit: the item was never posted here", permanent=True
                ),
            )
        changed = connection.execute(
            update(board_posts)
            .where(board_posts.c.id == int(receipt.remote_id))
            .values(
                thread_title=delivery.message.title, body_html=delivery.message.body, edited_at=now
            )
        ).rowcount
        if not changed:
            return Outcome(
                delivery,
                error=DeliveryError(
                    self.name, f"post {receipt.remote_id} no longer exists", permanent=True
                ),
            )
        return Outcome(delivery, receipt=receipt)


def _receipt(outcomes: list[Outcome]) -> Receipt:
    outcome = outcomes[0]
    if outcome.error is not None:
        raise outcome.error
    assert outcome.receipt is not None
    return outcome.receipt


def _source_names(connection: Connection, item_ids: list[int]) -> dict[int, str]:
    if not item_ids:
        return {}
    rows = connection.execute(
        select(items.c.id, sources.c.title, sources.c.name)
        .join(sources, sources.c.id == items.c.source_id)
        .where(items.c.id.in_(item_ids))
    ).all()
    return {row.id: row.title or row.name for row in rows}


def _post_ids(connection: Connection, keys: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        rows: Any = connection.execute(
            select(board_posts.c.id, board_posts.c.delivery_key).where(
                board_posts.c.delivery_key.in_(keys[start : start + 500])
            )
        )
        found.update({row.delivery_key: row.id for row in rows})
    return found
