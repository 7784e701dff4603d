"""fmd's own cost per request, measured live: the request path's time and the writer thread's CPU time."""

from __future__ import annotations

import os

from sqlalchemy import select

import fmd


def test_request_path_cost_is_counted_per_monitored_request(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    assert (state.stats()["request_cost_us"], state.stats()["writer_cost_us"]) == (None, None)
    client = app.test_client()
    n = 40
    for i in range(n):
        client.get("/tuple" if i % 4 else "/nowhere")  # a request that matches no route is recorded too
    recorder = state.recorder
    assert recorder.request_cost_n == n  # one thread here: no update lost
    mean_us = state.stats()["request_cost_us"]
    assert mean_us == recorder.request_cost_s / n * 1e6
    assert 0 < mean_us < 1000


def test_level_zero_requests_add_no_request_cost(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, monitor_level=0)
    client = app.test_client()
    for _ in range(5):
        client.get("/")
    assert app.extensions["fmd"].recorder.request_cost_n == 0
    assert fmd.stats(app)["request_cost_us"] is None


def test_writer_cost_after_a_flush_and_both_figures_in_the_process_row(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    for _ in range(25):
        client.get("/")
    assert state.flush(10)
    recorder = state.recorder
    assert recorder.writer_records == 25 and recorder.writer_cpu_s > 0
    stats = fmd.stats(app)
    assert stats["writer_cost_us"] == recorder.writer_cpu_s / 25 * 1e6 > 0
    recorder._report_health()  # the writer reports every few seconds; at once here
    t = state.store.tables
    with state.store.read() as conn:
        row = conn.execute(select(t.process).where(t.process.c.pid == os.getpid())).one()._mapping
    assert row["request_cost_us"] > 0 and row["writer_cost_us"] > 0
    assert abs(row["request_cost_us"] - stats["request_cost_us"]) < 1e-6
