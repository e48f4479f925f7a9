"""Items and their versions, and the enqueueing of deliveries, in one transaction per poll."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from newsbote.config.schema import HealthConfig
from newsbote.enrich.sanitize import sanitize_entry
from newsbote.health import FLOODING, UNSTABLE_IDENTITY
from newsbote.identify import Known
from newsbote.outbox import HOLD_APPROVAL, NewPost, PostsInStore, idempotency_key
from newsbote.store.bulk import bulk_insert
from newsbote.store.notices import add_notice, source_subject
from newsbote.store.schema import deliveries, events, items, sources
from newsbote.store.sources import note_hold
from newsbote.types import Decision, DeliveryState, Message, Outcome, Plan, Verdict


def insert_ignoring_conflicts(connection: Connection, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


# Hot-path statements, built once: constructing expressions costs more than running them.
_KNOWN = select(items.c.key, items.c.canonical_url, items.c.fingerprint).where(
    items.c.source_id == bindparam("source_id"),
    or_(
        items.c.key.in_(bindparam("keys", expanding=True)),
        items.c.canonical_url.in_(bindparam("links", expanding=True)),
    ),
)
_IDS = select(items.c.id, items.c.key).where(
    items.c.source_id == bindparam("source_id"), items.c.key.in_(bindparam("keys", expanding=True))
)
_HOLDERS = (
    select(
        deliveries.c.destination,
        deliveries.c.dedupe_key,
        deliveries.c.version,
        deliveries.c.item_id,
        sources.c.name,
    )
    .join(items, items.c.id == deliveries.c.item_id)
    .join(sources, sources.c.id == items.c.source_id)
    .where(
        # destination first: the unique (destination, dedupe_key, version) index serves it
        deliveries.c.destination.in_(bindparam("destinations", expanding=True)),
        deliveries.c.dedupe_key.in_(bindparam("keys", expanding=True)),
    )
)


def load_content(connection: Connection, source_id: int, keys: Sequence[str]) -> dict[str, str]:
    """The stored HTML of these items, by key (the version before a change)."""
    rows = connection.execute(
        select(items.c.key, items.c.content_html).where(
            items.c.source_id == source_id, items.c.key.in_(list(keys))
        )
    ).all()
    return {row.key: row.content_html for row in rows}


def load_known(
    connection: Connection, source_id: int, keys: Sequence[str], links: Sequence[str]
) -> Known:
    """The stored fingerprints of these keys, and the keys of these canonical links."""
    if not keys and not links:
        return Known()
    if connection.dialect.name == "sqlite":
        # one ``?`` per key, rendered once per count: SQLAlchemy's expanding IN renders
        # and binds them again on every poll
        sql = _known_sql(len(keys), len(links))
        rows = connection.exec_driver_sql(sql, (source_id, *keys, *links)).all()
    else:
        rows = connection.execute(
            _KNOWN, {"source_id": source_id, "keys": list(keys), "links": list(links)}
        ).all()
    return Known(
        fingerprints={row.key: row.fingerprint for row in rows},
        keys_by_link={row.canonical_url: row.key for row in rows if row.canonical_url},
    )


Suspect = tuple[str, str, datetime]
"""A new item that may be a stored one under a new id: its key, title and publication date."""


def _title(text: str) -> str:
    return " ".join(text.split()).casefold()


def identity_suspects(
    verdicts: Sequence[Verdict], health: HealthConfig, first_run_done: bool
) -> list[Suspect]:
    """The dated new items of a poll worth looking up by title and date, or none where
    they could not make an unstable identity (``pipeline.poll_hold``) whatever the answer:
    most polls bring one new item or none, and ask the store nothing more."""
    new = [v.item for v in verdicts if v.outcome is Outcome.NEW]
    if not first_run_done or len(new) < 2 or len(new) < health.unstable_share * len(verdicts):
        return []
    return [(i.key, i.entry.title, i.entry.published) for i in new if i.entry.published]


def find_lookalikes(
    connection: Connection, source_id: int, suspects: Sequence[Suspect]
) -> frozenset[str]:
    """Keys of the ``suspects`` whose title (whitespace and case aside) and publication
    date (to the second) are those of an item the source stored before."""
    wanted: dict[tuple[str, datetime], list[str]] = {}
    for key, title, published in suspects:
        moment = published.astimezone(UTC).replace(microsecond=0)
        wanted.setdefault((_title(title), moment), []).append(key)
    titles = sorted({title for _, title, _ in suspects})
    found: set[str] = set()
    for start in range(0, len(titles), 500):
        rows = connection.execute(
            select(items.c.title, items.c.published).where(
                items.c.source_id == source_id,
                items.c.published.is_not(None),
                items.c.title.in_(titles[start : start + 500]),
            )
        )
        for row in rows:
            moment = row.published.astimezone(UTC).replace(microsecond=0)
            found.update(wanted.get((_title(row.title), moment), ()))
    return frozenset(found)


@lru_cache(maxsize=64)
def _known_sql(keys: int, links: int) -> str:
    """``_KNOWN`` for SQLite with this many keys and links (only ``?`` go in: no values)."""
    marks = ", ".join("?" * keys), ", ".join("?" * links)
    return (
        "SELECT key, canonical_url, fingerprint FROM items WHERE source_id = ? AND "  # noqa: S608
        f"(key IN ({marks[0]}) OR canonical_url IN ({marks[1]}))"
    )


def _item_values(plan: Plan, now: datetime) -> dict[str, Any]:
    item = plan.verdict.item
    entry = sanitize_entry(item.entry)  # a no-op unless someone skipped the pipeline's step
    return {
        "key": item.key,
        "key_kind": item.key_kind.value,
        "canonical_url": item.canonical_url,
        "link": entry.link,
        "title": entry.title,
        "author": entry.author,
        "published": entry.published,
        "content_html": entry.content_html,
        # empty when the feed's summary is its content: no need to store it twice
        "summary_html": "" if entry.summary_html == entry.content_html else entry.summary_html,
        "teaser": item.teaser,
        "categories": json.dumps(list(entry.categories), ensure_ascii=False),
        "image": entry.image,
        "fingerprint": item.fingerprint,
        "decision": plan.decision.value,
        "reason": plan.reason,
        "updated_at": now,
    }


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one poll wrote: items stored and deliveries enqueued."""

    new_items: int
    changed_items: int
    queued: int
    duplicates: int
    posted: Mapping[str, int] | None = None
    """Of the queued, those posted in the same transaction, per destination (the board)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A poll's rows, built before its transaction: they need nothing from the database,
    so the transaction (on SQLite the one writer at a time) only numbers and writes them."""

    source_id: int
    now: datetime
    new_keys: Sequence[str]
    item_rows: Sequence[dict[str, Any]]
    """The new items' rows (keyed as ``new_keys``, oldest first), without their ids."""
    changed: Sequence[Plan]
    """Changed and renamed items: their rows need the stored version."""
    ledger: Sequence[_LedgerRow]
    in_store: Mapping[str, PostsInStore]
    source_title: str | None
    notice: tuple[str, str, str] | None = None
    """A hold's notice: the source, the text, and the hold's health reason."""
    """The hold to announce, as (source name, text), where this poll's new items wait."""


