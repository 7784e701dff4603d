"""Rollups (hourly and daily counters, hourly and daily histograms, unrouted counts) equal what the raw rows say.

Written through the real writer (a Recorder fed with records spanning days) on SQLite, PostgreSQL and
MariaDB, and by two concurrent writers whose keys overlap (the upserts must add atomically).
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from fmd.instrument.guard import ErrorLog
from fmd.instrument.levels import Levels
from fmd.instrument.recorder import Recorder
from fmd.store import writes
from fmd.store.engine import Store
from fmd.store.histogram import bucket_of

ENDPOINTS = ("index", "api.users", "api.orders", "slow_report")
STATUSES = (200, 200, 200, 200, 201, 302, 404, 500)
#: 2023-11-14 00:00:00 UTC, a whole day; records spread over the three days after it.
BASE = 1_699_920_000


def synthetic(n: int, seed: int, spread_s: float = 3 * 86400) -> list[tuple]:
    """*n* recorder tuples (endpoint, duration, started, status, group_by, ip); one in 20 matched no route."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        started = BASE + round(rng.uniform(0, spread_s), 3)  # whole ms: no rounding across an hour edge
        status = rng.choice(STATUSES)
        if rng.random() < 0.05:
            out.append((None, rng.uniform(0.0001, 0.002), started, rng.choice((404, 405)), "", ""))
            continue
        endpoint = rng.choice(ENDPOINTS)
        median = 0.4 if endpoint == "slow_report" else 0.01
        out.append((endpoint, rng.lognormvariate(0, 0.8) * median, started, status, f"user{rng.randint(1, 5)}",
                    f"10.0.0.{rng.randint(1, 9)}"))
    return out


def recorder_for(store: Store, version: str) -> Recorder:
    return Recorder(store, Levels(1), version, queue_size=10_000, batch_size=97, flush_interval=0.02,
                    sync_interval=60, errors=ErrorLog())


