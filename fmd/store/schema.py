"""Keep fmd's schema at the Alembic head revision, safely when many workers start at once.

The fast path reads fmd's own version table (``<prefix>alembic_version``) and compares it with ``HEAD``
without importing Alembic. Only when they differ does a process take a cross-process lock (a PostgreSQL
advisory lock, a MySQL named lock, or a file lock next to an SQLite file), look again, and run the upgrade:
the first worker migrates, the others wait and then find the schema at head. (Flask-MonitoringDashboard's
users hit the unlocked version of this: workers racing to CREATE the same tables on an empty database.)

Alembic only ever sees fmd's tables: its version table carries the prefix and ``include_only`` hides every
other table from autogenerate, so a host running its own Alembic on the same database is untouched.

Alembic's ``context`` and ``op`` are module-level proxies: one process can run one migration at a time. A host's
test suite with a database per test used to run two first-use migrations at once from two writer threads and
got interleaved runs (``KeyError: 'config'``, "table already exists", databases stamped at head with 4 of 22
tables; issue 7). So every Alembic run of the process holds ``_ALEMBIC_LOCK``, and the first check of each
database compares the tables that exist with the head revision's: missing ones are created again, or the
database is refused with a ``SchemaError`` that names them and the command that fixes it.

A new prefix is checked for tables that look like it but are not fmd's (Flask-MonitoringDashboard's
``fmdEndpoint`` next to fmd's ``fmdendpoint``, which SQLite sees as one name): ``ForeignTablesError``.
"""

from __future__ import annotations

import contextlib
import logging
import os

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..native import YieldingRLock
from ..options import ConfigError

if TYPE_CHECKING:  # SQLAlchemy is imported on first use, never at bind time
    from alembic.config import Config
    from sqlalchemy import Connection, Engine, MetaData

log = logging.getLogger("fmd.store")

#: The newest revision in migrations/versions; tests/store/test_migrations.py checks it is Alembic's only head.
HEAD = "0008"
#: Seconds a MySQL/MariaDB worker waits for another worker's migration before giving up.
LOCK_TIMEOUT_S = 120


#: The command that brings fmd's tables to HEAD; named by every error that asks the operator to act.
UPGRADE_COMMAND = "flask fmd db upgrade"

#: One Alembic run per process at a time (its ``context`` and ``op`` are process-global). Reentrant: ``upgrade``
#: takes it again inside ``ensure_at_head``. Lock order: this one first, then the database's migration lock
#: (``_migration_lock``), never the reverse. Taken first, a thread never sits on a database's lock while it
#: queues behind this process's other migrations, so other processes' workers on that database are not held
#: up by migrations of unrelated databases here. No cycle: this lock is private to the process, so the process
#: that holds a database's lock never waits for it. The cost: while one app here waits for another process's
#: migration, this process's other first uses wait too (first use only; the fast path takes no lock).
_ALEMBIC_LOCK = YieldingRLock()  # greenlets of one thread exclude each other too (fmd.native)


class SchemaError(RuntimeError):
    """fmd's tables cannot be brought to HEAD: written by a newer fmd, or incomplete and not repairable.

    ``permanent`` says whether retrying can help without an operator: False for a lock wait that timed out
    and for missing tables whose creation failed with an OperationalError (a lock, a timeout, a read-only mount).
    """

    permanent = True


class SchemaLockTimeout(SchemaError):
    """Another process held the schema lock too long: a passing condition, worth retrying later."""

    permanent = False


class ForeignTablesError(ConfigError, SchemaError):
    """Tables under fmd's TABLE_PREFIX that are not fmd's (e.g. Flask-MonitoringDashboard's ``fmdEndpoint``).

    Permanent: a configuration problem that no retry fixes; fmd must not write (or retry writing) to this
    database with this prefix until the operator picks another TABLE_PREFIX or removes the tables.
    """

    permanent = True

    def __init__(self, prefix: str, tables: list[str]) -> None:
        self.prefix = prefix
        self.tables = tables
        shown = ", ".join(tables[:12]) + (f" and {len(tables) - 12} more" if len(tables) > 12 else "")
        other = "fmd_" if prefix.lower() != "fmd_" else "fmd2_"
        # No quotes or apostrophes: Health blanks quoted text in an error (it may hold other visitors' values).
        super().__init__(
            f"TABLE_PREFIX = {prefix}: the database already holds tables under this prefix that fmd did not "
            f"create ({shown}). They look like the tables of another program (Flask-MonitoringDashboard names them "
            f"fmdEndpoint, fmdRequest, ...), and on databases that ignore case in names they clash with those of "
            f"fmd. fmd leaves them alone and records nothing: set another TABLE_PREFIX, e.g. {other}")


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


def missing_tables(conn: "Connection", prefix: str) -> list[str]:
    """The tables of the head revision that the database lacks, sorted (an empty list when complete)."""
    from sqlalchemy import inspect

    from .models import tables_for

    present = set(inspect(conn).get_table_names())  # a new Inspector: never a cached, older answer
    return sorted(set(tables_for(prefix).metadata.tables) - present)


