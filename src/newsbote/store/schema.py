"""The database schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Alembic migrations in ``store/migrations`` create and evolve it; this module
is the current shape the code reads and writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone; we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(moment, datetime)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


metadata = MetaData()

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("config_url", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("title", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("fetched_at", UTCDateTime()),
    Column("http_status", Integer),
    Column("next_check_at", UTCDateTime()),
    Column("lease_until", UTCDateTime()),
    Column("errors", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime()),
    Column("disabled_reason", Text),
    Column("first_run_done", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # health (newsbote.health): ok, failing or disabled; why (a reason code); since when
    Column("health", String(10), nullable=False, server_default="ok"),
    Column("health_reason", String(30)),
    Column("failing_since", UTCDateTime()),
    Column("announced", String(10), nullable=False, server_default="ok"),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("key_kind", String(10), nullable=False),
    Column("canonical_url", Text),
    Column("link", Text),
    Column("title", Text, nullable=False),
    Column("author", Text),
    Column("published", UTCDateTime()),
    Column("content_html", Text, nullable=False),
    Column("summary_html", Text, nullable=False),
    Column("teaser", Text, nullable=False),
    Column("categories", Text, nullable=False),
    Column("image", Text),
    Column("fingerprint", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("decision", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("source_id", "key", name="uq_items_source_key"),
    Index("ix_items_source_canonical", "source_id", "canonical_url"),
    Index("ix_items_canonical", "canonical_url"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("dedupe_key", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("action", String(10), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text),
    Column("markup", String(10), nullable=False),
    Column("image", Text),
    Column("remote_id", Text),
    Column("remote_url", Text),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("destination", "dedupe_key", "version", name="uq_deliveries_once"),
    Index("ix_deliveries_due", "state", "next_attempt_at", "id"),
    Index("ix_deliveries_item", "item_id"),
    Index("ix_deliveries_sent", "destination", "sent_at"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("source_id", Integer, ForeignKey("sources.id", ondelete="CASCADE")),
    Column("item_id", Integer, ForeignKey("items.id", ondelete="CASCADE")),
    Column("kind", String(30), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_events_item", "item_id"),
)

board_posts = Table(
    "board_posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("destination", String(200), nullable=False),
    Column("delivery_key", Text, nullable=False, unique=True),
    Column("thread_title", Text, nullable=False),
    Column("body_html", Text, nullable=False),
    Column("link", Text),
    Column("image", Text),
    Column("author_name", Text, nullable=False),
    Column("author_title", Text, nullable=False),
    Column("source_name", Text, nullable=False),
    Column("posted_at", UTCDateTime(), nullable=False),
    Column("edited_at", UTCDateTime()),
    Index("ix_board_posts_destination", "destination", "posted_at"),
)

destination_health = Table(
    "destination_health",
    metadata,
    Column("destination", String(200), primary_key=True),
    Column("state", String(10), nullable=False),
    Column("since", UTCDateTime()),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime()),
    Column("reason", String(30)),
    Column("reason_text", Text),
    Column("announced", String(10), nullable=False, default="ok"),
    # the destination's config when it was disabled: a changed config enables it again
    Column("config_hash", String(64)),
    Column("updated_at", UTCDateTime(), nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("subject", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # set once the notice has a send row per [health] notify destination
    Column("fanned_out", Boolean, nullable=False, default=False),
    Index("ix_notices_fan_out", "fanned_out", "id"),
)

notice_sends = Table(
    "notice_sends",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("notice_id", Integer, ForeignKey("notices.id", ondelete="CASCADE"), nullable=False),
    Column("destination", String(200), nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("last_error", Text),
    Column("remote_id", Text),
    Column("sent_at", UTCDateTime()),
    UniqueConstraint("notice_id", "destination", name="uq_notice_sends_once"),
    Index("ix_notice_sends_due", "state", "next_attempt_at", "id"),
)
