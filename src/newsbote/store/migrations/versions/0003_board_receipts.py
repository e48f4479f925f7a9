"""board posts are known to the ledger by their key, not their row id

Revision ID: 0003
Revises: 0002

The board now posts in the transaction that enqueues a message, and its ledger row
goes in as ``sent`` at once, so its receipt must be known before the post has a row
id: it is the post's ledger key (``delivery_key``), shown at ``/p/KEY``. Ledger rows
of posts made before record the post's id; they are rewritten to its key.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE deliveries SET remote_id = (SELECT b.delivery_key FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination"
        " AND CAST(b.id AS TEXT) = deliveries.remote_id)"
        " WHERE state = 'sent' AND EXISTS (SELECT 1 FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination"
        " AND CAST(b.id AS TEXT) = deliveries.remote_id)"
    )
    # the rows rewritten above now hold a post's key: their URL follows
    op.execute(
        "UPDATE deliveries SET remote_url = '/p/' || remote_id WHERE state = 'sent'"
        " AND EXISTS (SELECT 1 FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination AND b.delivery_key = deliveries.remote_id)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE deliveries SET remote_id = (SELECT CAST(b.id AS TEXT) FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination AND b.delivery_key = deliveries.remote_id)"
        " WHERE state = 'sent' AND EXISTS (SELECT 1 FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination AND b.delivery_key = deliveries.remote_id)"
    )
    op.execute(
        "UPDATE deliveries SET remote_url = '/t/' || remote_id WHERE state = 'sent'"
        " AND EXISTS (SELECT 1 FROM board_posts AS b"
        " WHERE b.destination = deliveries.destination AND CAST(b.id AS TEXT) = deliveries.remote_id)"
    )