@dataclass(frozen=True, slots=True)
class _LedgerRow:
    key: str
    """The item's key."""
    message: Message
    row: dict[str, Any]
    """The ledger row but for its item id, version and (for a post in the store) receipt."""
    poster: PostsInStore | None


def prepare_items(
    source_id: int,
    plans: Sequence[Plan],
    now: datetime,
    in_store: Mapping[str, PostsInStore] | None = None,
    source_title: str | None = None,
    *,
    language: str = "de",
) -> Prepared:
    """The rows :func:`write_items` writes for these plans (see :func:`record_items`);
    ``language`` is the one a hold's notice is written in."""
    ordered = _oldest_first(list(plans))
    new = [p for p in ordered if p.verdict.outcome is Outcome.NEW]
    in_store = in_store or {}
    ledger = [
        _LedgerRow(
            plan.verdict.item.key,
            message,
            _ledger_row(plan, message, source_id, now),
            in_store.get(message.destination)
            if message.action in POSTED_NOW and message.destination not in plan.held
            else None,
        )
        for plan in ordered
        if plan.verdict.outcome is not Outcome.UNCHANGED
        for message in plan.messages
    ]
    return Prepared(
        source_id=source_id,
        now=now,
        new_keys=[p.verdict.item.key for p in new],
        changed=[p for p in ordered if p.verdict.outcome in (Outcome.CHANGED, Outcome.RENAMED)],
        item_rows=[
            {**_item_values(p, now), "source_id": source_id, "version": 1, "first_seen_at": now}
            for p in new
        ],
        ledger=ledger,
        in_store=in_store,
        source_title=source_title,
        notice=_hold_notice(new, language),
    )


