"""Retention on SQLite, PostgreSQL and MariaDB: what goes, what stays (rollups, requests with kept outliers),
batches, the lease, and three worker processes racing for it with exactly one pruning."""

from __future__ import annotations

import threading
import multiprocessing
import os
import time
from datetime import datetime, timedelta


import pytest
from lifecycle_data import add_outliers_and_profiles, counts, request_ids, sums, write

from fmd.instrument.guard import ErrorLog
from fmd.instrument.maintenance import Maintenance
from fmd.queries._range import TimeRange
from fmd.queries.endpoint import header
from fmd.store.engine import Store
from fmd.store.retention import Retention, count_prunable, lease_holder, prune, take_lease
from fmd.store.writes import utcnow

NOW = datetime(2024, 6, 30, 12)




def aged(name: str, days_ago: float, n: int, now: datetime = NOW) -> list:
    start = now - timedelta(days=days_ago)
    return [(name, 0.02 + i * 0.001, start + timedelta(minutes=i), 200, "u", "10.0.0.1") for i in range(n)]


def seed(store: Store, now: datetime = NOW) -> dict[str, list[int]]:
    """12 requests 40 days old, 8 requests 20 days old, 5 one day old; outliers+profiles on some of each."""
    eid = write(store, aged("a", 40, 12, now) + aged("a", 20, 8, now) + aged("a", 1, 5, now))["a"]
    ids = request_ids(store, eid)
    groups = {"old": ids[:12], "mid": ids[12:20], "new": ids[20:]}
    add_outliers_and_profiles(store, groups["old"][:3] + groups["mid"][:2] + groups["new"][:1], lines=4)
    return groups


def test_prune_removes_old_raw_data_in_batches_and_keeps_rollups(store: Store) -> None:
    groups = seed(store)
    rollups_before = sums(store)
    old_range = TimeRange.of(NOW - timedelta(days=41), NOW - timedelta(days=39))

    # Outliers kept forever: the three old requests that have one stay with it; the other nine go.
    forever = Retention(requests_days=30, outliers_days=0, profiles_days=0)
    with store.read() as conn:
        assert count_prunable(conn, store.tables, forever, NOW) == {"outliers": 0, "profiles": 0, "requests": 9,
                                                                    "hourly": 0}
    calls: list[tuple[str, int]] = []
    done = prune(store, forever, now=NOW, batch=4, pause=0, progress=lambda kind, n: calls.append((kind, n)))
    assert done == {"outliers": 0, "profiles": 0, "requests": 9, "hourly": 0}
    assert len(calls) >= 3 and all(n <= 4 for _, n in calls)  # batches of at most 4 rows
    assert counts(store)["request"] == 25 - 9

    # The defaults: outliers and profiles of requests older than 14 days go, then their requests (30 days).
    default = Retention()
    with store.read() as conn:
        expected = count_prunable(conn, store.tables, default, NOW)
    assert expected == {"outliers": 5, "profiles": 20, "requests": 3, "hourly": 0}
    done = prune(store, default, now=NOW, batch=2, pause=0)
    assert done == expected
    c = counts(store)
    assert c["request"] == 8 + 5 and c["outlier"] == 1 and c["stack_line"] == 4
    assert set(request_ids(store, store_endpoint_id(store))) == set(groups["mid"] + groups["new"])
    after = sums(store)
    assert {k: v for k, v in after.items() if k != "request"} == {k: v for k, v in rollups_before.items()
                                                                  if k != "request"}
    with store.read() as conn:  # a chart over the pruned range still shows every request
        assert header(conn, store.tables, store_endpoint_id(store), old_range)["hits"] == 12
    assert prune(store, default, now=NOW, pause=0) == dict.fromkeys(done, 0)  # nothing left: idempotent


def store_endpoint_id(store: Store) -> int:
    from sqlalchemy import select

    with store.read() as conn:
        return conn.execute(select(store.tables.endpoint.c.id).where(store.tables.endpoint.c.name == "a")).scalar_one()


