"""Apps come and go (issue 7 item 3): nothing of fmd keeps an app alive, and a collected app's threads end.

A host test suite builds hundreds of apps in one process. Each bound app used to stay referenced for good,
with its writer and retention threads and its connection pool.
"""

from __future__ import annotations

import gc
import os
import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import func, select

import fmd
from fmd.store.engine import make_engine
from fmd.store.models import tables_for
from fmd.store.schema import ensure_at_head


@pytest.fixture(autouse=True)
def frozen_session_heap() -> Iterator[None]:
    """The objects of the session so far are not these tests' garbage: frozen, they are left out of every
    gc.collect() here, which then costs milliseconds instead of a scan of the whole session's heap (the 300-app
    test took 61 s late in a full run, 10 s alone). What a test creates is collected as usual."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def fmd_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("fmd-"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        gc.collect()
        time.sleep(0.05)
    return condition()


def request_rows(url: str, prefix: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(tables_for(prefix).request)).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_300_apps_created_and_dropped_leave_no_threads_nor_files(tmp_path: Path, prefix: str,
                                                                 new_host_app) -> None:  # noqa: ANN001
    # One database per app, as in a host suite, each a copy of one migrated file: 300 first-use migrations
    # would take minutes (they run one at a time per process, issue 7 item 2).
    template = tmp_path / "template.db"
    engine = make_engine(f"sqlite:///{template}")
    ensure_at_head(engine, prefix)
    engine.dispose()
    urls = []
    for i in range(300):
        shutil.copy(template, tmp_path / f"app{i}.db")
        urls.append(f"sqlite:///{tmp_path / f'app{i}.db'}")
    gc.collect()
    threads_before, fds_before = len(fmd_threads()), open_fds()
    most_threads = most_fds = 0
    for i in range(300):
        app = new_host_app()
        fmd.bind(app, database=urls[i], table_prefix=prefix, flush_interval=0.05)
        assert app.test_client().get("/").status_code == 200
        if i == 0:  # both of an app's threads run: the writer and the retention job
            assert {"fmd-writer", "fmd-maintenance"} <= set(fmd_threads())
        del app
        if i % 20 == 19:
            gc.collect()
            most_threads, most_fds = max(most_threads, len(fmd_threads())), max(most_fds, open_fds())
    gc.collect()
    assert wait_for(lambda: len(fmd_threads()) <= threads_before), fmd_threads()
    # Each collected app's queue was written before its writer stopped.
    assert sum(request_rows(url, prefix) for url in urls) == 300
    # At most the last 20 apps' threads and files were open at any check, never the sum over all 300.
    assert most_threads <= threads_before + 2 * 20 + 5, most_threads
    assert most_fds - fds_before <= 20 * 4 + 20, (fds_before, most_fds)
    assert open_fds() - fds_before <= 5


@pytest.mark.slow  # ~7 s
def test_nothing_of_fmd_keeps_an_app_alive(sqlite_url: str, prefix: str, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix, flush_interval=0.05)
    app.test_client().get("/")
    assert state.host_app is app and fmd.stats()["submitted"] == 1  # the newest live app, outside a context
    # The dashboard built and used too: it holds the state, the state holds the app only weakly.
    assert app.test_client().get("/dashboard/login").status_code == 200
    gone, recorder = weakref.ref(app), state.recorder
    del app, state
    gc.collect()
    assert gone() is None
    assert wait_for(lambda: not recorder.started and not fmd_threads(), 10), fmd_threads()
    assert request_rows(sqlite_url, prefix) == 1


def test_stats_without_an_app_follow_the_newest_live_app(sqlite_url: str, prefix: str,
                                                          new_host_app) -> None:  # noqa: ANN001
    first, second = new_host_app(), new_host_app()
    fmd.bind(first, database=sqlite_url, table_prefix=prefix, flush_interval=0.05)
    fmd.bind(second, database="sqlite://", flush_interval=0.05)
    try:
        first.test_client().get("/")
        assert fmd.stats()["submitted"] == 0  # the newest: second
        del second
        gc.collect()
        assert fmd.stats()["submitted"] == 1  # second is gone: first is the newest live one
        assert fmd.flush(5)
    finally:
        fmd.close(first)


def test_close_flushes_stops_threads_and_is_idempotent(sqlite_url: str, prefix: str,
                                                         new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix, flush_interval=30)  # only a flush writes
    for _ in range(3):
        app.test_client().get("/")
    assert "fmd-writer" in fmd_threads()
    assert fmd.close(app) is True
    assert fmd_threads() == [] and not state.recorder.started and state.store._engine is None
    assert request_rows(sqlite_url, prefix) == 3
    assert fmd.close(app) is True and fmd_threads() == []  # a second close changes nothing
    assert "close" in fmd.__all__


@pytest.mark.slow  # ~9 s
def test_a_finalizer_run_in_the_writer_thread_does_not_block_it(sqlite_url: str, prefix: str,
                                                                 new_host_app) -> None:  # noqa: ANN001
    """The collector may run an app's finalizer in any thread, fmd's own writer included."""
    from fmd.lifecycle import _collected

    app = new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix, flush_interval=0.05)
    app.test_client().get("/")
    done = threading.Event()
    original = state.recorder.endpoint_names

    def names_then_collect():  # noqa: ANN202
        # Runs in fmd-writer: what a collection of this very app there would do.
        if not done.is_set():
            done.set()
            started = time.monotonic()
            _collected(state.recorder, state.store)
            assert time.monotonic() - started < 0.5
        return original()

    state.recorder.endpoint_names = names_then_collect
    state.recorder.sync_interval = 0.01
    assert done.wait(10)
    assert wait_for(lambda: not fmd_threads(), 15), fmd_threads()
    assert request_rows(sqlite_url, prefix) == 1
