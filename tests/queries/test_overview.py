"""The overview's rows from known requests on SQLite, PostgreSQL and MariaDB: exact counts, percentiles
within the histogram's resolution, the 5xx share, the time-zone boundary of "today", sorting and filtering."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from fmd.queries import overview
from fmd.store.histogram import R
from rollup_data import record

NOW = datetime(2024, 3, 10, 12, 30)
#: A percentile read from the histogram lies in the bucket of the exact order statistic: within one bucket.
BUCKET = R - 1


def beta_durations() -> np.ndarray:
    """1000 durations spread log-uniformly from 1 ms to 1 s (shuffled, fixed seed)."""
    rng = np.random.default_rng(7)
    return np.exp(rng.uniform(np.log(0.001), np.log(1.0), 1000))


@pytest.fixture
def rows(store):  # noqa: ANN001, ANN201
    today = datetime(2024, 3, 10, 8, 0)
    records = [("alpha", 0.010, today + timedelta(minutes=i), 200) for i in range(3)]
    records += [("alpha", 0.020, datetime(2024, 3, 6, 10, i), 500 if i < 2 else 200) for i in range(5)]
    records += [("alpha", 0.030, datetime(2024, 1, 1, 9, i), 404) for i in range(4)]
    beta = beta_durations()
    start = datetime(2024, 3, 8)
    records += [("beta", float(d), start + timedelta(minutes=3 * i), 200) for i, d in enumerate(beta)]
    record(store, records, endpoints=["gamma"])
    with store.read() as conn:
        return {r["name"]: r for r in overview.overview_rows(conn, store.tables, NOW, "UTC")}


def test_counts_are_exact(rows) -> None:  # noqa: ANN001
    alpha, beta, gamma = rows["alpha"], rows["beta"], rows["gamma"]
    assert (alpha["today"], alpha["week"], alpha["total"]) == (3, 8, 12)
    # beta: one request every 3 minutes from March 8th 00:00: 480 on each of the 8th and 9th, 40 on the 10th.
    assert (beta["today"], beta["week"], beta["total"]) == (40, 1000, 1000)
    assert (gamma["today"], gamma["week"], gamma["total"]) == (0, 0, 0)
    assert alpha["errors"] == pytest.approx(2 / 8) and beta["errors"] == 0 and gamma["errors"] is None
    assert alpha["level"] == 1 and alpha["last"] == datetime(2024, 3, 10, 8, 2)
    assert gamma["median"] is None and gamma["p95"] is None and gamma["last"] is None


def test_percentiles_within_one_bucket(rows) -> None:  # noqa: ANN001
    beta = beta_durations()
    for key, q in (("median", 0.5), ("p95", 0.95)):
        exact = float(np.quantile(beta, q, method="inverted_cdf"))
        assert abs(rows["beta"][key] / exact - 1) <= BUCKET, key
    # alpha's last 7 days: three requests of 10 ms and five of 20 ms.
    assert rows["alpha"]["median"] == pytest.approx(0.020, rel=BUCKET)
    assert rows["alpha"]["p95"] == pytest.approx(0.020, rel=BUCKET)


def test_today_starts_at_local_midnight(store) -> None:  # noqa: ANN001
    # 04:30 UTC on March 10th is still March 9th in New York (UTC-5 until 2 a.m. local that day).
    record(store, [("tz", 0.01, datetime(2024, 3, 10, 4, 30), 200), ("tz", 0.01, datetime(2024, 3, 10, 5, 30), 200)])
    with store.read() as conn:
        utc = overview.overview_rows(conn, store.tables, NOW, "UTC")[0]
        ny = overview.overview_rows(conn, store.tables, NOW, "America/New_York")[0]
    assert utc["today"] == 2 and ny["today"] == 1


def test_filter_and_ids(store) -> None:  # noqa: ANN001
    ids = record(store, [("api.items", 0.01, NOW, 200), ("API.item", 0.01, NOW, 200), ("index", 0.01, NOW, 200)])
    with store.read() as conn:
        names = {r["name"] for r in overview.overview_rows(conn, store.tables, NOW, "UTC", "api")}
        assert names == {"api.items", "API.item"}
        assert overview.overview_rows(conn, store.tables, NOW, "UTC", "nothing like it") == []
        one = overview.overview_rows(conn, store.tables, NOW, "UTC", endpoint_ids=[ids["index"]])
        assert [r["name"] for r in one] == ["index"] and one[0]["total"] == 1
        assert overview.endpoint_by_id(conn, store.tables, ids["index"])["name"] == "index"
        assert overview.endpoint_by_id(conn, store.tables, 10**6) is None


def _row(name: str, **values) -> dict:  # noqa: ANN003
    base = {"id": 1, "name": name, "level": 1, "today": 0, "week": 0, "total": 0, "median": None, "p95": None,
            "errors": None, "last": None}
    return {**base, **values}


def test_sort_numbers_as_numbers_and_missing_last() -> None:
    rows = [_row("a", total=9, median=0.5), _row("b", total=10, median=None), _row("C", total=100, median=0.05)]
    assert [r["name"] for r in overview.sort_rows(rows, "total")] == ["a", "b", "C"]
    assert [r["name"] for r in overview.sort_rows(rows, "total", True)] == ["C", "b", "a"]
    assert [r["name"] for r in overview.sort_rows(rows, "median")] == ["C", "a", "b"]
    assert [r["name"] for r in overview.sort_rows(rows, "median", True)] == ["a", "C", "b"]
    assert [r["name"] for r in overview.sort_rows(rows, "name")] == ["a", "b", "C"]  # case-insensitive
    assert [r["name"] for r in overview.sort_rows(rows, "name", True)] == ["C", "b", "a"]
    with pytest.raises(ValueError, match="cannot sort by"):
        overview.sort_rows(rows, "nope")


def test_every_sort_key_works(rows) -> None:  # noqa: ANN001
    for key in overview.SORT_KEYS:
        for descending in (False, True):
            assert {r["name"] for r in overview.sort_rows(list(rows.values()), key, descending)} == set(rows)


def test_open_exception_groups_per_endpoint(store) -> None:  # noqa: ANN001
    from exception_data import group

    ids = record(store, [("alpha", 0.01, datetime(2024, 3, 10, 8), 500)], endpoints=["beta"])
    alpha = ids["alpha"]
    day = datetime(2024, 3, 10)
    group(store, "KeyError", [(day, alpha, "1.0", 2), (day - timedelta(days=1), alpha, "1.0", 1)])
    group(store, "ValueError", [(datetime(2023, 1, 1), alpha, "0.1", 1)])  # any time counts
    group(store, "TypeError", [(day, alpha, "1.0", 1)], resolved_at=day, resolved_versions=["1.0"])  # resolved
    group(store, "OSError", [(day, 0, "1.0", 1)])  # outside a request: on no endpoint's row
    with store.read() as conn:
        rows = {r["name"]: r for r in overview.overview_rows(conn, store.tables, NOW, "UTC")}
        only = overview.overview_rows(conn, store.tables, NOW, "UTC", "alp")
    assert rows["alpha"]["exceptions"] == 2 and rows["beta"]["exceptions"] == 0
    assert only[0]["exceptions"] == 2
    ranked = overview.sort_rows(list(rows.values()), "exceptions", True)
    assert [r["name"] for r in ranked] == ["alpha", "beta"]
