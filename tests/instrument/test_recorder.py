"""The recorder: a bounded queue that refuses the newest when full and counts exactly, flush(), fork, many writers."""

from __future__ import annotations

import os
import threading
import time

import pytest
from flask import request
from sqlalchemy import func, select

import fmd
from conftest import server_url  # the suite's root conftest


def _stored(app) -> dict:  # noqa: ANN001
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        def total(stmt) -> int:  # noqa: ANN001
            return int(conn.execute(stmt).scalar() or 0)

        return {"requests": total(select(func.count()).select_from(t.request)),
                "rollup_hour": total(select(func.sum(t.rollup_hour.c.count))),
                "histogram_hour": total(select(func.sum(t.histogram_hour.c.count))),
                "histogram_day": total(select(func.sum(t.histogram_day.c.count)))}


def _wait(predicate, timeout: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_full_queue_drops_the_newest_and_counts_exactly(tmp_path, make_app) -> None:  # noqa: ANN001
    """QUEUE_SIZE=100, database unreachable, 250 requests: 150 dropped, the first 100 written later."""
    later = tmp_path / "not-yet"  # SQLite cannot open a file in a missing folder: the database is "down"
    fmd.config.group_by = lambda: request.args["n"]
    app = make_app(f"sqlite:///{later / 'fmd.db'}", queue_size=100)
    state = app.extensions["fmd"]
    client = app.test_client()
    for n in range(250):
        assert client.get(f"/?n={n}").status_code == 200  # the host never notices
    assert _wait(lambda: state.stats()["failed_writes"] >= 2)  # the writer looked (and retried)
    stats = state.stats()
    assert (stats["dropped"], stats["queue_length"], stats["rows_written"]) == (150, 100, 0)
    assert "unable to open database file" in stats["last_error"]
    assert state.flush(0.5) is False  # the timeout runs out while the database is down

    later.mkdir()  # the database is back
    assert state.flush(10) is True
    stats = state.stats()
    assert (stats["dropped"], stats["queue_length"], stats["rows_written"]) == (150, 0, 100)
    assert _stored(app) == {"requests": 100, "rollup_hour": 100, "histogram_hour": 100, "histogram_day": 100}
    t = state.store.tables
    with state.store.read() as conn:
        kept = sorted(int(g) for g in conn.execute(select(t.request.c.group_by)).scalars())
    assert kept == list(range(100))  # a full queue refuses new records: the queued ones keep their place


def test_forked_child_records_on_its_own(sqlite_url, make_app) -> None:  # noqa: ANN001
    """A child forked after the writer started gets its own queue and writer (the parent's do not exist there)."""
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10) and state.recorder.started
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            for _ in range(5):
                client.get("/tuple")
            stats = state.stats()
            code = 0 if fmd.flush(10) and state.stats()["rows_written"] == 5 and stats["submitted"] == 5 else 2
        finally:
            os._exit(code)
    client.get("/")  # the parent goes on recording meanwhile
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert state.flush(10)
    assert state.stats()["rows_written"] == 2
    assert _stored(app)["requests"] == 7
    t = state.store.tables
    with state.store.read() as conn:
        pids = set(conn.execute(select(t.process.c.pid)).scalars())
    assert pids == {os.getpid(), pid}  # each process reported its own health


def test_many_writers_one_database_stay_exact(db_url, make_app) -> None:  # noqa: ANN001
    """Four bound apps (four writers, as four workers) upserting the same rollup rows at once."""
    apps = [make_app(db_url, batch_size=7, flush_interval=0.01) for _ in range(4)]
    per_app = 150
    paths = ["/", "/tuple", "/missing", "/redirect", "/boom"]

    def drive(app) -> None:  # noqa: ANN001
        client = app.test_client()
        for n in range(per_app):
            client.get(paths[n % len(paths)])

    threads = [threading.Thread(target=drive, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert fmd.flush(30)
    total = per_app * len(apps)
    assert _stored(apps[0]) == {"requests": total, "rollup_hour": total, "histogram_hour": total,
                                "histogram_day": total}
    stats = [app.extensions["fmd"].stats() for app in apps]
    assert sum(s["rows_written"] for s in stats) == total
    assert all(s["dropped"] == 0 for s in stats)
    # A deadlock or lock timeout is retried, never lost: the counts above are exact either way.
    conflicts = [s["lock_conflicts"] for s in stats]
    print(f"\n{db_url.split(':')[0]}: lock conflicts retried {conflicts}, "
          f"failed writes {[s['failed_writes'] for s in stats]}")
    assert all(s["failed_writes"] == 0 for s in stats)  # lock races are not failures of the database


@pytest.mark.parametrize("server", ["postgresql", "mysql"])  # SQLite has one writer at a time: no deadlock
def test_a_real_deadlock_is_recognised_as_a_lock_race(server, prefix) -> None:  # noqa: ANN001
    """Two transactions locking two rows in opposite orders: the loser's error is retried at once."""
    from fmd.instrument.batches import is_lock_conflict, is_passing
    from fmd.store.engine import make_engine

    engine = make_engine(server_url(server))
    table = f"{prefix}deadlock"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, n INTEGER)")
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
        errors: list[BaseException] = []
        barrier = threading.Barrier(2)

        def worker(first: int, second: int) -> None:
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id = {first}")
                    barrier.wait(5)
                    conn.exec_driver_sql(f"UPDATE {table} SET n = n + 1 WHERE id = {second}")
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=order) for order in ((1, 2), (2, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(errors) == 1 and is_lock_conflict(errors[0]) and is_passing(errors[0]), errors
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()


def test_sqlite_database_is_locked_loses_nothing(sqlite_url, make_app, monkeypatch) -> None:  # noqa: ANN001
    """Another process holds SQLite's write lock past the busy timeout: the batch is retried, not dropped."""
    import sqlite3

    import fmd.store.engine

    monkeypatch.setattr(fmd.store.engine, "SQLITE_BUSY_TIMEOUT_MS", 100)  # give up fast instead of after 30 s
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, as a busy neighbour process would hold it
        for _ in range(40):
            assert client.get("/tuple").status_code == 200
        assert _wait(lambda: state.stats()["failed_writes"] >= 2)
        assert "database is locked" in state.stats()["last_error"]
        assert state.flush(0.3) is False
    finally:
        other.rollback()
        other.close()
    assert state.flush(10)
    assert _stored(app) == {"requests": 41, "rollup_hour": 41, "histogram_hour": 41, "histogram_day": 41}
    assert state.stats()["dropped"] == 0
