"""Keep fmd's schema at the Alembic head revision, safely when many workers start at once.

The fast path reads fmd's own version table (``<prefix>alembic_version``) and compares it with ``HEAD``
without importing Alembic. Only when they differ does a process take a cross-process lock (a PostgreSQL
advisory lock, a MySQL named lock, or a file lock next to an SQLite file), look again, and run the upgrade:
the first worker migrates, the others wait and then find the schema at head. (Flask-MonitoringDashboard's
users hit the unlocked version of this: workers racing to CREATE the same tables on an empty database.)

Alembic only ever sees fmd's tables: its version table carries the prefix and ``include_only`` hides every
other table from autogenerate, so a host running its own Alembic on the same database is untouched.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:  # SQLAlchemy is imported on first use, never at bind time
    from alembic.config import Config
    from sqlalchemy import Connection, Engine, MetaData

log = logging.getLogger("fmd.store")

#: The newest revision in migrations/versions; tests/store/test_migrations.py checks it is Alembic's only head.
HEAD = "0004"
#: Seconds a MySQL/MariaDB worker waits for another worker's migration before giving up.
LOCK_TIMEOUT_S = 120


class SchemaError(RuntimeError):
    """fmd's tables are at a revision this fmd cannot upgrade from (e.g. one written by a newer fmd)."""


def scripts_dir() -> Path:
    """Where the Alembic scripts are: inside the installed package, or ``migrations/`` of a source tree."""
    try:
        from importlib.resources import files

        installed = Path(str(files("fmd.migrations")))
        if (installed / "env.py").is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "migrations"


def version_table(prefix: str) -> str:
    """The name of fmd's Alembic version table for *prefix* (never the host's ``alembic_version``)."""
    return f"{prefix}alembic_version"


def include_only(metadata: "MetaData") -> Callable[..., bool]:
    """An Alembic ``include_object`` that sees the tables of *metadata* (and their parts), nothing else."""
    names = frozenset(metadata.tables)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return name in names
        table = getattr(obj, "table", None)  # columns, indexes, constraints: judged by their table
        return table is None or table.name in names

    return include_object


def current_revision(conn: "Connection", prefix: str) -> str | None:
    """The revision fmd's tables are at; None for an empty database (or one at base)."""
    from sqlalchemy import inspect, text

    table = version_table(prefix)
    if not inspect(conn).has_table(table):
        return None
    row = conn.execute(text(f"SELECT version_num FROM {table}")).first()  # prefix is validated: [A-Za-z0-9_]
    return row[0] if row else None


def ensure_at_head(engine: "Engine", prefix: str) -> str | None:
    """Create or upgrade fmd's tables to HEAD (one small query when already there); the revision found."""
    with engine.connect() as conn:
        if current_revision(conn, prefix) == HEAD:
            return HEAD
    with _migration_lock(engine, prefix) as conn:
        revision = current_revision(conn, prefix)  # another worker may have migrated while we waited
        if revision == HEAD:
            return HEAD
        if revision is not None and revision not in known_revisions():
            raise SchemaError(
                f"fmd's tables (prefix {prefix!r}) are at revision {revision!r}, which this fmd does not know "
                f"(its newest is {HEAD!r}): a newer fmd has upgraded this database; install that version here.")
        log.info("fmd: migrating its tables (prefix %r) from %s to %s", prefix, revision or "empty", HEAD)
        upgrade(conn, prefix)
        return revision


def known_revisions() -> set[str]:
    """Every revision in fmd's scripts."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(scripts_dir())).walk_revisions()}


def upgrade(conn: "Connection", prefix: str, revision: str = "head") -> None:
    """Run Alembic's upgrade on *conn* for fmd's tables (use ``ensure_at_head`` unless you hold the lock)."""
    from alembic import command

    command.upgrade(alembic_config(conn, prefix), revision)
    if conn.in_transaction():
        conn.commit()


def alembic_config(conn: "Connection | None", prefix: str, url: str | None = None) -> "Config":
    """An Alembic Config pointing at fmd's scripts, with the connection and prefix handed to env.py."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(scripts_dir()))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = conn
    cfg.attributes["table_prefix"] = prefix
    return cfg


@contextlib.contextmanager
def _migration_lock(engine: "Engine", prefix: str) -> Iterator["Connection"]:
    """A connection holding a lock that only one process per database and prefix can hold."""
    from sqlalchemy import text

    name = f"fmd_schema_{prefix}"  # at most 35 characters: MySQL allows 64
    backend = engine.dialect.name
    with engine.connect() as conn:
        if backend == "postgresql":
            key = zlib.crc32(name.encode())
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})  # session-level: survives commits
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        elif backend in ("mysql", "mariadb"):
            got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": LOCK_TIMEOUT_S}).scalar()
            if got != 1:
                raise SchemaError(f"another process held the schema lock {name!r} for over {LOCK_TIMEOUT_S} s")
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.commit()
        elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            database = Path(engine.url.database)
            with _file_lock(database.with_name(database.name + ".fmd-lock")):
                yield conn
        else:  # an in-memory SQLite database belongs to this process alone
            yield conn


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
