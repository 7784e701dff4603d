"""Export API cursor: request.commit_seq (the writer batch's commit sequence), indexed with id; the counter table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    p = _prefix()
    counter = op.create_table(
        f"{p}counter",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin",  # as every fmd table (see 0002)
    )
    # The row exists before any writer runs, so taking a number is always an UPDATE (fmd.store.sequence).
    op.bulk_insert(counter, [{"name": "request", "value": 0}])
    with op.batch_alter_table(f"{p}request") as batch:
        batch.add_column(sa.Column("commit_seq", sa.BigInteger(), nullable=True))
    # Rows stored before this revision keep NULL: the API serves them first, by id.
    op.create_index(f"ix_{p}request_commit_seq", f"{p}request", ["commit_seq", "id"])


def downgrade() -> None:
    p = _prefix()
    op.drop_index(f"ix_{p}request_commit_seq", f"{p}request")
    with op.batch_alter_table(f"{p}request") as batch:
        batch.drop_column("commit_seq")
    op.drop_table(f"{p}counter")
