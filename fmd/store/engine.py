"""fmd's own SQLAlchemy engine: created lazily, per process, never shared with the host's Flask-SQLAlchemy.

SQLite gets WAL mode, a busy timeout and ``BEGIN IMMEDIATE`` for writer transactions, so concurrent
workers queue for the write lock instead of failing with "database is locked". A new SQLite file is created
readable by its owner only (it holds users' password hashes, IPs and the dashboard's secret).
"""

from __future__ import annotations

import os
import weakref
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from ..native import YieldingRLock

if TYPE_CHECKING:  # SQLAlchemy takes ~90 ms to import: binding fmd must not pay for it (first use does)
    from sqlalchemy import Connection, Engine

    from .models import Tables

#: How long an SQLite connection waits for another process's write lock before giving up (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str) -> "Engine":
    """An engine for *url* with the per-dialect settings fmd relies on."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import StaticPool

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        if not memory and str(parsed.query.get("uri", "")).lower() not in ("true", "1"):
            _create_owner_only(parsed.database)
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
        if memory:  # one shared connection, or each thread would see its own empty database
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine, memory)
        return engine
    # A bare dialect name means SQLAlchemy's default driver; fall back to the one that is installed.
    # (str(URL) would mask the password as ***: render_as_string(hide_password=False) keeps it.)
    if parsed.drivername in ("postgresql", "postgres") and not _has("psycopg2") and _has("psycopg"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if parsed.drivername in ("mysql", "mariadb") and not _has("MySQLdb") and _has("pymysql"):
        url = parsed.set(drivername=f"{parsed.drivername}+pymysql").render_as_string(hide_password=False)
    if parsed.get_backend_name() in ("mysql", "mariadb") and "charset" not in parsed.query:
        url = make_url(url).update_query_dict({"charset": "utf8mb4"}).render_as_string(hide_password=False)
    final = make_url(url)
    connect_args = {k: v for k, v in _NETWORK_TIMEOUTS.get(final.get_driver_name(), {}).items()
                    if k not in final.query}  # a value given in the URL wins
    return create_engine(url, pool_pre_ping=True, pool_recycle=1800, pool_size=5, max_overflow=5,
                         connect_args=connect_args)


#: Bounds on how long the writer thread can hang on a server that went silent (a network partition
#: rather than a refused connection): without them a lost reply blocks it until the kernel gives up on
#: the TCP connection, hours later, while the queue fills. Seconds unless named _ms.
_NETWORK_TIMEOUTS: dict[str, dict] = {
    "psycopg": {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                "keepalives_count": 3, "tcp_user_timeout": 60_000},
    "psycopg2": {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                 "keepalives_count": 3, "tcp_user_timeout": 60_000},
    "pymysql": {"connect_timeout": 10, "read_timeout": 300, "write_timeout": 300},
}


def _create_owner_only(path: str) -> None:
    """Create the SQLite file and its schema lock file with mode 0600 if they do not exist yet.

    SQLite would create the database with 0644 (less the umask); it gives its -wal and -shm files the
    database file's mode, so creating this one first is enough. Existing files keep the mode their owner
    chose. Any failure (a missing directory) is left to the first connection to report.
    """
    for name in (path, path + ".fmd-lock"):  # the lock file's name: fmd.store.schema._migration_lock
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError:  # exists already, or cannot be created: the connection reports the latter
            pass


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _sqlite_setup(engine: "Engine", memory: bool) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" hook below emits BEGIN itself
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: "Connection") -> None:
        # Writers take the write lock up front, so the busy timeout applies; a deferred transaction that
        # upgrades from read to write can fail at once with SQLITE_BUSY instead of waiting.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("fmd_write") else "BEGIN")


def _is_memory(url: str) -> bool:
    """Whether *url* names an in-memory SQLite database (``sqlite://``, ``sqlite:///:memory:``)."""
    head, _, rest = url.partition("://")
    return head.split("+")[0] == "sqlite" and rest.split("?")[0] in ("", "/", "/:memory:")


class Store:
    """Engine and tables for one bound app; the engine is created on first use in each process."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._engine: Engine | None = None
        self._pid = 0
        self._lock = YieldingRLock()  # engine creation and the schema check; greenlets exclude each other too
        self._schema_ready_pid = 0
        #: An in-memory SQLite database is one connection shared by every thread (StaticPool): a reader's
        #: failed BEGIN would roll back the writer's open transaction. Its uses take turns.
        self._memory = _is_memory(url)
        _stores.add(self)

    @property
    def tables(self) -> "Tables":
        from .models import tables_for

        return tables_for(self.prefix)

    @property
    def engine(self) -> "Engine":
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    if self._engine is not None:
                        # Forked child: the parent's pooled connections must not be used here.
                        self._engine.dispose(close=False)
                    self._engine = make_engine(self.url)
                    self._pid = os.getpid()
        return self._engine

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def ensure_schema(self) -> None:
        """Create or upgrade fmd's tables to the current revision, once per process."""
        if self._schema_ready_pid == os.getpid():
            return
        from .schema import ensure_at_head

        with self._lock:
            if self._schema_ready_pid != os.getpid():
                ensure_at_head(self.engine, self.prefix)
                self._schema_ready_pid = os.getpid()

    @contextmanager
    def write(self) -> Iterator["Connection"]:
        """A transaction that takes the write lock at once (SQLite) and commits on success."""
        self.ensure_schema()
        with self._turn():
            with self.engine.connect().execution_options(fmd_write=True) as conn:
                with conn.begin():
                    yield conn

    @contextmanager
    def read(self) -> Iterator["Connection"]:
        """A read-only connection (its transaction is rolled back at the end)."""
        self.ensure_schema()
        with self._turn():
            with self.engine.connect() as conn:
                yield conn

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Exclusive use of the connection for an in-memory database; nothing for any other."""
        if not self._memory:
            yield
            return
        with self._lock:
            yield

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


_stores: "weakref.WeakSet[Store]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A fork while another thread held a store's lock (say, during a migration) would leave the child's
    # copy locked forever; the child has that one thread only, so a fresh lock is safe.
    for store in list(_stores):
        store._lock = YieldingRLock()


os.register_at_fork(after_in_child=_after_fork_in_child)
