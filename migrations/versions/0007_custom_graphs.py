"""Custom graphs: the graph row carries its schedule and what its page shows first; one row per tick is both the
tick's claim (who runs it) and its outcome.

The placeholder tables of 0001 were never written to; they are replaced, not altered.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Types are spelled out here (not imported from fmd.store.models), as in 0001.
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}  # as every fmd table (see 0002)


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    p = _prefix()
    op.drop_table(f"{p}custom_graph_value")
    op.drop_table(f"{p}custom_graph")
    op.create_table(
        f"{p}custom_graph",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(250), nullable=False, unique=True),
        sa.Column("schedule", sa.String(250), nullable=False),
        sa.Column("time_added", UtcDateTime, nullable=False),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failures", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_value", sa.Double),
        sa.Column("last_value_at", UtcDateTime),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", UtcDateTime),
        **MYSQL,
    )
    op.create_table(
        f"{p}custom_graph_value",
        sa.Column("graph_id", sa.Integer, sa.ForeignKey(f"{p}custom_graph.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("tick", UtcDateTime, primary_key=True),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("value", sa.Double),
        sa.Column("error", sa.Text),
        sa.Column("duration", sa.Double),
        sa.Column("claimed_by", sa.String(120), nullable=False),
        sa.Column("claimed_at", UtcDateTime, nullable=False),
        **MYSQL,
    )


def downgrade() -> None:
    p = _prefix()
    op.drop_table(f"{p}custom_graph_value")
    op.drop_table(f"{p}custom_graph")
    op.create_table(
        f"{p}custom_graph",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(250), nullable=False, unique=True),
        sa.Column("time_added", UtcDateTime, nullable=False),
        **MYSQL,
    )
    op.create_table(
        f"{p}custom_graph_value",
        sa.Column("graph_id", sa.Integer, sa.ForeignKey(f"{p}custom_graph.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("time", UtcDateTime, primary_key=True),
        sa.Column("value", sa.Double, nullable=False),
        **MYSQL,
    )
