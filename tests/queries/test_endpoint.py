"""The endpoint page's queries on small known data, over SQLite, PostgreSQL and MariaDB: counts exact, medians
and p95 within the histogram's error of the exact values computed from the same requests."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from lifecycle_data import write

from fmd.queries import endpoint as q
from fmd.queries._range import DatePeriod, TimeRange
from fmd.store.engine import Store

A = datetime(2024, 3, 4)  # a Monday; Amsterdam is UTC+1 in early March
B = A + timedelta(days=1)
WHOLE = TimeRange(A, A + timedelta(days=2))
#: Relative error allowed between a histogram percentile and the exact one (the histogram's ~2%).
TOL = 0.02


def spread(start: datetime, n: int, lo: float, hi: float, user: str, ip: str, status=200) -> list:  # noqa: ANN001
    """*n* requests from *start*, one a minute, durations log-evenly from *lo* to *hi* s; status may be a function."""
    return [("ep", lo * (hi / lo) ** (i / (n - 1)), start + timedelta(minutes=i),
             status(i) if callable(status) else status, user, ip) for i in range(n)]


V1 = (spread(A + timedelta(hours=9), 40, 0.010, 0.020, "alice", "10.0.0.1")
      + spread(A + timedelta(hours=14), 20, 0.030, 0.045, "bob", "10.0.0.2", lambda i: 500 if i < 5 else 200)
      + spread(A + timedelta(hours=15), 5, 0.050, 0.060, "carol", "10.0.0.3", 404))
V2 = (spread(B + timedelta(hours=10), 30, 0.020, 0.035, "alice", "10.0.0.1")
      + spread(B + timedelta(hours=23), 10, 0.100, 0.150, "", "10.0.0.4", 503))


@pytest.fixture
def data(store: Store) -> int:
    """The endpoint "ep" (V1 then V2) and a "noise" endpoint that no query of "ep" may count."""
    ids = write(store, V1, version="1.0")
    write(store, V2, version="2.0")
    write(store, [("noise", 5.0, A + timedelta(hours=9), 500, "alice", "10.0.0.1")], version="1.0")
    return ids["ep"]


def durations(records: list) -> list[float]:
    return [r[1] for r in records]


def close(got: float, want: float) -> bool:
    return abs(got - want) <= TOL * want


def test_header(store: Store, data: int) -> None:
    with store.read() as conn:
        h = q.header(conn, store.tables, data, WHOLE)
        assert q.header(conn, store.tables, 10_000, WHOLE) is None
        empty = q.header(conn, store.tables, data, TimeRange(A - timedelta(days=3), A))
    assert h["name"] == "ep" and h["hits"] == 105 and h["errors"] == 15
    assert h["error_rate"] == pytest.approx(15 / 105)
    assert h["versions"] == ["1.0", "2.0"]
    assert h["first_request"] == A + timedelta(hours=9) and h["last_request"] == B + timedelta(hours=23, minutes=9)
    every = durations(V1 + V2)
    assert h["mean_ms"] == pytest.approx(np.mean(every) * 1000)
    assert close(h["median_ms"], np.percentile(every, 50) * 1000)
    assert close(h["p95_ms"], np.percentile(every, 95) * 1000)
    assert empty["hits"] == 0 and empty["median_ms"] is None and empty["error_rate"] is None


def test_hourly_load_in_a_time_zone(store: Store, data: int) -> None:
    with store.read() as conn:
        utc = q.hits_by_hour_of_day(conn, store.tables, data, WHOLE, "UTC")
        ams = q.hits_by_hour_of_day(conn, store.tables, data, WHOLE, "Europe/Amsterdam")
    assert len(utc) == 48 and sum(c["hits"] for c in utc) == 105
    cells = {(c["day"], c["hour"]): c["hits"] for c in utc if c["hits"]}
    assert cells == {("2024-03-04", 9): 40, ("2024-03-04", 14): 20, ("2024-03-04", 15): 5,
                     ("2024-03-05", 10): 30, ("2024-03-05", 23): 10}
    local = {(c["day"], c["hour"]): c["hits"] for c in ams if c["hits"]}
    assert local[("2024-03-04", 10)] == 40 and local[("2024-03-06", 0)] == 10  # 23:00 UTC is the next local day


def test_users_and_ips_by_version_with_top_and_other(store: Store, data: int) -> None:
    with store.read() as conn:
        users = q.users_by_version(conn, store.tables, data, WHOLE, top=2)
        ips = q.ips_by_version(conn, store.tables, data, WHOLE, top=3)
        everyone = q.users_by_version(conn, store.tables, data, WHOLE)
    # Traffic: alice 70, bob 20, (none) 10, carol 5 -> top 2 = alice, bob; other = (none) + carol.
    got = {(r["user"], r["version"]): (r["hits"], round(r["mean_ms"], 3)) for r in users}
    def mean(records: list) -> float:
        return round(float(np.mean(durations(records))) * 1000, 3)

    assert got == {("alice", "1.0"): (40, mean(V1[:40])), ("alice", "2.0"): (30, mean(V2[:30])),
                   ("bob", "1.0"): (20, mean(V1[40:60])), ("other (2 users)", "1.0"): (5, mean(V1[60:])),
                   ("other (2 users)", "2.0"): (10, mean(V2[30:]))}
    assert [r["user"] for r in users][-1] == "other (2 users)" and users[-1]["other"]
    assert sum(r["hits"] for r in everyone) == 105 and not any(r["other"] for r in everyone)
    assert {r["user"] for r in everyone} == {"alice", "bob", "carol", q.NO_VALUE}
    by_ip = {(r["ip"], r["version"]): r["hits"] for r in ips}
    assert by_ip == {("10.0.0.1", "1.0"): 40, ("10.0.0.1", "2.0"): 30, ("10.0.0.2", "1.0"): 20,
                     ("10.0.0.4", "2.0"): 10, ("other (1 IP)", "1.0"): 5}


def test_distributions_per_version_and_user(store: Store, data: int) -> None:
    # A range that starts inside day A: day B comes from histogram_day, day A's hours from histogram_hour.
    rng = TimeRange(A + timedelta(hours=12), A + timedelta(days=2))
    with store.read() as conn:
        versions = q.durations_by_version(conn, store.tables, data, rng)
        users = q.durations_by_user(conn, store.tables, data, WHOLE, top=1)
    v1, v2 = durations(V1[40:]), durations(V2)  # alice's 09:00 requests of day A are outside the range
    assert [(r["version"], r["hits"]) for r in versions] == [("1.0", 25), ("2.0", 40)]
    for row, exact in zip(versions, (v1, v2)):
        for key, pct in zip(q.BOX_KEYS, (5, 25, 50, 75, 95)):
            assert close(row[key], np.percentile(exact, pct) * 1000), (row["version"], key)
    assert [(r["user"], r["hits"], r["other"]) for r in users] == [("alice", 70, False), ("other (3 users)", 35, True)]
    alice = durations(V1[:40] + V2[:30])
    assert close(users[0]["median"], np.percentile(alice, 50) * 1000)
    assert close(users[0]["p95"], np.percentile(alice, 95) * 1000)


def test_status_codes(store: Store, data: int) -> None:
    with store.read() as conn:
        table = q.status_table(conn, store.tables, data, WHOLE)
        days = q.status_by_bucket(conn, store.tables, data, DatePeriod(A.date(), B.date() + timedelta(days=3), "UTC"))
        local = q.status_by_bucket(conn, store.tables, data, DatePeriod(A.date(), B.date() + timedelta(days=3),
                                                                         "Europe/Amsterdam"))
        hours = q.status_by_bucket(conn, store.tables, data, DatePeriod.of_span(WHOLE, "UTC"))
    assert [(r["status"], r["hits"]) for r in table] == [(200, 85), (404, 5), (500, 5), (503, 10)]
    assert sum(r["share"] for r in table) == pytest.approx(1.0) and table[0]["share"] == pytest.approx(85 / 105)
    assert {(r["time"], r["status"]): r["hits"] for r in days} == {
        ("2024-03-04", "200"): 55, ("2024-03-04", "404"): 5, ("2024-03-04", "500"): 5,
        ("2024-03-05", "200"): 30, ("2024-03-05", "503"): 10}
    # Local days: the range covers Amsterdam's 4th (from 01:00) to the 6th (00:00-01:00).
    assert {(r["time"], r["status"]): r["hits"] for r in local}[("2024-03-06", "503")] == 10
    assert sum(r["hits"] for r in hours) == 105
    assert {r["time"] for r in hours} == {(A + timedelta(hours=h)).strftime("%Y-%m-%d %H:00") for h in (9, 14, 15)} | {
        (B + timedelta(hours=h)).strftime("%Y-%m-%d %H:00") for h in (10, 23)}


def test_versions_table(store: Store, data: int) -> None:
    with store.read() as conn:
        rows = q.versions_table(conn, store.tables, data, WHOLE)
        assert q.versions_table(conn, store.tables, data, TimeRange(A - timedelta(days=1), A)) == []
    assert [(r["version"], r["hits"]) for r in rows] == [("1.0", 65), ("2.0", 40)]
    assert rows[0]["first_seen"] == A + timedelta(hours=9) and rows[0]["last_seen"] == A + timedelta(hours=16)
    assert rows[1]["first_seen"] == B + timedelta(hours=10) and rows[1]["last_seen"] == B + timedelta(days=1)
    assert rows[0]["error_rate"] == pytest.approx(5 / 65) and rows[1]["error_rate"] == pytest.approx(10 / 40)
    m1, m2 = (np.percentile(durations(v), 50) * 1000 for v in (V1, V2))
    assert close(rows[0]["median_ms"], m1) and close(rows[1]["median_ms"], m2)
    assert close(rows[1]["p95_ms"], np.percentile(durations(V2), 95) * 1000)
    assert rows[0]["median_change"] is None
    assert rows[1]["median_change"] == pytest.approx(rows[1]["median_ms"] / rows[0]["median_ms"] - 1)
    assert rows[1]["median_change"] == pytest.approx(m2 / m1 - 1, abs=0.06)


def test_day_span_rounds_to_whole_utc_days() -> None:
    assert q.day_span(TimeRange(A, A + timedelta(days=2))) == (A, A + timedelta(days=2))
    # Amsterdam's 5 March is 4 March 23:00 UTC .. 5 March 23:00 UTC: it reads UTC day 5 March.
    assert q.day_span(TimeRange(A + timedelta(hours=23), B + timedelta(hours=23))) == (B, B + timedelta(days=1))
    # New York's 4 March (05:00 .. 05:00 UTC) reads UTC day 4 March.
    assert q.day_span(TimeRange(A + timedelta(hours=5), B + timedelta(hours=5))) == (A, B)
    # A few hours that hold no noon read the day they touch.
    assert q.day_span(TimeRange(A + timedelta(hours=13), A + timedelta(hours=20))) == (A, B)


def test_unknown_endpoint_and_empty_range_give_empty_rows(store: Store, data: int) -> None:
    nothing = TimeRange(A - timedelta(days=5), A - timedelta(days=4))
    with store.read() as conn:
        for eid, rng in ((data, nothing), (10_000, WHOLE)):
            assert q.users_by_version(conn, store.tables, eid, rng) == []
            assert q.ips_by_version(conn, store.tables, eid, rng) == []
            assert q.durations_by_version(conn, store.tables, eid, rng) == []
            assert q.durations_by_user(conn, store.tables, eid, rng) == []
            assert q.status_table(conn, store.tables, eid, rng) == []
            assert q.status_by_bucket(conn, store.tables, eid, DatePeriod.of_span(rng, "UTC")) == []
            assert sum(c["hits"] for c in q.hits_by_hour_of_day(conn, store.tables, eid, rng, "UTC")) == 0
