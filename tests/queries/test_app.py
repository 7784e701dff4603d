"""Application-wide chart data from known requests, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest

from fmd.queries import app
from fmd.queries._histograms import histograms
from fmd.queries._range import DatePeriod
from fmd.store.histogram import R
from rollup_data import record

WEEK = DatePeriod(date(2024, 3, 4), date(2024, 3, 10), "UTC")
BUCKET = R - 1


@pytest.fixture
def busy(store):  # noqa: ANN001, ANN201
    """Four endpoints with 40, 30, 20 and 10 requests on March 5th (10:00 UTC), plus one outside the week."""
    records = []
    for name, count in (("a", 40), ("b", 30), ("c", 20), ("d", 10)):
        records += [(name, 0.01 * (i + 1), datetime(2024, 3, 5, 10, i % 60), 500 if i % 10 == 0 else 200)
                    for i in range(count)]
    records.append(("a", 0.5, datetime(2024, 3, 11, 0, 0), 200))  # first hour after the week
    record(store, records)
    return store


def test_heatmap_cells_and_empty_ranges(busy) -> None:  # noqa: ANN001
    empty = DatePeriod(date(2023, 1, 1), date(2023, 1, 7), "UTC")
    with busy.read() as conn:
        cells = app.hits_by_hour_of_day(conn, busy.tables, WEEK)
        for query in (app.hits_by_day, app.hits_by_version, app.durations_by_endpoint, app.status_by_day):
            assert query(conn, busy.tables, empty) == []
        assert app.hits_by_hour_of_day(conn, busy.tables, empty) == []  # the empty state, not a grid of zeros
    assert len(cells) == 7 * 24
    assert {(c["day"], c["hour"]): c["hits"] for c in cells if c["hits"]} == {("2024-03-05", 10): 100}


def test_heatmap_in_a_time_zone(store) -> None:  # noqa: ANN001
    record(store, [("x", 0.01, datetime(2024, 3, 5, 23, 30), 200)])  # 00:30 on March 6th in Amsterdam
    with store.read() as conn:
        cells = app.hits_by_hour_of_day(conn, store.tables, DatePeriod(date(2024, 3, 4), date(2024, 3, 10),
                                                                       "Europe/Amsterdam"))
    assert [(c["day"], c["hour"]) for c in cells if c["hits"]] == [("2024-03-06", 0)]


def test_daily_top_and_other(busy) -> None:  # noqa: ANN001
    with busy.read() as conn:
        rows = app.hits_by_day(conn, busy.tables, WEEK, top=2)
        ids = {name: e for e, name in app.endpoint_names(conn, busy.tables).items()}
    assert rows == [{"day": "2024-03-05", "endpoint": "a", "endpoint_id": ids["a"], "other": False, "hits": 40},
                    {"day": "2024-03-05", "endpoint": "b", "endpoint_id": ids["b"], "other": False, "hits": 30},
                    {"day": "2024-03-05", "endpoint": "other (2 endpoints)", "endpoint_id": None, "other": True,
                     "hits": 30}]


def test_daily_days_follow_the_time_zone(store) -> None:  # noqa: ANN001
    record(store, [("x", 0.01, datetime(2024, 3, 5, 23, 30), 200), ("x", 0.01, datetime(2024, 3, 5, 22, 30), 200),
                   ("y", 0.01, datetime(2024, 3, 10, 22, 59), 200)])  # Amsterdam: March 6th, 5th, 10th 23:59
    period = DatePeriod(date(2024, 3, 4), date(2024, 3, 10), "Europe/Amsterdam")
    with store.read() as conn:
        rows = app.hits_by_day(conn, store.tables, period)
    assert [(r["day"], r["endpoint"], r["hits"]) for r in rows] == [
        ("2024-03-05", "x", 1), ("2024-03-06", "x", 1), ("2024-03-10", "y", 1)]


def test_versions_share_and_order(store) -> None:  # noqa: ANN001
    record(store, [("e", 0.01, datetime(2024, 3, 5, 1), 200)] * 3, version="1.0")
    ids = record(store, [("e", 0.01, datetime(2024, 3, 6, 1), 200), ("f", 0.01, datetime(2024, 3, 6, 2), 200)],
                 version="2.0")
    with store.read() as conn:
        rows = app.hits_by_version(conn, store.tables, WEEK)
    e, f = ids["e"], ids["f"]
    assert rows == [
        {"endpoint": "e", "endpoint_id": e, "other": False, "version": "1.0", "hits": 3, "share": 0.75, "order": 0},
        {"endpoint": "e", "endpoint_id": e, "other": False, "version": "2.0", "hits": 1, "share": 0.25, "order": 1},
        {"endpoint": "f", "endpoint_id": f, "other": False, "version": "2.0", "hits": 1, "share": 1.0, "order": 1}]


def test_many_versions_fold_the_oldest(store) -> None:  # noqa: ANN001
    for i in range(app.TOP_VERSIONS + 2):
        record(store, [("e", 0.01, datetime(2024, 3, 5, i), 200)], version=f"v{i:02d}")
    with store.read() as conn:
        rows = app.hits_by_version(conn, store.tables, WEEK)
    assert rows[0] == {"endpoint": "e", "endpoint_id": rows[0]["endpoint_id"], "other": False,
                       "version": app.OLDER_VERSIONS, "hits": 2,
                       "share": pytest.approx(2 / 14), "order": 0}
    assert [r["version"] for r in rows[1:]] == [f"v{i:02d}" for i in range(2, app.TOP_VERSIONS + 2)]
    assert sum(r["hits"] for r in rows) == app.TOP_VERSIONS + 2


def test_box_plot_quantiles_within_one_bucket(store) -> None:  # noqa: ANN001
    rng = np.random.default_rng(3)
    durations = {"slow": rng.lognormal(np.log(0.2), 0.5, 600), "fast": rng.lognormal(np.log(0.002), 0.3, 900),
                 "tiny": rng.lognormal(np.log(0.05), 0.3, 50), "rare": rng.lognormal(np.log(0.01), 0.3, 40)}
    start = datetime(2024, 3, 4)
    record(store, [(name, float(d), start + timedelta(minutes=7 * i), 200)
                   for name, values in durations.items() for i, d in enumerate(values)])
    with store.read() as conn:
        rows = app.durations_by_endpoint(conn, store.tables, WEEK, top=2)
    assert [(r["endpoint"], r["hits"], r["other"]) for r in rows] == [
        ("fast", 900, False), ("slow", 600, False), ("other (2 endpoints)", 90, True)]
    with store.read() as conn:
        names = app.endpoint_names(conn, store.tables)
    assert [names.get(r["endpoint_id"]) for r in rows] == ["fast", "slow", None]
    expected = {"fast": durations["fast"], "slow": durations["slow"],
                "other (2 endpoints)": np.concatenate([durations["tiny"], durations["rare"]])}
    for row in rows:
        for key, q in zip(("p5", "q1", "median", "q3", "p95"), app.BOX_QUANTILES):
            exact = float(np.quantile(expected[row["endpoint"]], q, method="inverted_cdf")) * 1000
            assert abs(row[key] / exact - 1) <= BUCKET, (row["endpoint"], key)


def test_histograms_use_days_and_edges_exactly(store) -> None:  # noqa: ANN001
    # New York days start at 05:00 UTC in winter: the range needs hourly edges around whole UTC days.
    times = [datetime(2024, 1, 8, 4, 59), datetime(2024, 1, 8, 5, 0), datetime(2024, 1, 8, 23, 0),
             datetime(2024, 1, 9, 12, 0), datetime(2024, 1, 10, 4, 59), datetime(2024, 1, 10, 5, 0)]
    ids = record(store, [("e", 0.01 * (i + 1), t, 200) for i, t in enumerate(times)])
    period = DatePeriod(date(2024, 1, 8), date(2024, 1, 9), "America/New_York")
    with store.read() as conn:
        hists = histograms(conn, store.tables, period.utc, [ids["e"]])
        hits = app.hits_by_endpoint(conn, store.tables, period)
    assert sum(hists[(ids["e"],)].values()) == 4 == hits[ids["e"]]


def test_status_codes_per_day(busy) -> None:  # noqa: ANN001
    with busy.read() as conn:
        rows = app.status_by_day(conn, busy.tables, WEEK, top=3)
        ids = {name: e for e, name in app.endpoint_names(conn, busy.tables).items()}

    def row(name: str, status: str, hits: int) -> dict:
        other = name.startswith("other")
        return {"endpoint": name, "endpoint_id": None if other else ids[name], "other": other, "unrouted": False,
                "day": "2024-03-05", "status": status, "hits": hits}

    assert rows == [row("a", "200", 36), row("a", "500", 4), row("b", "200", 27), row("b", "500", 3),
                    row("c", "200", 18), row("c", "500", 2),
                    row("other (1 endpoint)", "200", 9), row("other (1 endpoint)", "500", 1)]
