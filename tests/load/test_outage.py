"""The database goes away (a TCP proxy in front of PostgreSQL is cut) and comes back.

The host keeps answering, the writer holds its records within QUEUE_SIZE and retries with backoff, and a
retried batch whose first attempt had in fact committed is recognised by its id and not stored twice.
"""

from __future__ import annotations

import statistics
import threading
import time

import pytest
from flask import request

import fmd

from .harness import load

pytestmark = pytest.mark.slow


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_lost_commit_reply_is_not_stored_twice(proxy, prefix, make_app, counts, pg_url) -> None:  # noqa: ANN001
    """The server commits a batch but the reply never arrives: the retry finds its id and skips it."""
    app = make_app(proxy.url)
    state = app.extensions["fmd"]
    client = app.test_client()
    for _ in range(20):
        client.get("/")
    assert state.flush(10)
    proxy.lose_reply_after(f"INSERT INTO {prefix}batch".encode(), b"COMMIT")
    for _ in range(30):
        client.get("/tuple")
    assert state.flush(15)
    stats = state.stats()
    assert proxy.replies_lost == 1
    assert stats["failed_writes"] >= 1 and stats["already_written"] == 1, stats
    assert counts(pg_url, prefix).totals() == {"requests": 50, "rollup_hour": 50, "histogram_hour": 50,
                                               "histogram_day": 50}


def test_held_batch_counts_against_the_queue_bound(proxy, prefix, make_app, counts, pg_url) -> None:  # noqa: ANN001
    """QUEUE_SIZE=100: a batch held for retry plus the queue never exceed it; the first 100 survive, later ones
    are refused and counted."""
    fmd.config.group_by = lambda: request.args.get("n", "")
    app = make_app(proxy.url, queue_size=100, sync_interval=60)  # only the batch write can fail here
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/?n=warm")
    assert state.flush(10)
    proxy.cut()
    for n in range(100):
        client.get(f"/?n={n}")
    assert _wait(lambda: state.stats()["failed_writes"] >= 1, 5)  # the writer took them and holds them
    for n in range(100, 250):
        assert client.get(f"/?n={n}").status_code == 200
    assert _wait(lambda: state.stats()["dropped"] == 150 and state.stats()["queue_length"] == 100, 5), state.stats()
    assert state.flush(0.3) is False
    proxy.restore()
    assert state.flush(15)
    stats = state.stats()
    assert (stats["dropped"], stats["queue_length"], stats["rows_written"]) == (150, 0, 101)
    found = counts(pg_url, prefix)
    assert found.totals()["requests"] == 101
    with found.engine.connect() as conn:
        kept = sorted(int(g) for (g,) in conn.exec_driver_sql(
            f"SELECT group_by FROM {prefix}request WHERE group_by <> 'warm'"))
    assert kept == list(range(100))  # the held batch kept its records; the queue refused the newer ones


def test_gunicorn_rides_out_a_database_outage(proxy, prefix, gunicorn, counts, pg_url) -> None:  # noqa: ANN001
    """Cut the database mid-load: every response is a fast 200; after it returns every request is stored once."""
    began = time.perf_counter()
    server = gunicorn(proxy.url, prefix, workers=2, sync_interval=0.5)
    cut_at: list[float] = []
    cut_now = threading.Event()

    def cutter() -> None:
        if cut_now.wait(60):
            proxy.cut()
            cut_at.append(time.monotonic())

    threading.Thread(target=cutter, daemon=True).start()
    found = counts(pg_url, prefix)
    warm = load(server.port, 20, concurrency=4)  # both workers up, the schema created, writes flowing
    assert warm.ok == 20 and found.wait_for_requests(20, timeout=20) == 20
    # Phase 1: load, the proxy is cut half-way through it (in flight: writes fail mid-transaction).
    first = load(server.port, 400, concurrency=20, on_progress=lambda done: done >= 200 and cut_now.set())
    assert _wait(lambda: bool(cut_at), 10)
    time.sleep(max(0.0, cut_at[0] + 3.0 - time.monotonic()))  # long enough for every writer to fail and back off
    # Phase 2: the database is still away.
    second = load(server.port, 200, concurrency=20)
    outage_s = time.monotonic() - cut_at[0]
    proxy.restore()
    restored = time.monotonic()
    # Phase 3: back to normal.
    third = load(server.port, 200, concurrency=20)
    total = 820
    assert warm.statuses + first.statuses + second.statuses + third.statuses == [200] * total, server.log()

    during = [lat for lat, at in zip(first.latencies + second.latencies, first.started + second.started)
              if at >= cut_at[0]]
    before = [lat for lat, at in zip(first.latencies, first.started) if at < cut_at[0]]
    stored = found.wait_for_requests(total, timeout=30)
    caught_up_s = time.monotonic() - restored
    assert _wait(lambda: len(found.processes()) == 2 and all(p["failed_writes"] > 0 for p in found.processes()),
                 10), found.processes()
    health = found.processes()
    assert server.stop() == 0, server.log()
    totals = found.totals()
    ms = {name: (statistics.median(lat) * 1000, max(lat) * 1000) for name, lat in (("during", during),
                                                                                  ("before", before))}
    print(f"\noutage {outage_s:.1f} s: {len(during)} requests during it, median/max {ms['during'][0]:.1f}/"
          f"{ms['during'][1]:.0f} ms (before it {ms['before'][0]:.1f}/{ms['before'][1]:.0f} ms); all {stored} "
          f"stored {caught_up_s:.1f} s after the restore; failed writes per worker "
          f"{[p['failed_writes'] for p in health]}; final {totals}; test {time.perf_counter() - began:.1f} s")
    assert len(during) >= 200
    assert max(during) < 1.5 and statistics.median(during) < 0.25  # no request waits on the database
    assert stored == total
    assert totals == {"requests": total, "rollup_hour": total, "histogram_hour": total, "histogram_day": total}
    assert all(p["last_error"] for p in health)
