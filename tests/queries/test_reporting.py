"""Reading a report's data from the rollups: periods (with partial edge days), versions, errors, parsing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from fmd.queries import reporting as q
from fmd.queries._range import TimeRange
from fmd.reports import histogram_of
from fmd.store.histogram import bucket_of
from rollup_data import record

# A Monday, so that "this week" starts at midnight of NOW's day.
NOW = datetime(2024, 3, 11, 15, 30)


def durations(n: int, median: float, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [median * rnd.lognormvariate(0, 0.4) for _ in range(n)]


def test_a_period_reads_counts_errors_and_histograms_across_day_edges(store) -> None:  # noqa: ANN001
    # 2024-03-03 22:00 .. 2024-03-05 02:00: two partial days at the edges and one whole day.
    start = datetime(2024, 3, 3, 22)
    base = durations(100, 0.05, 1)
    records = [("api.a", d, start + timedelta(minutes=16 * i), 500 if i % 10 == 0 else 200) for i, d in enumerate(base)]
    records += [("api.a", 9.0, start - timedelta(hours=1), 200), ("api.b", 0.1, start + timedelta(days=5), 200)]
    ids = record(store, records)
    rng = TimeRange(start, datetime(2024, 3, 5, 2))
    assert start + timedelta(minutes=16 * 99) < rng.end
    with store.read() as conn:
        sides = q._read_period(conn, store.tables, rng, list(ids.values()))
    assert set(sides) == {ids["api.a"]}
    side = sides[ids["api.a"]]
    assert side.requests == 100 and side.errors == 10
    assert side.hist == histogram_of(base)


def test_versions_read_every_day_they_were_seen_and_are_listed_newest_first(store) -> None:  # noqa: ANN001
    old = durations(50, 0.05, 2)
    new = durations(60, 0.08, 3)
    record(store, [("api.a", d, NOW - timedelta(days=3, minutes=i), 200) for i, d in enumerate(old)], version="1.0")
    ids = record(store, [("api.a", d, NOW - timedelta(hours=30 * (i % 2), minutes=i), 503 if i < 6 else 200)
                         for i, d in enumerate(new)], version="1.1")
    with store.read() as conn:
        present = q.versions_present(conn, store.tables)
        base, cand = q.read(conn, store.tables, q.versions("1.0", "1.1"))
        none, _ = q.read(conn, store.tables, q.versions("0.9", "1.1"))
    assert [row["version"] for row in present] == ["1.1", "1.0"]
    assert [row["requests"] for row in present] == [60, 50]
    eid = ids["api.a"]
    assert base[eid].requests == 50 and base[eid].errors == 0 and base[eid].hist == histogram_of(old)
    assert cand[eid].requests == 60 and cand[eid].errors == 6 and cand[eid].hist == histogram_of(new)
    assert none == {}


def test_report_finds_a_known_regression_between_versions(store) -> None:  # noqa: ANN001
    rows = []
    for version, median, seed in (("1.0", 0.05, 4), ("1.1", 0.065, 5)):
        for name, m in (("slow", median), ("same", 0.02)):
            rows.append((version, [(name, d, NOW - timedelta(minutes=i), 200)
                                   for i, d in enumerate(durations(300, m, seed))]))
    ids: dict[str, int] = {}
    for version, records in rows:
        ids.update(record(store, records, version=version))
    with store.read() as conn:
        rep = q.report(conn, store.tables, q.versions("1.0", "1.1"))
    assert [e.name for e in rep.regressions] == ["slow"]
    assert rep.regressions[0].key == ids["slow"] and rep.outcome == "regression"
    assert rep.endpoints[1].name == "same" and rep.endpoints[1].verdict == "unchanged"


def test_quick_picks_cover_the_same_hours_on_both_sides() -> None:
    last = q.last_24_hours(NOW)
    assert last.candidate == TimeRange(datetime(2024, 3, 10, 16), datetime(2024, 3, 11, 16))
    assert last.baseline == TimeRange(datetime(2024, 3, 9, 16), datetime(2024, 3, 10, 16))
    assert last.candidate_hours == pytest.approx(23.5) and last.baseline_hours == 24
    today = q.today(NOW, "UTC")
    assert today.candidate == TimeRange(datetime(2024, 3, 11), datetime(2024, 3, 11, 16))
    assert today.baseline == TimeRange(datetime(2024, 3, 10), datetime(2024, 3, 10, 16))
    week = q.this_week(NOW, "UTC")
    assert week.candidate.start == datetime(2024, 3, 11) and week.baseline.start == datetime(2024, 3, 4)
    assert week.baseline.end - week.baseline.start == week.candidate.end - week.candidate.start
    # In New York (UTC-4 after 2024-03-10) today starts at 04:00 UTC; yesterday (UTC-5) at 05:00 UTC.
    ny = q.today(NOW, "America/New_York")
    assert ny.candidate.start == datetime(2024, 3, 11, 4) and ny.baseline.start == datetime(2024, 3, 10, 5)


def test_parse_range_dates_times_offsets_and_errors() -> None:
    assert q.parse_range("2024-03-04..2024-03-05", "UTC") == TimeRange(datetime(2024, 3, 4), datetime(2024, 3, 6))
    assert q.parse_range("2024-03-04T10:30..2024-03-04T12:00", "UTC") == TimeRange(
        datetime(2024, 3, 4, 10), datetime(2024, 3, 4, 12))
    assert q.parse_range("2024-03-04T10:00+02:00..2024-03-04T12:00Z", "UTC").start == datetime(2024, 3, 4, 8)
    assert q.parse_range("2024-03-04..2024-03-04", "Europe/Paris").start == datetime(2024, 3, 3, 23)
    for bad, words in [("2024-03-04", "START..END"), ("2024-03-04..", "both"), ("yesterday..today", "not a date"),
                       ("2024-03-05..2024-03-04", "before it starts"), ("2024-02-30..2024-03-01", "not a date"),
                       ("1990-01-01..1990-01-02", "between"), ("2020-01-01..2024-01-01", "at most")]:
        with pytest.raises(ValueError, match=words):
            q.parse_range(bad, "UTC")
    with pytest.raises(ValueError, match="same version"):
        q.versions("1.0", "1.0")


def test_bucket_edges_match_the_writer() -> None:
    # The report's histograms and the writer's must agree bucket for bucket (histogram_of is the writer's rule).
    assert histogram_of([0.05, 0.05, 1.0]) == {bucket_of(0.05): 2, bucket_of(1.0): 1}