HOLD_TEXTS = {
    "de": {
        "flood": "Die Quelle »{source}« hat auf einmal {count} neue Artikel geliefert.",
        "unstable identity": (
            "Die Quelle »{source}« hat {count} Artikel unter neuen Kennungen geliefert, die "
            "nach Titel und Datum schon bekannten gleichen."
        ),
        "then": (
            "Ich halte sie zurück: newsbote release --source {name} "
            "oder newsbote discard --source {name}."
        ),
    },
    "en": {
        "flood": "The source »{source}« delivered {count} new articles at once.",
        "unstable identity": (
            "The source »{source}« delivered {count} articles under new ids that match known "
            "ones by title and date."
        ),
        "then": (
            "I am holding them back: newsbote release --source {name} "
            "or newsbote discard --source {name}."
        ),
    },
}
"""A hold's notice, by language and kind (the part of the reason before its colon)."""


def _hold_notice(new: Sequence[Plan], language: str) -> tuple[str, str, str] | None:
    """The notice of a poll whose new items wait (one per poll, not one per item); None
    where none does but for a route's approval, which is a queue, not news."""
    reasons = [r for p in new for r in p.held.values() if r != HOLD_APPROVAL]
    if not reasons:
        return None
    kind = reasons[0].partition(":")[0]
    texts = HOLD_TEXTS.get(language, HOLD_TEXTS["en"])
    source = new[0].verdict.item.source
    count = len(new) if kind == "flood" else sum(1 for p in new if p.held)
    text = texts.get(kind, texts["flood"]).format(source=source, count=count)
    reason = FLOODING if kind == "flood" else UNSTABLE_IDENTITY
    return source, f"{text} {texts['then'].format(name=shlex.quote(source))}", reason


def record_items(
    connection: Connection,
    source_id: int,
    plans: Sequence[Plan],
    now: datetime,
    in_store: Mapping[str, PostsInStore] | None = None,
    source_title: str | None = None,
) -> Recorded:
    """Store new and changed items, their explanations, and enqueue their deliveries.

    New posts to the destinations in ``in_store`` are written right here (showing
    ``source_title`` as their source) and their ledger rows go in as ``sent``;
    everything else waits in the ledger as ``pending``.
    """
    return write_items(connection, prepare_items(source_id, plans, now, in_store, source_title))


