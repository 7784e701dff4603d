"""Counts read from daily + hourly rollups equal counts read from the hourly rollups alone.

The read plan (``fmd.queries._counters.plan``) is checked hour by hour in pure Python for many zones and
ranges; then every chart and overview count that reads through it is compared, on SQLite, PostgreSQL and
MariaDB, with a reference computed here from the raw ``rollup_hour`` rows, in UTC, New York (whose days start
at 04:00 or 05:00 UTC and cross a DST change in the data) and India (+05:30, widened to whole hours).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from fmd.queries import app, overview
from fmd.queries._counters import plan
from fmd.queries._range import DatePeriod, floor_hour, local_midnight_utc, local_today
from rollup_data import record

HOUR = timedelta(hours=1)
ZONES = ("UTC", "America/New_York", "Asia/Kolkata")
#: Data from March 1st to 14th 2024 (New York moves to summer time on March 10th).
FIRST, DAYS = datetime(2024, 3, 1), 14
#: Periods (first, last local day): inside the data, overlapping its start and its end, one day, beyond it.
PERIODS = ((date(2024, 3, 3), date(2024, 3, 12)), (date(2024, 2, 25), date(2024, 3, 4)),
           (date(2024, 3, 9), date(2024, 3, 20)), (date(2024, 3, 10), date(2024, 3, 10)),
           (date(2024, 3, 1), date(2024, 3, 14)))


def weights(edges: list[datetime]) -> dict[tuple[datetime, int], int]:
    """(hour, bucket) -> how often the plan counts that hour into that bucket (a day row counts its 24 hours)."""
    p = plan(edges)
    out: Counter = Counter()
    for first, end, bucket in p.days:
        hour = first
        while hour < end:
            out[(hour, bucket)] += 1
            hour += HOUR
    for start, end, bucket, assigned in p.hours:
        hour = start
        while hour < end:
            out[(hour, bucket)] += 1
            if assigned is not None:
                out[(hour, assigned)] -= 1
            hour += HOUR
    return {k: v for k, v in out.items() if v}


@pytest.mark.parametrize("tz", ZONES + ("Europe/Amsterdam", "Pacific/Auckland", "Asia/Kathmandu"))
def test_the_plan_counts_every_hour_once_in_its_own_bucket(tz: str) -> None:
    for first, last in PERIODS + ((date(2024, 10, 20), date(2024, 11, 10)),):
        period = DatePeriod(first, last, tz)
        edges = app.day_edges(period)
        expected = {}
        hour = edges[0]
        while hour < edges[-1]:
            expected[(hour, bisect_right(edges, hour) - 1)] = 1
            hour += HOUR
        assert weights(edges) == expected, (tz, first, last)
        total = weights([period.utc.start, period.utc.end])  # a range total: one bucket
        assert total == {(h, 0): 1 for h, _ in expected}


def test_the_plan_reads_days_and_few_hours() -> None:
    utc = plan(app.day_edges(DatePeriod(date(2024, 1, 1), date(2024, 3, 31), "UTC")))
    assert len(utc.days) == 91 and utc.hours == ()  # UTC: daily rows only
    ny = plan(app.day_edges(DatePeriod(date(2024, 1, 8), date(2024, 1, 14), "America/New_York")))
    assert len(ny.days) == 6  # Jan 9th..14th UTC lie inside the range; Jan 8th and 15th are partial
    hourly = sum((end - start) // HOUR for start, end, _, _ in ny.hours)
    assert hourly == 19 + 5 + 6 * 5  # partial edges + the five hours before 05:00 UTC of each whole day
    assert plan([datetime(2024, 1, 1, 3), datetime(2024, 1, 1, 9)]).days == ()
    assert plan([datetime(2024, 1, 1)]) == plan([datetime(2024, 1, 2), datetime(2024, 1, 1)]) == plan([])


@pytest.fixture
def mixed(store):  # noqa: ANN001, ANN201
    """~2000 requests of 6 endpoints, 3 versions and 4 statuses at random moments over DAYS days."""
    rng = random.Random(5)
    for version in ("1.0", "1.1", "2.0"):
        records = []
        for _ in range(650):
            moment = FIRST + timedelta(seconds=rng.randrange(DAYS * 86400))
            status = rng.choice((200, 200, 302, 404, 500))
            records.append((rng.choice("abcdef"), rng.uniform(0.001, 0.5), moment, status))
        record(store, records, version=version)
    return store


def hourly(store) -> list[tuple]:  # noqa: ANN001
    """Every rollup_hour row: (endpoint name, hour, version, status, count)."""
    t = store.tables
    r, e = t.rollup_hour, t.endpoint
    with store.read() as conn:
        return [tuple(row) for row in conn.execute(select(e.c.name, r.c.hour, r.c.version, r.c.status_code,
                                                          r.c["count"]).join(e, e.c.id == r.c.endpoint_id))]


def reference(rows: list[tuple], period: DatePeriod) -> dict[str, Counter]:
    """What the charts must show, computed from hourly rows only (per hour or local day: ``period.edges()``)."""
    edges = period.edges()
    labels = period.bucket_labels()
    out = {"endpoint": Counter(), "day": Counter(), "status": Counter(), "version": Counter()}
    first_seen: dict[str, datetime] = {}
    for name, hour, version, status, n in rows:
        if not edges[0] <= hour < edges[-1]:
            continue
        day = labels[bisect_right(edges, hour) - 1]
        out["endpoint"][name] += n
        out["day"][(day, name)] += n
        out["status"][(name, day, str(status))] += n
        out["version"][(name, version)] += n
        first_seen[version] = min(first_seen.get(version, hour), hour)
    out["order"] = sorted(first_seen, key=lambda v: (first_seen[v], v))
    return out


def test_charts_equal_a_pure_hourly_read(mixed) -> None:  # noqa: ANN001
    rows = hourly(mixed)
    t = mixed.tables
    with mixed.read() as conn:
        name_of = app.endpoint_names(conn, t)
        for tz in ZONES:
            for first, last in PERIODS:
                period = DatePeriod(first, last, tz)
                ref = reference(rows, period)
                where = (tz, first, last)
                hits = app.hits_by_endpoint(conn, t, period)
                assert {name_of[e]: n for e, n in hits.items()} == ref["endpoint"], where
                days = app.hits_by_day(conn, t, period, top=10)
                key = app.grain(period)  # "hour" for the one-day period, else "day"
                assert Counter({(r[key], r["endpoint"]): r["hits"] for r in days}) == ref["day"], where
                status = app.status_by_day(conn, t, period, top=10)
                assert Counter({(r["endpoint"], r[key], r["status"]): r["hits"] for r in status}) == ref["status"]
                versions = app.hits_by_version(conn, t, period, top=10)
                assert Counter({(r["endpoint"], r["version"]): r["hits"] for r in versions}) == ref["version"]
                assert sorted({(r["order"], r["version"]) for r in versions}) == list(enumerate(ref["order"]))
                # The top endpoints and "other" add up to the same totals per day.
                small = app.hits_by_day(conn, t, period, top=2)
                per_day: Counter = Counter()
                for r in small:
                    per_day[r[key]] += r["hits"]
                expected: Counter = Counter()
                for (day, _), n in ref["day"].items():
                    expected[day] += n
                assert per_day == expected, where


@pytest.mark.parametrize("now", [datetime(2024, 3, 10, 12, 30), datetime(2024, 3, 12, 2, 0)])
def test_overview_counts_equal_a_pure_hourly_read(mixed, now: datetime) -> None:  # noqa: ANN001
    rows = hourly(mixed)
    for tz in ZONES:
        today_start = floor_hour(local_midnight_utc(local_today(now, tz), tz))
        week = DatePeriod.last_days(overview.STATS_DAYS, now, tz).utc
        week_start, week_end = week.start, week.end
        expected: dict[str, Counter] = defaultdict(Counter)
        for name, hour, _, status, n in rows:
            expected[name]["total"] += n
            expected[name]["week"] += n if hour >= week_start else 0
            expected[name]["today"] += n if hour >= today_start else 0
            # The 5xx share follows the overview's range (the last 7 days up to the end of today).
            expected[name]["range"] += n if week_start <= hour < week_end else 0
            expected[name]["errors"] += n if week_start <= hour < week_end and status >= 500 else 0
        with mixed.read() as conn:
            got = {r["name"]: r for r in overview.overview_rows(conn, mixed.tables, now, tz)}
        assert set(got) == set(expected)
        for name, c in expected.items():
            row = got[name]
            assert (row["total"], row["week"], row["today"]) == (c["total"], c["week"], c["today"]), (tz, name)
            assert row["errors"] == (c["errors"] / c["range"] if c["range"] else None)
        assert sum(c["today"] for c in expected.values()) > 0 and sum(c["week"] for c in expected.values()) > 0
