"""Server-side login sessions: one row per dashboard login, revoked at logout, password or role change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
from alembic import context, op  # noqa: F401

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    pass  # filled in by the login-session change


def downgrade() -> None:
    pass
