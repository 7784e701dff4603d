"""Chart resolution from the range (per hour up to 72 hours, else per local day), rolling ranges that start
mid-day, and requests that matched no route, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

from fmd.queries import app
from fmd.queries import endpoint as q
from fmd.queries._range import DatePeriod, TimeRange
from fmd.store import writes
from rollup_data import epoch, record

#: "Now" of the rolling ranges below: mid-afternoon UTC.
NOW = datetime(2024, 3, 10, 15, 30)
HOUR = timedelta(hours=1)


def spread(store, start: datetime, hours: int) -> list[tuple]:  # noqa: ANN001
    """One request of "a" every hour and two of "b" every third hour from *start*; returns the records."""
    records = []
    for i in range(hours):
        moment = start + i * HOUR + timedelta(minutes=10)
        records.append(("a", 0.01, moment, 200))
        if i % 3 == 0:
            records += [("b", 0.02, moment, 404), ("b", 0.02, moment + timedelta(minutes=5), 200)]
    record(store, records)
    return records


def unrouted(store, records: list[tuple[datetime, int]]) -> None:  # noqa: ANN001
    """Requests that matched no route, written by the real writer (endpoint None: counted per status only)."""
    rows = [(None, 0.001, epoch(moment), status, "", "127.0.0.1") for moment, status in records]
    with store.write() as conn:
        writes.write_batch(conn, store.tables, writes.new_batch_id(), "1.0", rows, {}, {})


def inside(records: list[tuple], rng: TimeRange) -> list[tuple]:
    return [r for r in records if rng.start <= r[2] < rng.end]


def test_a_rolling_day_is_hourly_and_sums_like_a_total(store) -> None:  # noqa: ANN001
    records = spread(store, NOW - timedelta(hours=40), 48)  # from well before the range to after "now"
    period = DatePeriod.last_hours(24, NOW, "America/New_York")
    assert period.hourly and app.grain(period) == "hour"
    with store.read() as conn:
        rows = app.hits_by_day(conn, store.tables, period, top=1)
        total = sum(app.hits_by_endpoint(conn, store.tables, period).values())
        status = app.status_by_day(conn, store.tables, period)
    expected = len(inside(records, period.utc))
    assert sum(r["hits"] for r in rows) == total == expected > 0
    labels = period.bucket_labels()
    assert len(labels) == 25  # from 14:00 UTC yesterday to the end of the current hour
    assert {r["hour"] for r in rows} <= set(labels) and "day" not in rows[0]
    first = min(labels.index(r["hour"]) for r in rows)
    assert labels[first] == "2024-03-09 10:00"  # 15:00 UTC: never an hour before the range's start
    assert {r["endpoint"] for r in rows} == {"a", "other (1 endpoint)"}
    assert Counter(r["status"] for r in status for _ in range(r["hits"])) == Counter(
        str(r[3]) for r in inside(records, period.utc))


def test_a_rolling_week_is_daily_and_never_counts_hours_before_its_start(store) -> None:  # noqa: ANN001
    records = spread(store, datetime(2024, 3, 3), 8 * 24)  # every hour of March 3rd..10th
    period = DatePeriod.last_hours(7 * 24, NOW, "UTC")
    assert not period.hourly and app.grain(period) == "day"
    assert app.day_edges(period)[0] == period.utc.start == datetime(2024, 3, 3, 15)  # not midnight
    with store.read() as conn:
        rows = app.hits_by_day(conn, store.tables, period)
        status = app.status_by_day(conn, store.tables, period)
    expected = Counter(r[2].date().isoformat() for r in inside(records, period.utc))
    got: Counter = Counter()
    for r in rows:
        got[r["day"]] += r["hits"]
    assert got == expected and got["2024-03-03"] == 9 + 3 * 2  # 15:00..23:00 only
    assert sum(r["hits"] for r in status) == sum(expected.values())


def test_a_calendar_range_of_up_to_three_days_is_hourly(store) -> None:  # noqa: ANN001
    records = spread(store, datetime(2024, 3, 5), 24)
    one_day = DatePeriod(date(2024, 3, 5), date(2024, 3, 5), "UTC")
    week = DatePeriod(date(2024, 3, 4), date(2024, 3, 10), "UTC")
    with store.read() as conn:
        hourly = app.hits_by_day(conn, store.tables, one_day)
        daily = app.hits_by_day(conn, store.tables, week)
        eid = app.top_endpoints(app.hits_by_endpoint(conn, store.tables, week), 1)[0]
        ep_hourly = q.status_by_bucket(conn, store.tables, eid, one_day)
        ep_daily = q.status_by_bucket(conn, store.tables, eid, week)
    assert sorted({r["hour"] for r in hourly if r["endpoint"] == "a"}) == [
        f"2024-03-05 {h:02d}:00" for h in range(24)]
    assert [(r["day"], r["endpoint"], r["hits"]) for r in daily] == [("2024-03-05", "a", 24), ("2024-03-05", "b", 16)]
    assert sum(r["hits"] for r in hourly) == sum(r["hits"] for r in daily) == len(records)
    # The endpoint page's Status codes tab follows the same rule.
    assert len(ep_hourly) == 24 and ep_hourly[0] == {"time": "2024-03-05 00:00", "status": "200", "hits": 1}
    assert ep_daily == [{"time": "2024-03-05", "status": "200", "hits": 24}]


def test_the_heatmap_draws_only_hours_inside_a_rolling_range(store) -> None:  # noqa: ANN001
    spread(store, NOW - timedelta(hours=30), 30)
    period = DatePeriod.last_hours(6, NOW, "UTC")
    with store.read() as conn:
        cells = app.hits_by_hour_of_day(conn, store.tables, period)
        empty = app.hits_by_hour_of_day(conn, store.tables, DatePeriod.last_hours(6, NOW + timedelta(days=30), "UTC"))
    assert [(c["day"], c["hour"]) for c in cells] == [("2024-03-10", h) for h in range(9, 16)]
    assert [c["hits"] for c in cells] == [3, 1, 1, 3, 1, 1, 0]  # 15:00 is after the last request
    assert empty == []


def test_unrouted_requests_are_their_own_series_per_status(store) -> None:  # noqa: ANN001
    record(store, [("a", 0.01, datetime(2024, 3, 5, 10), 200)])
    unrouted(store, [(datetime(2024, 3, 5, 10, 5), 404), (datetime(2024, 3, 5, 10, 6), 404),
                     (datetime(2024, 3, 5, 11, 0), 405), (datetime(2024, 3, 6, 9, 0), 404),
                     (datetime(2024, 3, 20, 9, 0), 404)])  # outside the ranges below
    week = DatePeriod(date(2024, 3, 4), date(2024, 3, 10), "UTC")
    day = DatePeriod(date(2024, 3, 5), date(2024, 3, 5), "UTC")
    with store.read() as conn:
        weekly = [r for r in app.status_by_day(conn, store.tables, week) if r["unrouted"]]
        hourly = [r for r in app.status_by_day(conn, store.tables, day) if r["unrouted"]]
        without = app.status_by_day(conn, store.tables, week, unrouted=False)
        only = app.status_by_day(conn, store.tables, DatePeriod(date(2024, 3, 20), date(2024, 3, 20), "UTC"))
    assert [(r["day"], r["status"], r["hits"]) for r in weekly] == [
        ("2024-03-05", "404", 2), ("2024-03-05", "405", 1), ("2024-03-06", "404", 1)]
    assert {(r["endpoint"], r["endpoint_id"], r["other"]) for r in weekly} == {(app.UNROUTED, None, False)}
    assert [(r["hour"], r["status"], r["hits"]) for r in hourly] == [
        ("2024-03-05 10:00", "404", 2), ("2024-03-05 11:00", "405", 1)]
    assert not any(r["unrouted"] for r in without)
    # A range with only unrouted requests still has a Status codes chart: nothing else shows them.
    assert [(r["endpoint"], r["status"], r["hits"]) for r in only] == [(app.UNROUTED, "404", 1)]