def write_items(connection: Connection, prepared: Prepared) -> Recorded:
    """:func:`record_items` with its rows built beforehand (outside the transaction)."""
    source_id, now = prepared.source_id, prepared.now
    ids: dict[str, tuple[int, int]] = {}
    keys = prepared.new_keys
    if keys:
        rows = [dict(row) for row in prepared.item_rows]  # a retry writes them again
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # This transaction is the one writer, so the new rows' ids are known: the
            # next after the largest (which SQLite would pick too). No query for them.
            first = int(connection.exec_driver_sql("SELECT max(id) FROM items").scalar() or 0) + 1
            for offset, (key, row) in enumerate(zip(keys, rows, strict=True)):
                row["id"] = first + offset
                ids[key] = (first + offset, 1)
        # a plain executemany (no RETURNING) is the fast path on both drivers
        bulk_insert(connection, items, rows)
        if not sqlite:  # other writers number rows too: read the ids back
            for start in range(0, len(keys), 500):
                found = connection.execute(
                    _IDS, {"source_id": source_id, "keys": keys[start : start + 500]}
                )
                ids.update({row.key: (row.id, 1) for row in found})
    for plan in prepared.changed:
        ids[plan.verdict.item.key] = _update_item(connection, source_id, plan, now)
    queued, duplicates, posted = _enqueue(connection, prepared, ids)
    if prepared.notice is not None:
        source, text, reason = prepared.notice
        add_notice(connection, kind="held", subject=source_subject(source), text=text, now=now)
        note_hold(connection, source_id, reason)  # status shows it until released
    return Recorded(
        new_items=len(keys),
        changed_items=len(prepared.changed),
        queued=queued,
        duplicates=duplicates,
        posted=posted,
    )


def _oldest_first(plans: list[Plan]) -> list[Plan]:
    """Publication order, so threads open oldest first and the newest article ends on top.

    Feeds list newest first; undated entries keep that order, reversed.
    """
    chronological = list(reversed(plans))
    if all(p.verdict.item.entry.published for p in chronological):
        chronological.sort(key=lambda p: p.verdict.item.entry.published)  # type: ignore[arg-type, return-value]
    return chronological


def _update_item(
    connection: Connection, source_id: int, plan: Plan, now: datetime
) -> tuple[int, int]:
    verdict = plan.verdict
    stored = connection.execute(
        select(items.c.id, items.c.version, items.c.fingerprint).where(
            items.c.source_id == source_id, items.c.key == verdict.known_key
        )
    ).one()
    content_changed = stored.fingerprint != verdict.item.fingerprint
    version = stored.version + 1 if content_changed else stored.version
    values = _item_values(plan, now)
    if plan.decision is Decision.UNCHANGED:
        values.pop("decision")
        values.pop("reason")
    connection.execute(
        update(items).where(items.c.id == stored.id).values(version=version, **values)
    )
    notes = [verdict.reason]
    if content_changed:
        notes.append(f"content changed: version {version}")
    connection.execute(
        events.insert().values(
            at=now,
            source_id=source_id,
            item_id=stored.id,
            kind=verdict.outcome.value,
            message="; ".join(notes),
        )
    )
    return stored.id, version


def _dedupe_key(plan: Plan, source_id: int) -> str:
    item = plan.verdict.item
    return item.canonical_url or f"{source_id}:{item.key}"


POSTED_NOW = ("post", "reply")
"""Actions an in-store destination takes while enqueueing (a reply is a new post there);
an edit waits for the runner, which has the post's receipt at hand."""


def _ledger_row(plan: Plan, message: Message, source_id: int, now: datetime) -> dict[str, Any]:
    held = plan.held.get(message.destination)
    return {
        "destination": message.destination,
        "dedupe_key": _dedupe_key(plan, source_id),
        "action": message.action,
        "state": DeliveryState.PENDING.value if held is None else DeliveryState.HELD.value,
        "last_error": held,
        "attempts": 0,
        "next_attempt_at": now,
        "title": message.title,
        "body": message.body,
        "link": message.link,
        "markup": message.markup.value,
        "image": message.image,
        "remote_id": None,
        "remote_url": None,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
    }


