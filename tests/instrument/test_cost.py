"""fmd's own cost per request, measured live: the request path's time and the writer thread's CPU time."""

from __future__ import annotations

import os
import time

from sqlalchemy import select

import fmd


#: CPU work of a known size in the app's own view: far more than fmd's whole request path.
VIEW_S = 0.02


def slow_app(make_app, url: str, new_host_app):  # noqa: ANN001, ANN201
    app = new_host_app()

    @app.route("/work")
    def work() -> str:
        deadline = time.perf_counter() + VIEW_S
        n = 0
        while time.perf_counter() < deadline:  # busy: the view's own time, which fmd must not count as its own
            n += 1
        return str(n)

    return make_app(url, app=app)


def test_request_cost_leaves_out_the_apps_own_time(sqlite_url, make_app, new_host_app) -> None:  # noqa: ANN001
    app = slow_app(make_app, sqlite_url, new_host_app)
    assert (fmd.stats(app)["request_cost_us"], fmd.stats(app)["writer_cost_us"]) == (None, None)
    client = app.test_client()
    for _ in range(20):  # fast requests first: whatever the first request costs is spread over all of them
        assert client.get("/tuple").status_code == 200
    for _ in range(40):
        started = time.perf_counter()
        assert client.get("/work").status_code == 200
        assert time.perf_counter() - started >= VIEW_S  # the view really took its time
    cost_us = fmd.stats(app)["request_cost_us"]
    # fmd's bookkeeping is tens of microseconds a request; counting the views' dispatch would make the mean
    # at least 40 / 60 x 20,000 us.
    assert cost_us is not None and 0 < cost_us < VIEW_S * 1e6 / 8, cost_us


def test_request_path_cost_is_counted_per_monitored_request(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = app.test_client()
    for i in range(40):
        client.get("/tuple" if i % 4 else "/nowhere")  # a request that matches no route is recorded too
    mean_us = fmd.stats(app)["request_cost_us"]
    assert mean_us is not None and 0 < mean_us < 5000  # a busy machine (and the first request) included


def test_level_zero_requests_add_no_request_cost(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, monitor_level=0)
    client = app.test_client()
    for _ in range(5):
        client.get("/")
    assert fmd.stats(app)["request_cost_us"] is None


def test_writer_cost_after_a_flush_and_both_figures_in_the_process_row(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    for _ in range(25):
        client.get("/")
    assert state.flush(10)
    stats = fmd.stats(app)
    assert stats["rows_written"] == 25
    assert 0 < stats["writer_cost_us"] < 10_000  # CPU µs per record: a few, never milliseconds
    state.recorder.report_health()  # the writer reports every few seconds; at once here
    t = state.store.tables
    with state.store.read() as conn:
        row = conn.execute(select(t.process).where(t.process.c.pid == os.getpid())).one()._mapping
    assert row["request_cost_us"] > 0 and row["writer_cost_us"] > 0
    assert abs(row["request_cost_us"] - stats["request_cost_us"]) < 1e-6
