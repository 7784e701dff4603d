"""Trends over a range against hand-computed figures, on SQLite, PostgreSQL and MariaDB: requests per bucket
(per local day, or per hour on a short rolling range), 5xx shares, p95 and its change against the previous
period of the same length, and the headline over all endpoints; also the overview rows that carry them."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from fmd.queries import overview
from fmd.queries._range import DatePeriod
from fmd.queries.trends import Headline, Figures, relative, trends
from fmd.store.histogram import R
from rollup_data import record

NOW = datetime(2024, 3, 10, 12, 30)
#: A percentile read from the histograms is within one bucket of the exact (linearly interpolated) one.
BUCKET = R - 1
WEEK = DatePeriod.last_days(7, NOW, "UTC")  # March 4th to 10th; the previous period is February 26th to March 3rd

ALPHA_NOW = [0.010] * 3 + [0.012] * 2          # March 5th 10:00 (3 x 200), March 9th 15:00 (2 x 500)
ALPHA_BEFORE = [0.020] * 4                     # March 1st (200)
BETA_NOW = [0.040]                             # March 10th 08:00 (200)
GAMMA_BEFORE = [0.005] * 3                     # March 2nd (3 x 500)


def p95(values: list[float]) -> float:
    return float(np.quantile(values, 0.95))


@pytest.fixture
def ids(store):  # noqa: ANN001, ANN201
    records = [("alpha", 0.010, datetime(2024, 3, 5, 10, i), 200) for i in range(3)]
    records += [("alpha", 0.012, datetime(2024, 3, 9, 15, i), 500) for i in range(2)]
    records += [("alpha", 0.020, datetime(2024, 3, 1, 9, i), 200) for i in range(4)]
    records += [("beta", 0.040, datetime(2024, 3, 10, 8, 0), 200)]
    records += [("gamma", 0.005, datetime(2024, 3, 2, 23, i), 500) for i in range(3)]
    records += [("alpha", 9.0, datetime(2024, 1, 1, 9, 0), 500)]  # in neither period
    return record(store, records, endpoints=["delta"])


def test_buckets_counts_and_change_per_endpoint(store, ids) -> None:  # noqa: ANN001
    with store.read() as conn:
        found = trends(conn, store.tables, WEEK, list(ids.values()))
    alpha, beta, gamma, delta = (found.endpoints[ids[n]] for n in ("alpha", "beta", "gamma", "delta"))
    # Buckets are the local days March 4th (0) to 10th (6); only days with requests are kept.
    assert alpha.buckets == {1: 3, 5: 2} and beta.buckets == {6: 1} and gamma.buckets == {} == delta.buckets
    assert (alpha.requests, alpha.errors, alpha.error_rate) == (5, 2, pytest.approx(0.4))
    assert (gamma.requests, gamma.error_rate, delta.p95) == (0, None, None)
    assert alpha.p95 == pytest.approx(p95(ALPHA_NOW), rel=BUCKET)
    assert alpha.median == pytest.approx(float(np.median(ALPHA_NOW)), rel=BUCKET)
    assert alpha.p95_previous == pytest.approx(0.020, rel=BUCKET)
    # About -0.4: 12 ms against 20 ms, each within one histogram bucket.
    exact = p95(ALPHA_NOW) / 0.020 - 1
    assert alpha.p95_change == pytest.approx(exact, abs=3 * BUCKET)
    assert alpha.p95_change < -0.3
    assert beta.p95_change is None and gamma.p95_change is None  # nothing on one side to compare with


def test_headline_against_the_previous_period(store, ids) -> None:  # noqa: ANN001
    with store.read() as conn:
        head = trends(conn, store.tables, WEEK, list(ids.values()), every_endpoint=True).headline
    assert (head.current.requests, head.current.errors) == (6, 2)
    assert (head.previous.requests, head.previous.errors) == (7, 3)
    assert head.requests_change == pytest.approx(6 / 7 - 1)
    assert head.error_rate_change == pytest.approx(2 / 6 - 3 / 7)  # in points: -9.5 pp
    assert head.current.p95 == pytest.approx(p95(ALPHA_NOW + BETA_NOW), rel=BUCKET)
    assert head.previous.p95 == pytest.approx(p95(ALPHA_BEFORE + GAMMA_BEFORE), rel=BUCKET)
    assert head.p95_change == pytest.approx(head.current.p95 / head.previous.p95 - 1)


def test_a_subset_of_endpoints(store, ids) -> None:  # noqa: ANN001
    with store.read() as conn:
        only = trends(conn, store.tables, WEEK, [ids["beta"], ids["gamma"]])
    assert set(only.endpoints) == {ids["beta"], ids["gamma"]}
    head = only.headline
    assert (head.current.requests, head.current.errors, head.previous.requests, head.previous.errors) == (1, 0, 3, 3)
    assert head.error_rate_change == pytest.approx(-1.0)
    assert head.current.p95 == pytest.approx(0.040, rel=BUCKET)


def test_hourly_buckets_on_a_rolling_range(store, ids) -> None:  # noqa: ANN001
    day = DatePeriod.last_hours(24, NOW, "UTC")  # March 9th 12:00 to March 10th 13:00: 25 hours
    assert day.hourly and len(day.edges()) == 26
    with store.read() as conn:
        found = trends(conn, store.tables, day, list(ids.values()))
    # March 9th 15:00 is hour 3, March 10th 08:00 hour 20.
    assert found.endpoints[ids["alpha"]].buckets == {3: 2}
    assert found.endpoints[ids["beta"]].buckets == {20: 1}
    assert found.headline.previous.requests == 0  # March 8th 12:00 to March 9th 12:00: nothing
    assert found.headline.requests_change is None and found.headline.p95_change is None
    assert found.endpoints[ids["alpha"]].p95_change is None


def test_days_are_local_days(store) -> None:  # noqa: ANN001
    # 04:30 UTC on March 10th is still March 9th in New York: bucket 5 of March 4th to 10th there.
    eid = record(store, [("tz", 0.01, datetime(2024, 3, 10, 4, 30), 200)])["tz"]
    with store.read() as conn:
        ny = trends(conn, store.tables, DatePeriod.last_days(7, NOW, "America/New_York"), [eid])
        utc = trends(conn, store.tables, WEEK, [eid])
    assert ny.endpoints[eid].buckets == {5: 1} and utc.endpoints[eid].buckets == {6: 1}


def test_overview_rows_follow_the_range(store, ids) -> None:  # noqa: ANN001
    with store.read() as conn:
        rows, head = overview.overview(conn, store.tables, NOW, "UTC", WEEK)
        day_rows = {r["name"]: r for r in overview.overview_rows(conn, store.tables, NOW, "UTC",
                                                                  period=DatePeriod.last_hours(24, NOW, "UTC"))}
    by_name = {r["name"]: r for r in rows}
    alpha = by_name["alpha"]
    assert (alpha["requests"], alpha["errors"], alpha["buckets"]) == (5, pytest.approx(0.4), {1: 3, 5: 2})
    assert alpha["change"] == pytest.approx(alpha["p95"] / alpha["p95_previous"] - 1)
    assert (alpha["week"], alpha["total"]) == (5, 10)  # the fixed columns do not follow the range
    assert head.current.requests == 6
    assert (day_rows["alpha"]["requests"], day_rows["alpha"]["errors"]) == (2, 1.0)
    assert day_rows["alpha"]["median"] == pytest.approx(0.012, rel=BUCKET)
    ranked = [r["name"] for r in overview.sort_rows(rows, "change", True)]
    assert ranked[0] == "alpha" and set(ranked[1:]) == {"beta", "gamma", "delta"}  # no comparison: last


def test_sort_by_change_puts_missing_last_both_ways() -> None:
    rows = [{"name": n, "change": c} for n, c in (("a", 0.5), ("b", None), ("c", -0.2), ("d", 0.0))]
    assert [r["name"] for r in overview.sort_rows(rows, "change")] == ["c", "d", "a", "b"]
    assert [r["name"] for r in overview.sort_rows(rows, "change", True)] == ["a", "d", "c", "b"]


def test_changes_without_a_base() -> None:
    assert relative(2.0, 1.0) == 1.0 and relative(1.0, 0) is None and relative(None, 1.0) is None
    empty = Headline(Figures(), Figures())
    assert (empty.requests_change, empty.error_rate_change, empty.p95_change) == (None, None, None)
    gone = Headline(Figures(0, 0, None), Figures(10, 1, 0.1))
    assert gone.requests_change == -1.0 and gone.error_rate_change is None


def test_a_range_with_no_previous_period(store) -> None:  # noqa: ANN001
    eid = record(store, [("old", 0.01, datetime(2000, 1, 2, 10), 200)])["old"]
    first = DatePeriod(datetime(2000, 1, 1).date(), datetime(2000, 1, 7).date(), "UTC")
    with store.read() as conn:
        found = trends(conn, store.tables, first, [eid])  # the previous week would start in 1999: none
    assert found.headline.previous == Figures() and found.headline.p95_change is None
    assert found.endpoints[eid].buckets == {1: 1} and found.endpoints[eid].p95_change is None