def _enqueue(
    connection: Connection, prepared: Prepared, ids: dict[str, tuple[int, int]]
) -> tuple[int, int, dict[str, int]]:
    now = prepared.now
    wanted: list[dict[str, Any]] = []
    posts: dict[int, tuple[PostsInStore, NewPost]] = {}
    for ledger in prepared.ledger:
        if ledger.key not in ids:
            continue
        item_id, version = ids[ledger.key]
        row = {**ledger.row, "item_id": item_id, "version": version}
        if ledger.poster is not None:
            key = idempotency_key(row["destination"], row["dedupe_key"], version)
            receipt = ledger.poster.receipt_for(key)
            row.update(
                state=DeliveryState.SENT.value,
                attempts=1,
                remote_id=receipt.remote_id,
                remote_url=receipt.url,
                sent_at=now,
                # the post itself holds the body: a sent row's body is never read
                # again, and a second copy would double what a cold start writes
                body="",
            )
            posts[len(wanted)] = (
                ledger.poster,
                NewPost(key, item_id, ledger.message, prepared.source_title),
            )
        wanted.append(row)
    if not wanted:
        return 0, 0, {}
    if bulk_insert(connection, deliveries, wanted, ignore_conflicts=True) == len(wanted):
        conflicts: list[int] = []  # every row went in: no other item holds any of these slots
    else:
        conflicts = _record_duplicates(connection, prepared.source_id, wanted, now)
    return len(wanted) - len(conflicts), len(conflicts), _post(connection, posts, conflicts, now)


def _post(
    connection: Connection,
    posts: Mapping[int, tuple[PostsInStore, NewPost]],
    conflicts: Sequence[int],
    now: datetime,
) -> dict[str, int]:
    """Write the posts whose ledger rows went in (a duplicate's slot is another item's)."""
    skipped = set(conflicts)
    by_poster: dict[int, tuple[PostsInStore, list[NewPost]]] = {}
    for index, (poster, post) in posts.items():
        if index not in skipped:
            by_poster.setdefault(id(poster), (poster, []))[1].append(post)
    posted: dict[str, int] = {}
    for poster, batch in by_poster.values():
        poster.post_now(connection, batch, now)
        for post in batch:
            posted[post.message.destination] = posted.get(post.message.destination, 0) + 1
    return posted


def _record_duplicates(
    connection: Connection, source_id: int, wanted: Sequence[dict[str, Any]], now: datetime
) -> list[int]:
    """The rows (by index) whose slot another item holds: noted as duplicates of it."""
    holders = _holders(connection, wanted)
    conflicts = [
        index
        for index, row in enumerate(wanted)
        if holders.get((row["destination"], row["dedupe_key"], row["version"]), (row["item_id"],))[
            0
        ]
        != row["item_id"]
    ]
    for index in conflicts:
        row = wanted[index]
        holder = holders[(row["destination"], row["dedupe_key"], row["version"])]
        connection.execute(
            events.insert().values(
                at=now,
                source_id=source_id,
                item_id=row["item_id"],
                kind="duplicate",
                message=(
                    f"not queued for {row['destination']!r}: the same article "
                    f"({row['dedupe_key']}) is already there from item #{holder[0]} "
                    f"of source {holder[1]!r}"
                ),
            )
        )
        connection.execute(
            update(items)
            .where(items.c.id == row["item_id"], items.c.decision == Decision.QUEUED.value)
            .values(
                decision=Decision.DUPLICATE.value,
                reason=f"duplicate of item #{holder[0]} ({holder[1]})",
            )
        )
    return conflicts


def _holders(
    connection: Connection, wanted: Sequence[dict[str, Any]]
) -> dict[tuple[str, str, int], tuple[int, str]]:
    """Ledger rows that already hold these (destination, article, version) slots."""
    keys = list({row["dedupe_key"] for row in wanted})
    destinations = list({row["destination"] for row in wanted})
    found: dict[tuple[str, str, int], tuple[int, str]] = {}
    for start in range(0, len(keys), 500):
        rows = connection.execute(
            _HOLDERS, {"destinations": destinations, "keys": keys[start : start + 500]}
        ).all()
        for row in rows:
            found[(row.destination, row.dedupe_key, row.version)] = (row.item_id, row.name)
    return found
