"""Level 2: outliers with what was captured while they ran, and exceptions grouped app-wide by fingerprint.

The outlier and exception_group tables of 0001 were placeholders nothing wrote to: they are replaced, not
altered. exception_day holds occurrences per group, day, endpoint and version. process.events counts
fmd.capture() calls made outside any request.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Types are spelled out here (not imported from fmd.store.models), as in 0001.
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LongText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")  # JSON documents over 64 KB
MYSQL = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}  # as every fmd table (see 0002)


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def _fk(p: str, table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{p}{table}.id", ondelete="CASCADE")


def upgrade() -> None:
    p = _prefix()
    op.drop_table(f"{p}outlier")
    op.drop_table(f"{p}exception_group")
    op.create_table(
        f"{p}outlier",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("endpoint_id", sa.Integer, _fk(p, "endpoint"), nullable=False),
        sa.Column("time_requested", UtcDateTime, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("average", sa.Double, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("request_values", LongText),
        sa.Column("request_headers", LongText),
        sa.Column("request_environment", LongText),
        sa.Column("stacktrace", LongText),
        sa.Column("stack_at", sa.Double),
        sa.Column("cpu_percent", sa.Text),
        sa.Column("memory", sa.Text),
        sa.Column("cut", sa.Text),
        **MYSQL,
    )
    op.create_index(f"ix_{p}outlier_request_id", f"{p}outlier", ["request_id"])
    op.create_index(f"ix_{p}outlier_endpoint_time", f"{p}outlier", ["endpoint_id", "time_requested"])
    op.create_index(f"ix_{p}outlier_time", f"{p}outlier", ["time_requested"])
    op.create_table(
        f"{p}exception_group",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("exception_type", sa.String(250), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("last_version", sa.String(100), nullable=False),
        sa.Column("resolved_at", UtcDateTime),
        sa.Column("resolved_versions", sa.Text),
        sa.Column("traceback", LongText),
        sa.Column("traceback_at", UtcDateTime),
        **MYSQL,
    )
    op.create_index(f"ix_{p}exception_group_last_seen", f"{p}exception_group", ["last_seen"])
    op.create_table(
        f"{p}exception_day",
        sa.Column("group_id", sa.Integer, _fk(p, "exception_group"), primary_key=True),
        sa.Column("day", UtcDateTime, primary_key=True),
        sa.Column("endpoint_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        **MYSQL,
    )
    op.create_index(f"ix_{p}exception_day_endpoint", f"{p}exception_day", ["endpoint_id", "day"])
    with op.batch_alter_table(f"{p}process") as batch:
        batch.add_column(sa.Column("events", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    p = _prefix()
    with op.batch_alter_table(f"{p}process") as batch:
        batch.drop_column("events")
    op.drop_table(f"{p}exception_day")
    op.drop_table(f"{p}exception_group")
    op.drop_table(f"{p}outlier")
    op.create_table(
        f"{p}outlier",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.BigInteger, nullable=False),
        sa.Column("request_header", sa.Text),
        sa.Column("request_environment", sa.Text),
        sa.Column("request_url", sa.String(2100)),
        sa.Column("cpu_percent", sa.String(150)),
        sa.Column("memory", sa.Text),
        sa.Column("stacktrace", sa.Text),
        **MYSQL,
    )
    op.create_index(f"ix_{p}outlier_request_id", f"{p}outlier", ["request_id"])
    op.create_table(
        f"{p}exception_group",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("endpoint_id", sa.Integer, _fk(p, "endpoint"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("exception_type", sa.String(250), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("stacktrace", sa.Text),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.UniqueConstraint("endpoint_id", "fingerprint", name=f"uq_{p}exception_group"),
        **MYSQL,
    )