def test_prune_hourly_histograms_keeps_daily_ones(store: Store) -> None:
    seed(store)
    before = sums(store)
    c0 = counts(store)
    retention = Retention(requests_days=0, outliers_days=0, profiles_days=0, hourly_days=10)
    with store.read() as conn:
        expected = count_prunable(conn, store.tables, retention, NOW)
    assert 0 < expected["hourly"] < c0["histogram_hour"]
    assert prune(store, retention, now=NOW, pause=0)["hourly"] == expected["hourly"]
    after = sums(store)
    assert after["histogram_hour"] == 5  # only the one-day-old requests keep hourly histograms
    assert after["histogram_day"] == before["histogram_day"] and after["rollup_hour"] == before["rollup_hour"]
    assert after["rollup_day"] == before["rollup_day"] > 0  # daily counters are never pruned
    assert counts(store)["request"] == c0["request"]


def test_the_lease_goes_to_one_holder_per_period(store: Store) -> None:
    t = store.tables
    now = time.time()
    with store.write() as conn:
        assert take_lease(conn, t, "a", 3600, now)
    with store.write() as conn:
        assert not take_lease(conn, t, "b", 3600, now + 10)
        expiry, holder = lease_holder(conn, t)
    assert holder == "a" and expiry == int(now + 3600)
    with store.write() as conn:
        assert take_lease(conn, t, "b", 3600, now + 3601)  # expired: the next period's run
        assert lease_holder(conn, t)[1] == "b"


def _worker(url: str, prefix: str, barrier, results) -> None:  # noqa: ANN001
    """One worker process: the real maintenance thread, checking the lease every 50 ms for a second."""
    store = Store(url, prefix)
    errors = ErrorLog()
    job = Maintenance(store, errors, first_delay=0, check_every=0.05, pause=0)
    store.ensure_schema()
    barrier.wait(30)
    job.start()
    time.sleep(1.0)
    job.stop()
    results.put((os.getpid(), job.runs, errors.total))


@pytest.mark.slow
def test_three_workers_race_and_exactly_one_prunes(store: Store, db_url: str, prefix: str) -> None:
    now = utcnow()
    seed(store, now)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(db_url, prefix, barrier, results)) for _ in range(3)]
    for w in workers:
        w.start()
    got = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(10)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    runs = [(pid, run) for pid, worker_runs, _ in got for run in worker_runs]
    assert sum(errors for *_, errors in got) == 0
    assert len(runs) == 1, got  # one run in total, not one per worker or per check
    pid, run = runs[0]
    assert run["requests"] == 9 + 3 and run["outliers"] == 5
    with store.read() as conn:
        assert lease_holder(conn, store.tables)[1].endswith(f":{pid}")


def test_the_job_starts_with_the_writer_and_stops_with_it(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, prune_interval_hours=6, retention_requests_days=3)
    state = app.extensions["fmd"]
    job = state.recorder.maintenance
    assert job.interval_hours == 6 and job.ages == (3, 14, 14, 0)
    assert not job.running  # nothing runs at bind (pre-fork servers)
    app.test_client().get("/")
    assert job.running and "fmd-maintenance" in {t.name for t in threading.enumerate()}
    state.close(5)
    assert not job.running


def test_the_job_is_off_without_an_interval(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, prune_interval_hours=0)
    app.test_client().get("/")
    assert not app.extensions["fmd"].recorder.maintenance.running


def _child_starts_its_own(job: Maintenance, results) -> None:  # noqa: ANN001
    results.put((job.running, job.start() or job.running))
    job.stop()


def test_a_forked_child_starts_its_own_thread(sqlite_url: str, prefix: str) -> None:
    job = Maintenance(Store(sqlite_url, prefix), ErrorLog(), first_delay=3600)
    job.start()
    try:
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        child = ctx.Process(target=_child_starts_its_own, args=(job, results))
        child.start()
        assert results.get(timeout=20) == (False, True)
        child.join(10)
        assert job.running  # the parent's own thread is unaffected
    finally:
        job.stop()
