"""Demo traffic: realistic, and its rollups equal the raw rows, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import func, select

from fmd.store.engine import Store
from fmd.store.histogram import bucket_of
from fmd.store.seed import DEMO_ENDPOINTS, DEMO_VERSIONS, DatabaseNotEmpty, generate, seed_demo


@pytest.fixture
def store(db_url: str, prefix: str):  # noqa: ANN201
    store = Store(db_url, prefix)
    yield store
    store.dispose()


def raw_rows(store: Store) -> list:
    r = store.tables.request
    with store.read() as conn:
        return conn.execute(select(r.c.endpoint_id, r.c.time_requested, r.c.version_requested, r.c.status_code,
                                   r.c.duration, r.c.group_by, r.c.ip)).all()


@pytest.mark.slow  # seeds thousands of requests per database: ~10 s each
def test_seeded_rollups_equal_the_raw_rows(store: Store) -> None:
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    result = seed_demo(store, 20_000, 7, seed=7)
    assert result.requests == 20_000
    t = store.tables
    rows = raw_rows(store)
    assert len(rows) == 20_000

    expected: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
    expected_hist: Counter = Counter()
    for endpoint_id, when, version, status, duration, _, _ in rows:
        hour = when.replace(minute=0, second=0, microsecond=0)
        expected[(endpoint_id, hour, version, status)][0] += 1
        expected[(endpoint_id, hour, version, status)][1] += duration
        expected_hist[(endpoint_id, hour, version, status, bucket_of(duration))] += 1
    with store.read() as conn:
        rollups = {tuple(r[:4]): (r[4], r[5]) for r in conn.execute(select(
            t.rollup_hour.c.endpoint_id, t.rollup_hour.c.hour, t.rollup_hour.c.version, t.rollup_hour.c.status_code,
            t.rollup_hour.c["count"], t.rollup_hour.c.duration_sum))}
        hist = {tuple(r[:5]): r[5] for r in conn.execute(select(
            t.histogram_hour.c.endpoint_id, t.histogram_hour.c.hour, t.histogram_hour.c.version,
            t.histogram_hour.c.status_code, t.histogram_hour.c.bucket, t.histogram_hour.c["count"]))}
        day_total = conn.execute(select(func.sum(t.histogram_day.c["count"]))).scalar()
        endpoints = {e.id: e for e in conn.execute(select(t.endpoint))}
    assert sum(count for count, _ in rollups.values()) == 20_000
    assert rollups.keys() == expected.keys()
    for key, (count, total) in expected.items():
        assert rollups[key][0] == count, key
        assert rollups[key][1] == pytest.approx(total, rel=1e-9), key
    assert hist == dict(expected_hist)
    assert day_total == 20_000

    # Endpoints: first/last requested are the seeded extremes.
    for endpoint_id in {r[0] for r in rows}:
        times = [r[1] for r in rows if r[0] == endpoint_id]
        assert endpoints[endpoint_id].first_requested == min(times)
        assert endpoints[endpoint_id].last_requested == max(times)

    # Realistic: three versions in time order, tens of users, hundreds of IPs, errors.
    first_of = {v: min(r[1] for r in rows if r[2] == v) for v in DEMO_VERSIONS}
    assert sorted(first_of, key=first_of.get) == list(DEMO_VERSIONS)
    assert len({r[5] for r in rows}) >= 20
    assert len({r[6] for r in rows}) >= 200 and any(":" in r[6] for r in rows)
    assert {200, 302, 404, 500} <= {r[3] for r in rows}
    assert before - timedelta(days=7, seconds=1) <= min(r[1] for r in rows)
    assert max(r[1] for r in rows) <= datetime.now(timezone.utc).replace(tzinfo=None)


def test_refuses_a_database_with_requests_unless_forced(sqlite_url: str, prefix: str) -> None:
    store = Store(sqlite_url, prefix)
    seed_demo(store, 1_000, 2, seed=1)
    with pytest.raises(DatabaseNotEmpty, match="already holds recorded requests"):
        seed_demo(store, 1_000, 2, seed=2)
    seed_demo(store, 500, 2, seed=3, force=True)
    t = store.tables
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(t.request)).scalar() == 1_500
        assert conn.execute(select(func.sum(t.rollup_hour.c["count"]))).scalar() == 1_500
    store.dispose()


def test_concurrent_seeders_seed_once(db_url: str, prefix: str) -> None:
    """Workers starting together on an empty database: one seeds, the others find it no longer empty."""
    stores = [Store(db_url, prefix) for _ in range(2)]
    stores[0].ensure_schema()
    outcomes: list[str] = []

    def seed(store: Store) -> None:
        try:
            seed_demo(store, 2_000, 1, seed=5)
            outcomes.append("seeded")
        except DatabaseNotEmpty:
            outcomes.append("refused")

    threads = [threading.Thread(target=seed, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["refused", "seeded"]
    with stores[0].read() as conn:
        assert conn.execute(select(func.count()).select_from(stores[0].tables.request)).scalar() == 2_000
    for store in stores:
        store.dispose()


def test_generated_traffic_has_a_rhythm() -> None:
    now = datetime(2024, 3, 4, tzinfo=timezone.utc).timestamp()  # a Monday, midnight UTC: 4 whole weeks back
    traffic = generate(100_000, 28, seed=3, now=now)
    again = generate(100_000, 28, seed=3, now=now)
    assert np.array_equal(traffic.time_us, again.time_us) and np.array_equal(traffic.duration, again.duration)
    assert np.all(np.diff(traffic.time_us) >= 0)
    assert traffic.time_us[0] >= (now - 28 * 86400) * 1e6 and traffic.time_us[-1] <= now * 1e6

    hours = traffic.time_us // 3_600_000_000
    by_weekday = np.bincount((hours // 24 + 3) % 7, minlength=7)  # 1970-01-01 was a Thursday
    assert by_weekday[5:].mean() < 0.5 * by_weekday[:5].mean()  # quiet weekends
    by_hour = np.bincount(hours % 24, minlength=24)
    assert by_hour[10] > 5 * by_hour[3]  # busy working hours, quiet nights

    medians = [float(np.median(traffic.duration[traffic.endpoint == i])) for i in range(len(DEMO_ENDPOINTS))]
    assert min(medians) < 0.003 and max(medians) > 0.5  # from ~1 ms to ~1 s
    newest = traffic.time_us[traffic.version == len(DEMO_VERSIONS) - 1]
    assert newest.min() > (now - 28 * 86400 / 3) * 1e6  # the newest version runs in the last third


def test_seed_demo_command(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["fmd", "seed-demo", "--requests", "3000", "--days", "2", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "Seeded 3,000 requests" in result.output
    assert time.perf_counter() - started < 30
    state = app.extensions["fmd"]
    with state.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar() == 3_000

    again = runner.invoke(args=["fmd", "seed-demo", "--requests", "10", "--days", "1"])
    assert again.exit_code == 1
    assert "already holds recorded requests" in again.output and "--force" in again.output
