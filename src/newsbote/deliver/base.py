"""What a destination is. Adding one is a new module in ``deliver/`` with a subclass of
:class:`Destination`; it is found by its ``kind``, nothing central changes.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from newsbote.config.schema import BotConfig
from newsbote.errors import DeliveryError
from newsbote.outbox import Delivery, Outcome
from newsbote.store import Store
from newsbote.types import Markup, Receipt


class Options(BaseModel):
    """Base of a destination kind's options; unknown keys are config errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class DeliverContext:
    """What every destination may use: the store, the bot identity and the language."""

    store: Store
    bot: BotConfig
    language: str


class Destination(ABC):
    """A place to post.

    ``send`` posts a new message and returns its :class:`Receipt`; ``edit``
    changes a sent one in place where the platform allows. Errors are
    :class:`DeliveryError` with ``permanent`` saying whether a retry can help.
    ``idempotent`` destinations dedupe a repeated send of the same delivery
    themselves, so a crash mid-send may be retried safely.
    """

    kind: ClassVar[str]
    markup: ClassVar[Markup]
    max_length: ClassVar[int | None] = None
    """The longest body the platform takes, in units of :meth:`measure`; None for no limit."""
    idempotent: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel]]

    @staticmethod
    def measure(text: str) -> int:
        """A body's length as the platform counts it (Mastodon counts links as 23)."""
        return len(text)

    def __init__(self, name: str, options: BaseModel, context: DeliverContext) -> None:
        self.name = name
        self.options = options
        self.context = context

    @abstractmethod
    async def send(self, delivery: Delivery) -> Receipt:
        """Post ``delivery.message``; use ``delivery.idempotency_key`` where the API has one."""

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        """Change the post ``receipt`` points at to ``delivery.message``."""
        raise DeliveryError(self.name, f"{self.kind} posts cannot be edited", permanent=True)

    async def deliver_many(self, batch: Sequence[tuple[Delivery, Receipt | None]]) -> list[Outcome]:
        """Send or edit each delivery of ``batch`` (paired with the receipt to edit, if any)."""
        return list(await asyncio.gather(*(self._deliver_one(d, r) for d, r in batch)))

    async def _deliver_one(self, delivery: Delivery, receipt: Receipt | None) -> Outcome:
        try:
            if delivery.action == "edit":
                if receipt is None:
                    raise DeliveryError(
                        self.name, "nothing to edit: the item was never posted here", permanent=True
                    )
                return Outcome(delivery, receipt=await self.edit(delivery, receipt))
            return Outcome(delivery, receipt=await self.send(delivery))
        except DeliveryError as exc:
            return Outcome(delivery, error=exc)

    async def check(self) -> str:
        """Test the destination's configuration; return a short description of what works."""
        return f"{self.kind} ready"

    async def close(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Release connections."""
