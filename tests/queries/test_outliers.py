"""The Outliers tab's reads on seeded rows, over SQLite, PostgreSQL and MariaDB: paging newest first, the range
filter, endpoint isolation, one outlier in full, the chart rows and the bounded download."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from fmd.queries import outliers as q
from fmd.queries._range import TimeRange
from fmd.store import writes
from fmd.store.engine import Store

A = datetime(2024, 3, 4)
RANGE = TimeRange(A, A + timedelta(days=1))
MB = 1024 * 1024


def outlier(endpoint_id: int, request_id: int, when: datetime, duration: float = 2.0, average: float = 0.5,
            **more: object) -> dict:
    """A stored outlier row (JSON columns as text), defaults filled in."""
    row = {"request_id": request_id, "endpoint_id": endpoint_id, "time_requested": when, "duration": duration,
           "status_code": 200, "version": "1.0", "average": average, "method": "GET", "url": f"/r/{request_id}",
           "request_values": json.dumps({"query": [["q", "1"]], "form": [], "json": None}),
           "request_headers": json.dumps([["Host", "example"]]), "request_environment": json.dumps({"PATH": "/bin"}),
           "stacktrace": json.dumps([{"file": "app.py", "line": 3, "function": "view", "code": "x()", "app": True}]),
           "stack_at": 0.14, "cpu_percent": json.dumps([10.0, 30.0]),
           "memory": json.dumps({"rss": 100 * MB, "system_percent": 40.0, "system_available": 900 * MB}),
           "cut": json.dumps([])}
    row.update(more)
    return row


def seed(store: Store, rows_of: dict[str, list[tuple]]) -> dict[str, int]:
    """Endpoints, one raw request per outlier and the outliers: {name: [(when, extra columns)...]}."""
    t = store.tables
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, sorted(rows_of), {})
        for name, items in rows_of.items():
            for when, extra in items:
                request_id = conn.execute(t.request.insert().values(
                    endpoint_id=ids[name], duration=extra.get("duration", 2.0), time_requested=when,
                    status_code=200)).inserted_primary_key[0]
                conn.execute(t.outlier.insert().values(**outlier(ids[name], request_id, when, **extra)))
    return ids


@pytest.fixture
def ids(store: Store) -> dict[str, int]:
    """ "ep": 42 outliers 40 min apart from A - 1:59 (36 in RANGE: i = 3..38), then one before and one after the
    range; "other": 5 outliers in the range that no read of "ep" may see."""
    ep = [(A + timedelta(minutes=40 * i - 119), {"duration": 1.0 + i / 10}) for i in range(42)]
    ep.append((A - timedelta(days=2), {}))
    ep.append((A + timedelta(days=1), {}))  # the range's end is exclusive
    other = [(A + timedelta(hours=i), {"url": "/other"}) for i in range(5)]
    return seed(store, {"ep": ep, "other": other})


def test_count_and_paging_newest_first(store: Store, ids: dict[str, int]) -> None:
    t = store.tables
    with store.read() as conn:
        total = q.count_outliers(conn, t, ids["ep"], RANGE)
        first = q.outliers_page(conn, t, ids["ep"], RANGE, 1)
        second = q.outliers_page(conn, t, ids["ep"], RANGE, 2)
        beyond = q.outliers_page(conn, t, ids["ep"], RANGE, 3)
        small = q.outliers_page(conn, t, ids["ep"], RANGE, 2, size=10)
    assert total == 36
    assert len(first) == q.PAGE_SIZE == 25 and len(second) == 11 and beyond == []
    times = [row["time_requested"] for row in first + second]
    assert times == sorted(times, reverse=True) and len(set(times)) == 36
    assert times[0] == A + timedelta(hours=23, minutes=21) and times[-1] == A + timedelta(minutes=1)
    assert [row["time_requested"] for row in small] == times[10:20]
    assert all(row["url"] != "/other" for row in first + second)


def test_summary_columns(store: Store, ids: dict[str, int]) -> None:
    with store.read() as conn:
        row = q.outliers_page(conn, store.tables, ids["ep"], RANGE, 1)[0]
    assert row["duration"] == pytest.approx(4.8) and row["average"] == 0.5
    assert row["times_average"] == pytest.approx(9.6)
    assert row["cpu_mean"] == pytest.approx(20.0) and row["rss_mb"] == pytest.approx(100.0)
    assert {"id", "request_id", "status_code", "method", "url", "version"} <= set(row)
    assert "stacktrace" not in row and "request_headers" not in row  # the list reads no details


def test_ties_in_time_page_by_id(store: Store) -> None:
    same = A + timedelta(hours=5)
    ids = seed(store, {"ep": [(same, {}) for _ in range(5)]})
    with store.read() as conn:
        pages = [q.outliers_page(conn, store.tables, ids["ep"], RANGE, n, size=2) for n in (1, 2, 3)]
    got = [row["id"] for page in pages for row in page]
    assert got == sorted(got, reverse=True) and len(set(got)) == 5


def test_one_outlier_in_full_and_only_for_its_endpoint(store: Store, ids: dict[str, int]) -> None:
    t = store.tables
    with store.read() as conn:
        [row] = q.outliers_page(conn, t, ids["ep"], RANGE, 1, size=1)
        full = q.outlier_by_id(conn, t, ids["ep"], row["id"])
        assert q.outlier_by_id(conn, t, ids["other"], row["id"]) is None  # another endpoint's
        assert q.outlier_by_id(conn, t, ids["ep"], 10**9) is None
        assert q.outlier_by_id(conn, t, ids["ep"], 2**70) is None and q.outlier_by_id(conn, t, ids["ep"], -1) is None
    assert full["id"] == row["id"] and full["stack_at"] == pytest.approx(0.14)
    assert full["request_values"] == {"query": [["q", "1"]], "form": [], "json": None}
    assert full["request_headers"] == [["Host", "example"]] and full["request_environment"] == {"PATH": "/bin"}
    assert full["stacktrace"][0]["app"] is True and full["cpu_percent"] == [10.0, 30.0] and full["cut"] == []
    assert full["times_average"] == pytest.approx(row["times_average"]) and full["rss_mb"] == pytest.approx(100.0)


def test_unparseable_json_reads_as_none(store: Store) -> None:
    ids = seed(store, {"ep": [(A + timedelta(hours=1), {"stacktrace": "[{cut off", "cpu_percent": None,
                                                        "memory": "nope", "average": 0.0})]})
    with store.read() as conn:
        [row] = q.outliers_page(conn, store.tables, ids["ep"], RANGE, 1)
        full = q.outlier_by_id(conn, store.tables, ids["ep"], row["id"])
    assert row["cpu_mean"] is None and row["rss_mb"] is None and row["times_average"] is None
    assert full["stacktrace"] is None and full["memory"] is None


def test_chart_rows_are_the_newest_in_range_oldest_first(store: Store, ids: dict[str, int]) -> None:
    t = store.tables
    with store.read() as conn:
        rows = q.resources_of_newest(conn, t, ids["ep"], RANGE)
        few = q.resources_of_newest(conn, t, ids["ep"], RANGE, limit=3)
    assert len(rows) == 36 and [r["time_requested"] for r in rows] == sorted(r["time_requested"] for r in rows)
    assert [r["time_requested"] for r in few] == [r["time_requested"] for r in rows[-3:]]  # the newest three
    boxes = q.cpu_boxes(rows)
    assert [b["core"] for b in boxes] == [0, 1] and boxes[0]["outliers"] == 36
    assert boxes[0]["median"] == 10.0 and boxes[1]["max"] == 30.0 and boxes[1]["mean"] == pytest.approx(30.0)
    points = q.memory_points(rows)
    assert len(points) == 36 and points[0]["rss_mb"] == pytest.approx(100.0) and points[0]["system_percent"] == 40.0


def test_cpu_boxes_quantiles_and_odd_values() -> None:
    rows = [{"cores": [v, 100 - v]} for v in (0.0, 10.0, 20.0, 30.0, 40.0)]
    rows += [{"cores": None}, {"cores": ["x", True]}, {"cores": [50.0, 50.0, 5.0]}]
    boxes = {b["core"]: b for b in q.cpu_boxes(rows)}
    assert boxes[0] == {"core": 0, "outliers": 6, "min": 0.0, "q1": 12.5, "median": 25.0, "q3": 37.5, "max": 50.0,
                        "mean": 25.0}
    assert boxes[1]["outliers"] == 6 and boxes[1]["min"] == 50.0 and boxes[1]["max"] == 100.0
    assert boxes[2] == {"core": 2, "outliers": 1, "min": 5.0, "q1": 5.0, "median": 5.0, "q3": 5.0, "max": 5.0,
                        "mean": 5.0}
    assert q.cpu_boxes([]) == []
    assert q.memory_points([{"id": 1, "time_requested": A, "memory": None}]) == []


def test_download_is_bounded_and_says_so(store: Store, ids: dict[str, int]) -> None:
    t = store.tables
    with store.read() as conn:
        rows, more = q.outliers_for_download(conn, t, ids["ep"], RANGE)
        few, cut = q.outliers_for_download(conn, t, ids["ep"], RANGE, limit=5)
    assert len(rows) == 36 and not more and len(few) == 5 and cut
    assert [r["id"] for r in few] == [r["id"] for r in rows[:5]]  # the newest
    assert set(q.JSON_COLUMNS) <= set(rows[0]) and isinstance(rows[0]["stacktrace"], str)  # still JSON text
    assert all(r["endpoint_id"] == ids["ep"] for r in rows)