def foreign_tables(conn: "Connection", prefix: str) -> list[str]:
    """Tables whose names start with *prefix* (ignoring case) but are neither fmd's nor another fmd's.

    Ignoring case because SQLite (and MySQL on Windows/macOS) do: Flask-MonitoringDashboard's ``fmdEndpoint``
    is fmd's ``fmdendpoint`` there. A table of an fmd with a longer prefix (``fmd_endpoint`` under ``fmd``)
    is not foreign, unless its name clashes with one of ours.
    """
    from sqlalchemy import inspect

    from .models import tables_for

    ours = set(tables_for(prefix).metadata.tables) | {version_table(prefix)}
    ours_folded = {name.lower() for name in ours}
    bases = [name[len(prefix):] for name in ours]  # 'endpoint', 'alembic_version', ...
    found = []
    for name in inspect(conn).get_table_names():
        if name in ours or not name.lower().startswith(prefix.lower()):
            continue
        if name.lower() in ours_folded or not any(name.endswith(base) for base in bases):
            found.append(name)
    return sorted(found)


def ensure_at_head(engine: "Engine", prefix: str) -> str | None:
    """Create, upgrade or repair fmd's tables to HEAD (two small queries when already there); the revision found.

    Raises ``ForeignTablesError`` when a new prefix meets another program's tables, ``SchemaError`` for a
    revision from a newer fmd or a database whose missing tables cannot be created.
    """
    with engine.connect() as conn:
        if current_revision(conn, prefix) == HEAD and not missing_tables(conn, prefix):
            return HEAD
    with _ALEMBIC_LOCK, _migration_lock(engine, prefix) as conn:  # the order is explained at _ALEMBIC_LOCK
        revision = current_revision(conn, prefix)  # another worker may have migrated while we waited
        # Alembic is imported only when the schema is behind: a worker that waited for another's migration
        # finds HEAD here and stays lean (issue 8 item 5).
        if revision is not None and revision != HEAD and revision not in known_revisions():
            raise SchemaError(
                f"the fmd tables with prefix {prefix} are at revision {revision}, which this fmd does not know "
                f"(its newest is {HEAD}): a newer fmd has upgraded this database; install that version here.")
        if revision is None:
            foreign = foreign_tables(conn, prefix)
            if foreign:
                raise ForeignTablesError(prefix, foreign)
        if revision != HEAD:
            log.info("fmd: migrating its tables (prefix %r) from %s to %s", prefix, revision or "empty", HEAD)
            upgrade(conn, prefix)
        missing = missing_tables(conn, prefix)  # after upgrading too: check that the tables are really there
        if missing:
            _repair(conn, prefix, missing)
        return revision


def _repair(conn: "Connection", prefix: str, missing: list[str]) -> None:
    """Create *missing* tables of a database stamped at HEAD, or raise a SchemaError naming them and the fix."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    log.warning("fmd: its tables (prefix %r) are at revision %s but %d are missing (%s); creating them",
                prefix, HEAD, len(missing), ", ".join(missing))
    try:
        _create_tables(conn, prefix, missing)
    except Exception as exc:
        if conn.in_transaction():
            conn.rollback()
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise  # the connection was lost: a passing outage, not a verdict on the schema
        error = _incomplete(prefix, missing, f"creating them failed: {type(exc).__name__}: "
                                             f"{str(exc).splitlines()[0][:300]}")
        error.permanent = not isinstance(exc, OperationalError)  # a lock, a timeout, a read-only mount may pass
        raise error from exc
    left = missing_tables(conn, prefix)
    if left:
        raise _incomplete(prefix, left, "they are still missing after creating them")


def _incomplete(prefix: str, missing: list[str], problem: str) -> SchemaError:
    return SchemaError(
        f"the fmd tables with prefix {prefix} are marked as revision {HEAD} but tables are missing: "
        f"{', '.join(missing)}; {problem}. Fix the cause (e.g. permissions), then run `{UPGRADE_COMMAND}`.")


def _create_tables(conn: "Connection", prefix: str, names: list[str]) -> None:
    """CREATE the named fmd tables (with their indexes), in foreign-key order, and commit."""
    from .models import tables_for

    metadata = tables_for(prefix).metadata
    metadata.create_all(conn, tables=[metadata.tables[name] for name in names], checkfirst=True)
    conn.commit()


def known_revisions() -> set[str]:
    """Every revision in fmd's scripts."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory(str(scripts_dir())).walk_revisions()}


def upgrade(conn: "Connection", prefix: str, revision: str = "head") -> None:
    """Run Alembic's upgrade on *conn* for fmd's tables (use ``ensure_at_head`` unless you hold the lock)."""
    from alembic import command

    with _ALEMBIC_LOCK:  # process-global proxies: see _ALEMBIC_LOCK
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
                raise SchemaLockTimeout(
                    f"another process held the schema lock {name!r} for over {LOCK_TIMEOUT_S} s")
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
                conn.commit()
        elif backend == "sqlite" and _sqlite_file(engine) is not None:
            database = _sqlite_file(engine)
            with _file_lock(database.with_name(database.name + ".fmd-lock")):
                yield conn
        else:  # an in-memory SQLite database belongs to this process alone
            yield conn


def _sqlite_file(engine: "Engine") -> Path | None:
    """The file of an SQLite engine (also for ``file:...?mode=ro`` URIs); None for an in-memory database."""
    database = engine.url.database or ""
    if engine.url.query.get("uri") in ("true", "1") and database.startswith("file:"):
        database = database[len("file:"):].split("?", 1)[0]
        if engine.url.query.get("mode") == "memory":
            return None
    return None if database in ("", ":memory:") else Path(database)


def _new_lock_in_child() -> None:
    # A fork while another thread held the lock (a migration under way) would leave the child's copy held
    # forever; the child runs only the forking thread, so a fresh lock is safe.
    global _ALEMBIC_LOCK
    _ALEMBIC_LOCK = YieldingRLock()


os.register_at_fork(after_in_child=_new_lock_in_child)


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
