"""What a destination is. Adding one is a new module in ``deliver/`` with a subclass of
:class:`Destination`; it is found by its ``kind``, nothing central changes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from sqlalchemy import Connection, and_, func, or_, select, update

from newsbote.config.schema import BotConfig
from newsbote.errors import DeliveryError, StorageError
from newsbote.outbox import MAX_AGE, MAX_ATTEMPTS, Delivery, NewPost, Outcome, Policy
from newsbote.store import Store
from newsbote.store.schema import deliveries
from newsbote.types import DeliveryState, Markup, Receipt

log = logging.getLogger("newsbote.deliver")

UNEXPECTED_CHARS = 300
"""How much of an unexpected exception's message an error keeps."""


class Options(BaseModel):
    """Base of a destination kind's options; unknown keys are config errors.

    Every kind takes these: how fast to post and how long to keep trying.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_minute: float | None = Field(
        None, gt=0, description="posts per minute at most (default: the platform's own limit)"
    )
    max_attempts: int = Field(MAX_ATTEMPTS, ge=1, description="attempts before a delivery is dead")
    max_age_hours: float | None = Field(
        MAX_AGE / timedelta(hours=1),
        gt=0,
        description="a delivery older than this is dead after its next failure",
    )
    max_length: int | None = Field(
        None, ge=100, description="cut posts to this length (default: the platform's own limit)"
    )
    daily_cap: int | None = Field(
        None,
        ge=1,
        description=(
            "posts (and replies) a calendar day at most, counted in `timezone`; the rest wait "
            "for the next day, none is dropped; edits do not count"
        ),
    )
    timezone: str = Field("UTC", description="the time zone of the destination's calendar day")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def reveal_secret(secret: SecretStr, what: str, destination: str) -> str:
    """A secret's value: literal, ``env:NAME`` (an environment variable) or ``file:PATH``."""
    value = secret.get_secret_value()
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if not found:
            raise DeliveryError(
                destination, f"{what}: environment variable {name} is not set", permanent=True
            )
        return found
    if value.startswith("file:"):
        try:
            return Path(value[5:]).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DeliveryError(
                destination, f"{what}: cannot read {value[5:]}: {exc}", permanent=True
            ) from exc
    return value


class Reply(Protocol):
    """A destination's answer that may hold JSON (``http.Answer``)."""

    def json(self) -> Any: ...


def json_field(answer: Reply, *path: str) -> object:
    """``answer.json()[path[0]][path[1]]…``, or None where the reply is no JSON, no object
    or lacks the field. Never raises: a reply comes from a stranger."""
    try:
        value: object = answer.json()
    except Exception:  # whatever a hostile body does to the parser (depth, digits)
        return None
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def wait_seconds(value: object, unit: float = 1.0) -> float | None:
    """A vendor's wait hint (a number, or a number in a string) in seconds, ``unit`` being
    the seconds per unit of the vendor's field; None where it is no number. Never raises.

    Only parsed here: the outbox bounds every hint in one place (:func:`outbox.wait_hint`).
    """
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int) and abs(value) > 10**300:  # beyond a float: a very long wait
        return 1e300 if value > 0 else -1e300
    seconds = float(value) * unit
    return seconds if math.isfinite(seconds) else None


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self._tokens = self.burst
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def available(self) -> int:
        """Whole tokens that can be taken now without waiting."""
        self._refill()
        return int(self._tokens)

    async def take(self) -> None:
        """Take one token, waiting for it if there is none."""
        async with self._lock:
            self._refill()
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.rate)
                self._refill()
            self._tokens -= 1


OptionsT = TypeVar("OptionsT", bound=Options)
"""A destination kind's own options model."""


@dataclass(frozen=True, slots=True)
class DeliverContext:
    """What every destination may use: the store, the bot identity and the language."""

    store: Store
    bot: BotConfig
    language: str
    base_dir: Path | None = None
    """The config file's directory: relative paths in options are relative to it."""