def hour_of(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def day_of(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def raw_rows(store: Store) -> list:
    t = store.tables
    with store.read() as conn:
        return conn.execute(select(t.request.c.endpoint_id, t.request.c.time_requested,
                                   t.request.c.version_requested, t.request.c.status_code,
                                   t.request.c.duration)).all()


def stored(store: Store, table: str, key: tuple[str, ...], values: tuple[str, ...]) -> dict[tuple, tuple]:
    tbl = getattr(store.tables, table)
    with store.read() as conn:
        rows = conn.execute(select(*(tbl.c[c] for c in key + values))).all()
    out = {}
    for row in rows:
        k = tuple(row[: len(key)])
        assert k not in out, f"{table}: key {k} stored twice"
        out[k] = tuple(row[len(key):])
    return out


def check_rollups_match_raw_rows(store: Store, unrouted: Counter) -> int:
    """Every rollup table equals the aggregate of the raw request rows; returns the number of raw rows."""
    rows = raw_rows(store)
    counts: Counter = Counter()
    sums: dict[tuple, float] = defaultdict(float)
    hist_hour: Counter = Counter()
    hist_day: Counter = Counter()
    day_counts: Counter = Counter()
    day_sums: dict[tuple, float] = defaultdict(float)
    for endpoint_id, when, version, status, duration in rows:
        key = (endpoint_id, hour_of(when), version, status)
        counts[key] += 1
        sums[key] += duration
        day_counts[(endpoint_id, day_of(when), version, status)] += 1
        day_sums[(endpoint_id, day_of(when), version, status)] += duration
        hist_hour[key + (bucket_of(duration),)] += 1
        hist_day[(endpoint_id, day_of(when), version, status, bucket_of(duration))] += 1

    rollup = stored(store, "rollup_hour", ("endpoint_id", "hour", "version", "status_code"),
                    ("count", "duration_sum"))
    assert {k: c for k, (c, _) in rollup.items()} == dict(counts)
    for key, (_, duration_sum) in rollup.items():
        assert duration_sum == pytest.approx(sums[key], rel=1e-9, abs=1e-12), key
    daily = stored(store, "rollup_day", ("endpoint_id", "day", "version", "status_code"), ("count", "duration_sum"))
    assert {k: c for k, (c, _) in daily.items()} == dict(day_counts)
    for key, (_, duration_sum) in daily.items():
        assert duration_sum == pytest.approx(day_sums[key], rel=1e-9, abs=1e-12), key
    hist = stored(store, "histogram_hour", ("endpoint_id", "hour", "version", "status_code", "bucket"), ("count",))
    assert {k: c for k, (c,) in hist.items()} == dict(hist_hour)
    hist = stored(store, "histogram_day", ("endpoint_id", "day", "version", "status_code", "bucket"), ("count",))
    assert {k: c for k, (c,) in hist.items()} == dict(hist_day)
    got = stored(store, "unrouted_hour", ("hour", "status_code"), ("count",))
    assert {k: c for k, (c,) in got.items()} == dict(unrouted)
    return len(rows)


def expected_unrouted(records: list[tuple]) -> Counter:
    return Counter((datetime(2023, 11, 14) + timedelta(hours=int((r[2] - BASE) // 3600)), r[3])
                   for r in records if r[0] is None)


@pytest.fixture(autouse=True)
def _cold_hour_cache() -> None:
    """Each test converts its hours afresh: a cache warmed by an earlier test (same seeded times) would hide a
    wrong conversion."""
    from fmd.store import rollups

    rollups._EPOCH_CACHE.clear()


@pytest.fixture
def store(db_url: str, prefix: str):  # noqa: ANN201
    s = Store(db_url, prefix)
    yield s
    s.dispose()


def test_rollups_equal_aggregates_of_raw_rows(store: Store) -> None:
    records_v1, records_v2 = synthetic(400, seed=1), synthetic(250, seed=2)
    # Two versions written by two writers, as two processes (or a deploy) would.
    for version, records in (("1.0", records_v1), ("2.0", records_v2)):
        recorder = recorder_for(store, version)
        for record in records:
            recorder.submit(record)
        assert recorder.stop(30), recorder.stats()
        assert recorder.stats()["failed_writes"] == 0 and recorder.stats()["dropped"] == 0
    everything = records_v1 + records_v2
    routed = sum(1 for r in everything if r[0] is not None)
    assert check_rollups_match_raw_rows(store, expected_unrouted(everything)) == routed

    # The data really spans what the rollups must split: several days, hours, endpoints, statuses, versions.
    rollup = stored(store, "rollup_hour", ("endpoint_id", "hour", "version", "status_code"), ("count",))
    assert len({day_of(k[1]) for k in rollup}) == 3 and len({k[1] for k in rollup}) == 72
    assert len({k[0] for k in rollup}) == len(ENDPOINTS) and {k[2] for k in rollup} == {"1.0", "2.0"}
    assert {k[3] for k in rollup} == set(STATUSES) and sum(c for (c,) in rollup.values()) == routed


def test_per_user_and_per_ip_rollups_equal_raw_rows(store: Store) -> None:
    """Counts, duration sums and per-user histograms of the daily user and IP rollups equal the raw rows."""
    t = store.tables
    recorder = recorder_for(store, "1.0")
    for record in synthetic(300, seed=3):
        recorder.submit(record)
    assert recorder.stop(30)
    with store.read() as conn:
        raw = conn.execute(select(t.request.c.endpoint_id, t.request.c.time_requested, t.request.c.group_by,
                                  t.request.c.ip, t.request.c.duration)).all()
    by_group: Counter = Counter()
    by_ip: Counter = Counter()
    group_sums: dict[tuple, float] = defaultdict(float)
    ip_sums: dict[tuple, float] = defaultdict(float)
    group_hist: Counter = Counter()
    for endpoint_id, when, group_by, ip, duration in raw:
        by_group[(endpoint_id, day_of(when), "1.0", group_by)] += 1
        by_ip[(endpoint_id, day_of(when), "1.0", ip)] += 1
        group_sums[(endpoint_id, day_of(when), "1.0", group_by)] += duration
        ip_sums[(endpoint_id, day_of(when), "1.0", ip)] += duration
        group_hist[(endpoint_id, day_of(when), group_by, bucket_of(duration))] += 1
    assert len(raw) > 250 and len(by_ip) > 50 and len(by_group) > 30  # many keys, several rows on most
    groups = stored(store, "rollup_group_day", ("endpoint_id", "day", "version", "group_by"),
                    ("count", "duration_sum"))
    assert {k: c for k, (c, _) in groups.items()} == dict(by_group)
    for key, (_, duration_sum) in groups.items():
        assert duration_sum == pytest.approx(group_sums[key], rel=1e-9, abs=1e-12), key
    ips = stored(store, "rollup_ip_day", ("endpoint_id", "day", "version", "ip"), ("count", "duration_sum"))
    assert {k: c for k, (c, _) in ips.items()} == dict(by_ip)
    for key, (_, duration_sum) in ips.items():
        assert duration_sum == pytest.approx(ip_sums[key], rel=1e-9, abs=1e-12), key
    hist = stored(store, "histogram_group_day", ("endpoint_id", "day", "group_by", "bucket"), ("count",))
    assert {k: c for k, (c,) in hist.items()} == dict(group_hist)


def test_concurrent_writers_add_exactly(store: Store, db_url: str, prefix: str) -> None:
    """Two writers (own engines, own connections) upsert the same keys at once; no increment is lost."""
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, store.tables, ENDPOINTS, {})
    # Both writers hit the same few hours, endpoints and statuses: every upsert contends.
    batches = {name: [synthetic(60, seed=seed * 100 + i, spread_s=2 * 3600) for i in range(6)]
               for seed, name in enumerate(("a", "b"), start=10)}
    retries: Counter = Counter()
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def writer(name: str) -> None:
        own = Store(db_url, prefix)
        try:
            barrier.wait(10)
            for records in batches[name]:
                batch_id = writes.new_batch_id()
                for attempt in range(20):
                    try:
                        with own.write() as conn:
                            writes.write_batch(conn, own.tables, batch_id, "1.0", records, ids, {})
                        break
                    except writes.AlreadyWritten:
                        break
                    except DBAPIError:  # a deadlock victim is rolled back whole; retry it, as the recorder does
                        retries[name] += 1
                else:
                    raise AssertionError(f"writer {name} gave up after 20 attempts")
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    everything = [r for name in batches for records in batches[name] for r in records]
    routed = sum(1 for r in everything if r[0] is not None)
    assert check_rollups_match_raw_rows(store, expected_unrouted(everything)) == routed
    rollup = stored(store, "rollup_hour", ("endpoint_id", "hour", "version", "status_code"), ("count",))
    assert sum(c for (c,) in rollup.values()) == routed
    assert retries["a"] + retries["b"] <= 10, retries  # contention may cost a retry, not a livelock
