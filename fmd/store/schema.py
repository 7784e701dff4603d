"""Keep fmd's schema at the Alembic head revision, safely when many workers start at once.

The fast path reads fmd's own version table (``<prefix>alembic_version``) and compares it with ``HEAD``
without importing Alembic. Only when they differ does a process take a cross-process lock (a PostgreSQL
advisory lock, a MySQL named lock, or a file lock next to an SQLite file), look again, and run the upgrade:
the first worker migrates, the others wait and then find the schema at head.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, inspect, text

log = logging.getLogger("fmd.store")

#: The newest revision in migrations/versions; tests/store/test_migrations.py checks it is Alembic's head.
HEAD = "0001"


class SchemaError(RuntimeError):
    """fmd's tables exist at a revision this version of fmd does not know."""


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


def current_revision(conn: Connection, prefix: str) -> str | None:
    table = f"{prefix}alembic_version"
    if not inspect(conn).has_table(table):
        return None
    row = conn.execute(text(f"SELECT version_num FROM {table}")).first()
    return row[0] if row else None


def ensure_at_head(engine: Engine, prefix: str) -> None:
    """Create or upgrade fmd's tables to HEAD; no-op (one small query) when already there."""
    with engine.connect() as conn:
        if current_revision(conn, prefix) == HEAD:
            return
    with _migration_lock(engine, prefix) as conn:
        revision = current_revision(conn, prefix)
        if revision == HEAD:
            return
        log.info("fmd: migrating its tables (prefix %r) from %s to %s", prefix, revision or "empty", HEAD)
        upgrade(conn, prefix)


def upgrade(conn: Connection, prefix: str, revision: str = "head") -> None:
    """Run Alembic's upgrade on *conn* for fmd's tables."""
    from alembic import command

    command.upgrade(alembic_config(conn, prefix), revision)
    if conn.in_transaction():
        conn.commit()


def alembic_config(conn: Connection | None, prefix: str, url: str | None = None):  # noqa: ANN201
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
def _migration_lock(engine: Engine, prefix: str) -> Iterator[Connection]:
    name = f"fmd_schema_{prefix}"
    backend = engine.dialect.name
    with engine.connect() as conn:
        if backend == "postgresql":
            key = zlib.crc32(name.encode())
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        elif backend in ("mysql", "mariadb"):
            got = conn.execute(text("SELECT GET_LOCK(:n, 120)"), {"n": name}).scalar()
            if got != 1:
                raise SchemaError(f"could not take the schema lock {name!r} within 120 s")
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.commit()
        elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            with _file_lock(Path(engine.url.database).with_name(Path(engine.url.database).name + ".fmd-lock")):
                yield conn
        else:
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
