"""MySQL/MariaDB: key columns compare case- and accent-sensitively (binary utf8mb4 collation).

Tables made by 0001 took the database's default character set and collation: typically utf8mb4_general_ci,
which makes endpoints 'user' and 'User' one key (and renamed the stored one at each sync), or latin1, which
cannot store an emoji. This revision gives every fmd table and each of its text columns utf8mb4 with the
binary collation utf8mb4_bin (``fmd.store.models.MYSQL_TABLE_OPTIONS``). Nothing to do on SQLite and PostgreSQL.

Each column is MODIFY'd with its own type, not ``CONVERT TO CHARACTER SET``: converting from latin1 or utf8mb3,
CONVERT TO would widen TEXT to MEDIUMTEXT, and the tables would no longer match fmd's models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import context, op  # noqa: F401

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The tables of revision 0001 (tables created later are created with the options directly).
TABLES = ("endpoint", "request", "rollup_hour", "rollup_day", "histogram_hour", "histogram_day", "rollup_group_day",
          "histogram_group_day", "rollup_ip_day", "unrouted_hour", "meta", "batch", "process", "outlier",
          "code_line", "stack_line", "exception_group", "custom_graph", "custom_graph_value", "user", "login_attempt")
#: The text types whose character set a MODIFY can change (as MySQL reflection names them).
TEXT_TYPES = ("CHAR", "VARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT")


def _prefix() -> str:
    return context.config.attributes["table_prefix"]


def _convert(charset: str, collation: str) -> None:
    """Give every 0001 table, and each of its text columns, *charset* and *collation* (one ALTER per table)."""
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    inspector = sa.inspect(bind)
    for name in TABLES:
        table = f"{_prefix()}{name}"
        changes = [f"DEFAULT CHARACTER SET {charset} COLLATE {collation}"]
        for column in inspector.get_columns(table):
            type_ = column["type"]
            kind = type(type_).__name__.upper()
            if kind not in TEXT_TYPES:
                continue
            spec = f"{kind}({type_.length})" if kind in ("CHAR", "VARCHAR") else kind
            spec += f" CHARACTER SET {charset} COLLATE {collation}"
            spec += " NULL" if column["nullable"] else " NOT NULL"
            if column.get("default") is not None:
                spec += f" DEFAULT {column['default']}"
            changes.append(f"MODIFY {quote(column['name'])} {spec}")
        op.execute(f"ALTER TABLE {quote(table)} " + ", ".join(changes))


def upgrade() -> None:
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        _convert("utf8mb4", "utf8mb4_bin")


def downgrade() -> None:
    # Back to what 0001 created: the database's defaults. Text the old character set cannot hold (an emoji on
    # latin1) becomes '?', and keys that only the binary collation kept apart ('user', 'User') make the
    # unique index fail: MySQL then refuses the ALTER and the table stays as it is.
    bind = op.get_bind()
    if bind.dialect.name in ("mysql", "mariadb"):
        charset, collation = bind.exec_driver_sql("SELECT @@character_set_database, @@collation_database").one()
        _convert(charset, collation)