class Destination(ABC, Generic[OptionsT]):
    """A place to post.

    ``send`` posts a new message and returns its :class:`Receipt`; ``edit``
    changes a sent one in place where the platform allows; ``reply`` answers it
    (by default: a new post titled "Update: …"); ``lookup`` finds a post whose
    send had an unknown outcome. Errors are :class:`DeliveryError` with
    ``permanent`` saying whether a retry can help. ``idempotent`` destinations
    dedupe a repeated send of the same delivery themselves, so a crash mid-send
    may be retried safely.
    """

    kind: ClassVar[str]
    markup: ClassVar[Markup]
    max_length: ClassVar[int | None] = None
    """The longest body the platform takes, in units of :meth:`measure`; None for no limit."""
    idempotent: ClassVar[bool] = False
    can_edit: ClassVar[bool] = True
    """False where a sent post cannot change (mail): an edit becomes an "Update: …" reply."""
    title_in_body: ClassVar[bool] = False
    """True where the platform has no title field: the title leads the body, in bold."""
    can_lookup: ClassVar[bool] = False
    """True where :meth:`lookup` can tell whether a post arrived."""
    rate: ClassVar[tuple[float, float] | None] = None
    """The platform's documented limit as (posts per second, burst); None for none."""
    Options: ClassVar[type[BaseModel]]

    @staticmethod
    def measure(text: str) -> int:
        """A body's length as the platform counts it (Mastodon counts links as 23)."""
        return len(text)

    def __init__(self, name: str, options: BaseModel, context: DeliverContext) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} takes {self.Options.__name__}, not {options!r}")
        self.name = name
        self.options = cast(OptionsT, options)
        self.context = context
        self._secrets: set[str] = set()
        self._revealed: dict[str, str] = {}
        per_minute = self.options.rate_per_minute
        rate = (per_minute / 60.0, max(1.0, per_minute / 60.0)) if per_minute else self.rate
        self.bucket = TokenBucket(*rate) if rate else None

    def reveal(self, secret: SecretStr, what: str) -> str:
        """A secret option's value, read once (a ``file:`` is not read per request) and
        remembered, so no error message ever shows it."""
        written = secret.get_secret_value()
        if written in self._revealed:
            return self._revealed[written]
        value = self._revealed[written] = reveal_secret(secret, what, self.name)
        parts = urlsplit(value)
        # a secret URL (a Discord webhook) shows in errors as its path: hide that and its token
        found = (
            [value, parts.path, parts.path.rstrip("/").rsplit("/", 1)[-1]]
            if parts.scheme
            else [value]
        )
        self._secrets.update(part for part in found if len(part) >= 4)
        return value

    def _scrubbed(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def scrub(self, error: DeliveryError) -> DeliveryError:
        """``error`` with every secret this destination used replaced by ``***``."""
        detail = self._scrubbed(error.detail)
        if detail == error.detail:
            return error
        return DeliveryError(
            self.name,
            detail,
            permanent=error.permanent,
            retry_after=error.retry_after,
            uncertain=error.uncertain,
        )

    @property
    def paced(self) -> bool:
        """True where :meth:`room` or :meth:`cap_room` limit what may be claimed (a rate
        limit, a digest, a daily cap)."""
        return self.bucket is not None or self.options.daily_cap is not None

    def room(self, connection: Connection, now: datetime, limit: int) -> int:
        """How many deliveries may be claimed now (called in the claiming transaction)."""
        return min(limit, self.bucket.available()) if self.bucket is not None else limit

    def _days(self, now: datetime) -> tuple[datetime, datetime]:
        """The start of ``now``'s calendar day in the destination's time zone, and of the next."""
        zone = ZoneInfo(self.options.timezone)
        today = now.astimezone(zone).date()
        start = datetime.combine(today, datetime.min.time(), zone)
        following = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
        return start.astimezone(UTC), following.astimezone(UTC)

    def cap_room(self, connection: Connection, now: datetime) -> int | None:
        """How many more posts ``daily_cap`` lets out today; None without a cap.

        Counted are posts and replies sent today, and those out now (``sending``) or of
        unknown fate since the day began. On PostgreSQL the count holds a lock per
        destination until the claiming transaction ends, so two workers cannot both
        take the last places (SQLite's claiming transactions are serial already).
        """
        cap = self.options.daily_cap
        if cap is None:
            return None
        if connection.dialect.name == "postgresql":
            connection.execute(
                select(func.pg_advisory_xact_lock(func.hashtext(f"newsbote.daily_cap:{self.name}")))
            )
        start, _ = self._days(now)
        out = (DeliveryState.SENDING.value, DeliveryState.UNKNOWN.value)
        used = connection.execute(
            select(func.count())
            .select_from(deliveries)
            .where(
                deliveries.c.destination == self.name,
                deliveries.c.action != "edit",
                or_(
                    deliveries.c.sent_at >= start,
                    and_(deliveries.c.state.in_(out), deliveries.c.updated_at >= start),
                ),
            )
        ).scalar_one()
        return max(0, cap - int(used))

    def hold_over_cap(self, connection: Connection, now: datetime, keep: Sequence[int]) -> int:
        """Move the posts due now that the daily cap keeps back (all but ``keep``, the rows
        just claimed) to the start of the next day, noting why; returns how many.

        Nothing is dropped: the rows stay pending (or failed, keeping their error) and go
        out first the next day, oldest first as ever.
        """
        _, tomorrow = self._days(now)
        local = tomorrow.astimezone(ZoneInfo(self.options.timezone))
        note = (
            f"over the daily cap of {self.options.daily_cap}: waits until "
            f"{local:%Y-%m-%d %H:%M} {self.options.timezone}"
        )
        due = [
            deliveries.c.destination == self.name,
            deliveries.c.action != "edit",
            deliveries.c.next_attempt_at <= now,
            deliveries.c.id.not_in(list(keep)),
        ]
        moved = 0
        for state, values in (
            (DeliveryState.PENDING.value, {"last_error": note}),
            (DeliveryState.FAILED.value, {}),
        ):
            moved += connection.execute(
                update(deliveries)
                .where(deliveries.c.state == state, *due)
                .values(next_attempt_at=tomorrow, updated_at=now, **values)
            ).rowcount
        if moved:
            log.info("deliver destination=%s held=%d reason=daily_cap", self.name, moved)
        return moved

    @property
    def policy(self) -> Policy:
        """How long the outbox keeps trying this destination."""
        hours = self.options.max_age_hours
        return Policy(
            max_attempts=self.options.max_attempts,
            max_age=timedelta(hours=hours) if hours else None,
            idempotent=self.idempotent,
        )

    @abstractmethod
    async def send(self, delivery: Delivery) -> Receipt:
        """Post ``delivery.message``; use ``delivery.idempotency_key`` where the API has one."""

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        """Change the post ``receipt`` points at to ``delivery.message``."""
        raise DeliveryError(self.name, f"{self.kind} posts cannot be edited", permanent=True)

    async def reply(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        """Answer the post ``receipt`` points at (titled "Update: …"); here: a new post."""
        return await self.send(delivery)

    async def lookup(self, delivery: Delivery) -> Receipt | None:
        """The post ``delivery`` made, if it arrived; None if it certainly did not."""
        raise DeliveryError(self.name, f"{self.kind} cannot look posts up", uncertain=True)

    def first_version_only(self, delivery: Delivery) -> None:
        """For lookups by title or link: they cannot tell a repost from the first post."""
        if delivery.version > 1:
            raise DeliveryError(
                self.name,
                f"a repost cannot be told from the first post on {self.kind}: "
                "see whether it arrived and run newsbote resolve",
                uncertain=True,
            )

    def unexpected(self, exc: Exception, doing: str = "sending") -> DeliveryError:
        """The error a delivery fails with when ``exc`` is no :class:`DeliveryError` (a bug,
        or a reply no one foresaw: a ``KeyError`` on surprising JSON, a decoding error).

        It is *uncertain*: the exception may have come after the request left (while the
        reply was read), so a destination without idempotency does not resend blindly;
        the row becomes ``unknown``, a lookup or the operator settles it. An idempotent
        destination retries it with backoff until ``max_attempts``, which is safe. The
        traceback is logged (secrets masked): an unexpected exception is a bug to report.
        """
        message = self._scrubbed(str(exc))
        if len(message) > UNEXPECTED_CHARS:
            message = message[: UNEXPECTED_CHARS - 1] + "…"
        log.error(
            "deliver destination=%s unexpected=%s while=%s\n%s",
            self.name,
            type(exc).__name__,
            doing,
            self._scrubbed("".join(traceback.format_exception(exc))),
        )
        return DeliveryError(
            self.name,
            f"unexpected {type(exc).__name__} while {doing}: {message}",
            uncertain=True,
        )

    async def deliver_many(self, batch: Sequence[tuple[Delivery, Receipt | None]]) -> list[Outcome]:
        """Send, edit or reply for each delivery of ``batch`` (paired with its post's receipt).

        One outcome per delivery, in order; never raises for one delivery's sake, so a send
        that failed in any way leaves the outcomes of the others. An override must keep
        that: the runner makes every delivery of a batch whose ``deliver_many`` raised
        uncertain, as it cannot tell which of them arrived.
        """
        return list(await asyncio.gather(*(self._deliver_one(d, r) for d, r in batch)))

    async def _deliver_one(self, delivery: Delivery, receipt: Receipt | None) -> Outcome:
        doing = {"edit": "editing", "reply": "replying"}.get(delivery.action, "sending")
        try:
            if delivery.claimed_from == DeliveryState.UNKNOWN.value:
                found = await self.lookup(delivery)
                if found is not None:
                    return Outcome(delivery, receipt=found)
            if self.bucket is not None:
                await self.bucket.take()
            if delivery.action in ("edit", "reply"):
                if receipt is None:
                    raise DeliveryError(
                        self.name,
                        "nothing to update: the item was never posted here",
                        permanent=True,
                    )
                if delivery.action == "edit":
                    return Outcome(delivery, receipt=await self.edit(delivery, receipt))
                return Outcome(delivery, receipt=await self.reply(delivery, receipt))
            return Outcome(delivery, receipt=await self.send(delivery))
        except DeliveryError as exc:
            return Outcome(delivery, error=self.scrub(exc))
        except Exception as exc:  # a bug or a reply no one foresaw: this delivery's alone
            return Outcome(delivery, error=self.unexpected(exc, doing))

    async def check(self) -> str:
        """Test the destination's configuration; return a short description of what works."""
        return f"{self.kind} ready"

    async def close(self) -> None:
        """Release connections."""


class InStoreDestination(Destination[OptionsT]):
    """A destination that lives in newsbote's own database (the board).

    New posts are written in the transaction that enqueues them, their ledger rows
    going in as ``sent`` (:class:`~newsbote.outbox.PostsInStore`), unless the
    destination is paced. What the runner takes (edits, retries, paced posts) is
    written and recorded in one transaction, without a lease. Either way a post and
    its ledger row can never disagree.
    """

    @property
    def posts_while_enqueued(self) -> bool:
        """Whether new posts are written as they are enqueued (not when paced)."""
        return not self.paced

    @abstractmethod
    def receipt_for(self, key: str) -> Receipt:
        """The receipt of the post with this ledger key (known before it is written)."""

    @abstractmethod
    def post_now(self, connection: Connection, posts: Sequence[NewPost], now: datetime) -> None:
        """Write ``posts`` inside the caller's transaction; one whose key is there is kept."""

    @abstractmethod
    def edit_now(
        self, connection: Connection, delivery: Delivery, receipt: Receipt, now: datetime
    ) -> None:
        """Change the post ``receipt`` names inside the caller's transaction."""

    def write(
        self, connection: Connection, batch: Sequence[tuple[Delivery, Receipt | None]]
    ) -> list[Outcome]:
        """Post or edit ``batch`` inside the caller's transaction; an outcome per delivery."""
        now = datetime.now(UTC)
        posts = [d for d, _ in batch if d.action != "edit"]
        self.post_now(
            connection, [NewPost(d.idempotency_key, d.item_id, d.message) for d in posts], now
        )
        outcomes: list[Outcome] = []
        for delivery, receipt in batch:
            if delivery.action != "edit":
                outcomes.append(
                    Outcome(delivery, receipt=self.receipt_for(delivery.idempotency_key))
                )
                continue
            try:
                if receipt is None:
                    raise DeliveryError(
                        self.name, "nothing to edit: the item was never posted here", permanent=True
                    )
                self.edit_now(connection, delivery, receipt, now)
            except DeliveryError as exc:
                outcomes.append(Outcome(delivery, error=exc))
            else:
                outcomes.append(Outcome(delivery, receipt=receipt))
        return outcomes

    async def send(self, delivery: Delivery) -> Receipt:
        return _receipt(await self.deliver_many([(delivery, None)]))

    async def edit(self, delivery: Delivery, receipt: Receipt) -> Receipt:
        return _receipt(await self.deliver_many([(delivery, receipt)]))

    async def deliver_many(self, batch: Sequence[tuple[Delivery, Receipt | None]]) -> list[Outcome]:
        """A batch outside the runner (one ``send`` or ``edit``): its own transaction."""
        try:
            return await self.context.store.run(self.write, list(batch))
        except StorageError as exc:
            return [Outcome(d, error=DeliveryError(self.name, str(exc))) for d, _ in batch]


def _receipt(outcomes: list[Outcome]) -> Receipt:
    outcome = outcomes[0]
    if outcome.error is not None:
        raise outcome.error
    assert outcome.receipt is not None
    return outcome.receipt
