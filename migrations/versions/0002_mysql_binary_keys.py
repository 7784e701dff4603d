"""MySQL/MariaDB: key columns compare case- and accent-sensitively (binary utf8mb4 collation).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
from alembic import context, op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    pass  # filled in by the MySQL key-collation change


def downgrade() -> None:
    pass
