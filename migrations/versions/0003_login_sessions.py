"""Server-side login sessions: one row per dashboard login, revoked at logout, password or role change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Types are spelled out here (not imported from fmd.store.models), as in 0001.
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    p = _prefix()
    op.create_table(
        f"{p}login_session",
        sa.Column("id", sa.String(64), primary_key=True),  # SHA-256 (hex) of the cookie's token
        sa.Column("user_id", sa.Integer, sa.ForeignKey(f"{p}user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin",  # as every fmd table (see 0002)
    )
    op.create_index(f"ix_{p}login_session_user", f"{p}login_session", ["user_id"])
    op.create_index(f"ix_{p}login_session_last_seen", f"{p}login_session", ["last_seen"])


def downgrade() -> None:
    op.drop_table(f"{_prefix()}login_session")
