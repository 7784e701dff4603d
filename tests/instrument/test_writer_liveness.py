"""A writer that cannot die silently: guarded loop, real running state, restart after a fork without hooks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from sqlalchemy import func, select

import fmd
from dashboard_helpers import PREFIX, dashboard, logged_in
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)


def _rows(app) -> int:  # noqa: ANN001
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(t.request)).scalar())


def test_an_error_inside_the_writer_loop_does_not_end_it(sqlite_url, make_app, monkeypatch) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    recorder = state.recorder
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    real = recorder._write_queued
    failures = []

    def broken() -> None:
        if not failures:
            failures.append(1)
            raise KeyError("an fmd bug")  # not a database error: the guard must catch it
        real()

    monkeypatch.setattr(recorder, "_write_queued", broken)
    monkeypatch.setattr(recorder, "report_health", lambda: 1 / 0)  # and a failing health row, each pass
    client.get("/tuple")
    assert state.flush(10)
    assert failures and recorder.running and fmd.stats(app)["writer_running"] is True
    assert _rows(app) == 2


def test_a_dead_writer_is_reported_and_the_next_request_starts_a_new_one(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    state = app.extensions["fmd"]
    recorder = state.recorder
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    recorder._stopping = True  # end the thread as a crash would, without stop()'s bookkeeping
    recorder._wake.set()
    deadline = time.monotonic() + 5
    while recorder._alive and time.monotonic() < deadline:
        time.sleep(0.01)
    recorder._stopping = False
    assert fmd.stats(app)["writer_running"] is False and recorder.started is False
    page = logged_in(app).get(PREFIX + "/health").text
    assert "not running: it starts again with the next monitored request" in page
    client.get("/tuple")  # the next monitored request starts a writer again
    assert recorder.running and state.flush(10) and _rows(app) == 2


def test_a_fork_without_python_hooks_starts_fresh_on_the_next_request(sqlite_url, make_app) -> None:  # noqa: ANN001
    """uWSGI forks workers from C: no os.register_at_fork hook runs. The pid on the next request notices."""
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    state.recorder.start = lambda: None  # hold the next record in the queue, as a parent serving at import
    client.get("/tuple")
    del state.recorder.start
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            recorder = state.recorder  # Python's fork hooks did run here: undo their work, as in uWSGI's child
            recorder.pid = -1  # as if no hook had reset this process's state: the parent's queue is here
            recorder.started, recorder._alive = True, True  # the parent's flags, no thread behind them
            for _ in range(3):
                client.get("/redirect")
            ok = fmd.flush(10) and recorder.stats()["submitted"] == 3 and recorder.stats()["rows_written"] == 3
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert state.flush(10)
    assert _rows(app) == 1 + 1 + 3  # the parent's held record written once (by the parent), the child's 3


_GEVENT_SCRIPT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import sys
    import gevent
    from flask import Flask
    import fmd

    app = Flask("greened")
    seen = set()

    @app.route("/slow")
    def slow():
        gevent.sleep(0.05)
        seen.add(len(app.extensions["fmd"].inflight))
        return "ok"

    fmd.bind(app, database=sys.argv[1], flush_interval=0.05)
    client = app.test_client()
    jobs = [gevent.spawn(client.get, "/slow") for _ in range(50)]
    gevent.joinall(jobs, timeout=20)
    assert all(j.value.status_code == 200 for j in jobs)
    assert fmd.flush(10), fmd.stats()
    stats = fmd.stats()
    print(max(seen), stats["rows_written"], stats["writer_running"])
""")


def test_under_gevent_each_greenlet_is_its_own_request_and_the_writer_runs(sqlite_url) -> None:  # noqa: ANN001
    done = subprocess.run([sys.executable, "-c", _GEVENT_SCRIPT, sqlite_url], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    most_inflight, written, running = done.stdout.split()
    assert int(most_inflight) > 10  # the greenlets' requests overlapped, each under its own key
    assert (written, running) == ("50", "True")
