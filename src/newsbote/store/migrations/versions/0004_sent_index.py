"""index the ledger by destination and sending time

Revision ID: 0004
Revises: 0003

A destination's daily cap and the email digest count what a destination was
sent since a moment; with (destination, sent_at) that is a range read of the
index instead of a scan of the whole ledger.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_deliveries_sent", ["destination", "sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_sent")
