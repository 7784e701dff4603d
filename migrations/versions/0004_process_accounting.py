"""Process health: every submitted record accounted for (rejected, counted only, skipped).

``submitted = rows_written + unrouted + skipped + rejected + dropped + queue_length`` per process, so the
Health page can say where each record went.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = ("submitted", "unrouted", "skipped", "rejected")


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    with op.batch_alter_table(f"{_prefix()}process") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table(f"{_prefix()}process") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
