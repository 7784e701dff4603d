"""Level 3: one profile row per profiled request (its sampling figures); stack_line counts its samples.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Types are spelled out here (not imported from fmd.store.models), as in 0001.
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    p = _prefix()
    op.create_table(
        f"{p}profile",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.BigInteger, nullable=False, unique=True),
        sa.Column("endpoint_id", sa.Integer, sa.ForeignKey(f"{p}endpoint.id", ondelete="CASCADE"), nullable=False),
        sa.Column("time_requested", UtcDateTime, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("interval_ms", sa.Double),
        sa.Column("cut", sa.Text),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin",  # as every fmd table (see 0002)
    )
    op.create_index(f"ix_{p}profile_endpoint_time", f"{p}profile", ["endpoint_id", "time_requested"])
    op.create_index(f"ix_{p}profile_time", f"{p}profile", ["time_requested"])
    with op.batch_alter_table(f"{p}stack_line") as batch:
        batch.add_column(sa.Column("samples", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    p = _prefix()
    with op.batch_alter_table(f"{p}stack_line") as batch:
        batch.drop_column("samples")
    op.drop_table(f"{p}profile")
