"""fmd's initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Types are spelled out here (not imported from fmd.store.models) so this revision keeps creating the same
# tables when the models change later.
UtcDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _prefix() -> str:
    # Read when the migration runs, not when the script is loaded: listing revisions (heads, history)
    # loads every script outside a migration, and one process may migrate several prefixes.
    return context.config.attributes["table_prefix"]


def upgrade() -> None:
    p = _prefix()

    def _fk(table: str) -> sa.ForeignKey:
        return sa.ForeignKey(f"{p}{table}.id", ondelete="CASCADE")

    op.create_table(
        f"{p}endpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(250), nullable=False, unique=True),
        sa.Column("monitor_level", sa.Integer, nullable=False),
        sa.Column("time_added", UtcDateTime, nullable=False),
        sa.Column("first_requested", UtcDateTime),
        sa.Column("last_requested", UtcDateTime),
    )
    op.create_table(
        f"{p}request",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
        sa.Column("time_requested", UtcDateTime, nullable=False),
        sa.Column("version_requested", sa.String(100), nullable=False),
        sa.Column("group_by", sa.String(250), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
    )
    op.create_index(f"ix_{p}request_endpoint_time", f"{p}request", ["endpoint_id", "time_requested"])
    op.create_index(f"ix_{p}request_time", f"{p}request", ["time_requested"])
    op.create_table(
        f"{p}rollup_hour",
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
        sa.Column("hour", UtcDateTime, primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("status_code", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("duration_sum", sa.Double, nullable=False),
    )
    op.create_index(f"ix_{p}rollup_hour_hour", f"{p}rollup_hour", ["hour"])
    op.create_table(
        f"{p}rollup_day",
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
        sa.Column("day", UtcDateTime, primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("status_code", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("duration_sum", sa.Double, nullable=False),
    )
    op.create_index(f"ix_{p}rollup_day_day", f"{p}rollup_day", ["day"])
    for grain in ("hour", "day"):
        op.create_table(
            f"{p}histogram_{grain}",
            sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
            sa.Column(grain, UtcDateTime, primary_key=True),
            sa.Column("version", sa.String(100), primary_key=True),
            sa.Column("status_code", sa.Integer, primary_key=True),
            sa.Column("bucket", sa.Integer, primary_key=True),
            sa.Column("count", sa.BigInteger, nullable=False),
        )
    op.create_table(
        f"{p}rollup_group_day",
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
        sa.Column("day", UtcDateTime, primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("group_by", sa.String(250), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("duration_sum", sa.Double, nullable=False),
    )
    op.create_table(
        f"{p}histogram_group_day",
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
        sa.Column("day", UtcDateTime, primary_key=True),
        sa.Column("group_by", sa.String(250), primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        f"{p}rollup_ip_day",
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), primary_key=True),
        sa.Column("day", UtcDateTime, primary_key=True),
        sa.Column("version", sa.String(100), primary_key=True),
        sa.Column("ip", sa.String(45), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("duration_sum", sa.Double, nullable=False),
    )
    op.create_table(
        f"{p}unrouted_hour",
        sa.Column("hour", UtcDateTime, primary_key=True),
        sa.Column("status_code", sa.Integer, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        f"{p}meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        f"{p}batch",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("written_at", UtcDateTime, nullable=False),
    )
    op.create_index(f"ix_{p}batch_written_at", f"{p}batch", ["written_at"])
    op.create_table(
        f"{p}process",
        sa.Column("id", sa.String(120), primary_key=True),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("queue_length", sa.Integer, nullable=False),
        sa.Column("rows_written", sa.BigInteger, nullable=False),
        sa.Column("dropped", sa.BigInteger, nullable=False),
        sa.Column("failed_writes", sa.BigInteger, nullable=False),
        sa.Column("internal_errors", sa.BigInteger, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("version", sa.String(100)),
        sa.Column("request_cost_us", sa.Double),
        sa.Column("writer_cost_us", sa.Double),
    )
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
    )
    op.create_index(f"ix_{p}outlier_request_id", f"{p}outlier", ["request_id"])
    op.create_table(
        f"{p}code_line",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("filename", sa.String(250), nullable=False),
        sa.Column("line_number", sa.Integer, nullable=False),
        sa.Column("function_name", sa.String(250), nullable=False),
        sa.Column("code", sa.String(250), nullable=False),
        sa.UniqueConstraint("filename", "line_number", "function_name", name=f"uq_{p}code_line"),
    )
    op.create_table(
        f"{p}stack_line",
        sa.Column("request_id", sa.BigInteger, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("code_id", sa.Integer, _fk("code_line"), nullable=False),
        sa.Column("indent", sa.Integer, nullable=False),
        sa.Column("duration", sa.Double, nullable=False),
    )
    op.create_table(
        f"{p}exception_group",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("endpoint_id", sa.Integer, _fk("endpoint"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("exception_type", sa.String(250), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("stacktrace", sa.Text),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.UniqueConstraint("endpoint_id", "fingerprint", name=f"uq_{p}exception_group"),
    )
    op.create_table(
        f"{p}custom_graph",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(250), nullable=False, unique=True),
        sa.Column("time_added", UtcDateTime, nullable=False),
    )
    op.create_table(
        f"{p}custom_graph_value",
        sa.Column("graph_id", sa.Integer, _fk("custom_graph"), primary_key=True),
        sa.Column("time", UtcDateTime, primary_key=True),
        sa.Column("value", sa.Double, nullable=False),
    )
    op.create_table(
        f"{p}user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("from_config", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        f"{p}login_attempt",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("time", UtcDateTime, nullable=False),
    )
    op.create_index(f"ix_{p}login_attempt_key_time", f"{p}login_attempt", ["key", "time"])


def downgrade() -> None:
    p = _prefix()
    for name in ("login_attempt", "user", "custom_graph_value", "custom_graph", "exception_group", "stack_line",
                 "code_line", "outlier", "process", "batch", "meta", "unrouted_hour", "rollup_ip_day",
                 "histogram_group_day", "rollup_group_day", "histogram_day",
                 "histogram_hour", "rollup_day", "rollup_hour", "request", "endpoint"):
        op.drop_table(f"{p}{name}")
