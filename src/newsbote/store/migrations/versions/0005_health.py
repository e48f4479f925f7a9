"""health of sources and destinations, and the notices that announce it

Revision ID: 0005
Revises: 0004

A source keeps its health state (ok, failing, disabled), a reason code and the
moment its failures began; a destination's health gets a table of its own (a
destination lives in the config, not in the store). A notice ("the source heise
fails since three polls") is written in the transaction that changes the state,
and sent once to every ``[health] notify`` destination through its own small
ledger, ``notice_sends``, unique per notice and destination.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("health", sa.String(length=10), nullable=False, server_default="ok")
        )
        batch_op.add_column(sa.Column("health_reason", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("announced", sa.String(length=10), nullable=False, server_default="ok")
        )
    # a source disabled before health existed was disabled because it was gone (410)
    # (and the operator saw it in status: it is not announced again)
    op.execute(
        "UPDATE sources SET health = 'disabled', health_reason = 'gone', announced = 'disabled'"
        " WHERE disabled_reason IS NOT NULL"
    )
    op.execute(
        "UPDATE sources SET health = 'failing', failing_since = last_error_at"
        " WHERE health = 'ok' AND errors > 0"
    )
    op.create_table(
        "destination_health",
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=True),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("announced", sa.String(length=10), nullable=False),
        sa.Column("config_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("destination"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_fan_out", ["fanned_out", "id"], unique=False)
    op.create_table(
        "notice_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_id", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["notice_id"], ["notices.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notice_id", "destination", name="uq_notice_sends_once"),
    )
    with op.batch_alter_table("notice_sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notice_sends_due", ["state", "next_attempt_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_sends_due")
    op.drop_table("notice_sends")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_fan_out")
    op.drop_table("notices")
    op.drop_table("destination_health")
    # plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch operation would copy the
    # table and drop the old one, and with foreign keys on, that drop cascades to every
    # item and delivery of the sources
    for column in ("announced", "failing_since", "health_reason", "health"):
        op.drop_column("sources", column)
