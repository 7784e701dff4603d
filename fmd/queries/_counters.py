"""Request counts per time bucket, read from ``rollup_day`` where whole UTC days allow it and from ``rollup_hour``
for the rest, so a chart over months (or "all time") reads ~24 times fewer rows and stays exact.

A chart cuts its range into buckets at hour-aligned *edges* (one bucket per local day in TIMEZONE, or a single
bucket for a range total). Each UTC day that lies inside the range is *assigned* to the bucket holding most of
its hours (its noon), and its daily row is counted there. Hours that fall in a different bucket than their
day's (or whose day is not assigned: the partial days at the range's edges) are *corrections*, read hourly:
their count is added to the bucket they belong to and, when their day was assigned, taken back from that
day's bucket. In UTC the buckets are the days themselves and only the range's partial edge days are read
hourly; with an offset of k hours (New York: 5, India: 5:30 widened to 6) about min(k, 24 - k) hours per
day are, instead of all 24.

Daily rows equal the sum of their hours (the writer folds both from the same requests), so the result equals
a read of the hourly rows alone; ``tests/queries/test_counters.py`` proves it on every database.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy import ColumnElement, Connection, Table, and_, case, func, literal_column, or_, select

from ..store.models import Tables
from ._range import DAY, ceil_day, floor_day

HALF_DAY = timedelta(hours=12)

#: Builds the columns a read groups by (besides the bucket), for the table being read.
GroupBy = Callable[[Table], Sequence[ColumnElement]]
#: Builds extra WHERE clauses (e.g. an endpoint filter) for the table being read.
Filter = Callable[[Table], Sequence[ColumnElement]]


@dataclass(frozen=True)
class Plan:
    """How to read the buckets between *edges*: daily runs and hourly corrections."""

    #: ``(first day, end day, bucket)``: the whole UTC days ``[first, end)`` counted into *bucket*; contiguous.
    days: tuple[tuple[datetime, datetime, int], ...]
    #: ``(start, end, bucket, assigned)``: hours ``[start, end)`` added to *bucket* and, unless *assigned* is
    #: None, taken back from the bucket their days were counted in.
    hours: tuple[tuple[datetime, datetime, int, int | None], ...]


def plan(edges: Sequence[datetime]) -> Plan:
    """The read plan for the buckets ``[edges[i], edges[i+1])`` (ascending, on whole hours)."""
    n = len(edges) - 1
    if n < 1 or edges[0] >= edges[-1]:
        return Plan((), ())
    lo, hi = ceil_day(edges[0]), floor_day(edges[-1])
    runs = []
    # Buckets shorter than a day (an hourly chart) would take each daily row back hour by hour: read hours only.
    hourly = all(b - a < DAY for a, b in zip(edges, edges[1:]))
    for j in range(0 if hourly else n):
        # Days whose noon lies in bucket j, clipped to the days entirely inside the range.
        first = lo if j == 0 else max(lo, ceil_day(edges[j] - HALF_DAY))
        end = hi if j == n - 1 else min(hi, ceil_day(edges[j + 1] - HALF_DAY))
        if first < end:
            runs.append((first, end, j))
    starts = [r[0] for r in runs]
    points = sorted({*edges, *starts, *(r[1] for r in runs)})
    hours: list[tuple[datetime, datetime, int, int | None]] = []
    for a, b in zip(points, points[1:]):
        actual = bisect_right(edges, a) - 1
        i = bisect_right(starts, a) - 1
        assigned = runs[i][2] if i >= 0 and a < runs[i][1] else None
        if actual == assigned:
            continue
        if hours and hours[-1][1] == a and hours[-1][2:] == (actual, assigned):
            hours[-1] = (hours[-1][0], b, actual, assigned)  # one range predicate instead of two
        else:
            hours.append((a, b, actual, assigned))
    return Plan(tuple(runs), tuple(hours))


def interval_index(column: ColumnElement, starts: Sequence[datetime]) -> ColumnElement:
    """SQL: index i of the interval ``[starts[i], starts[i+1])`` holding *column* (callers filter the range)."""
    def node(lo: int, hi: int) -> ColumnElement:
        if hi - lo == 1:
            return literal_column(str(lo))
        mid = (lo + hi) // 2
        return case((column < starts[mid], node(lo, mid)), else_=node(mid, hi))

    return node(0, len(starts))


def counts(conn: Connection, t: Tables, edges: Sequence[datetime], by: GroupBy,
           where: Filter = lambda table: ()) -> dict[tuple, int]:
    """(bucket index, *by values) -> requests in that bucket, for non-zero cells."""
    p = plan(edges)
    out: dict[tuple, int] = defaultdict(int)
    if p.days:
        d = t.rollup_day
        k = interval_index(d.c.day, [run[0] for run in p.days])
        rows = _grouped(conn, d, k, by, [d.c.day >= p.days[0][0], d.c.day < p.days[-1][1], *where(d)])
        for idx, *key, n in rows:
            out[(p.days[int(idx)][2], *key)] += int(n)
    if p.hours:
        h = t.rollup_hour
        k = interval_index(h.c.hour, [span[0] for span in p.hours])
        spans = _spans(h.c.hour, [(a, b) for a, b, _, _ in p.hours])
        for idx, *key, n in _grouped(conn, h, k, by, [spans, *where(h)]):
            _, _, bucket, assigned = p.hours[int(idx)]
            out[(bucket, *key)] += int(n)
            if assigned is not None:
                out[(assigned, *key)] -= int(n)
    return {key: n for key, n in out.items() if n}


def _spans(column: ColumnElement, spans: Sequence[tuple[datetime, datetime]]) -> ColumnElement:
    """SQL: *column* inside one of the ranges *spans*; adjacent ranges become one (an hourly chart: one range)."""
    merged: list[list[datetime]] = []
    for a, b in spans:
        if merged and merged[-1][1] == a:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return or_(*(and_(column >= a, column < b) for a, b in merged))


def _grouped(conn: Connection, table: Table, index: ColumnElement, by: GroupBy,
             clauses: Sequence[ColumnElement]) -> list:
    """Rows (interval index, *by values, sum of count) of *table* under *clauses*."""
    cols = [index.label("k"), *(col.label(f"g{i}") for i, col in enumerate(by(table))), table.c["count"].label("n")]
    inner = select(*cols).where(*clauses).subquery()
    keys = [inner.c.k, *(inner.c[f"g{i}"] for i in range(len(cols) - 2))]
    return conn.execute(select(*keys, func.sum(inner.c.n)).group_by(*keys)).all()


def first_hours(conn: Connection, t: Tables, start: datetime, end: datetime, column: str,
                where: Filter = lambda table: ()) -> dict:
    """*column* value -> the first hour in ``[start, end)`` with a request of it (e.g. a version's first hour)."""
    p = plan([start, end])
    found: dict = {}
    if p.hours:
        h = t.rollup_hour
        spans = or_(*(and_(h.c.hour >= a, h.c.hour < b) for a, b, _, _ in p.hours))
        found.update(conn.execute(select(h.c[column], func.min(h.c.hour)).where(spans, *where(h))
                                  .group_by(h.c[column])).all())
    if p.days:
        d = t.rollup_day
        days = dict(conn.execute(select(d.c[column], func.min(d.c.day))
                                 .where(d.c.day >= p.days[0][0], d.c.day < p.days[-1][1], *where(d))
                                 .group_by(d.c[column])).all())
        # A first day that beats the edge hours: its exact first hour lies inside that day.
        refine: dict[datetime, list] = defaultdict(list)
        for value, day in days.items():
            if value not in found or day < found[value]:
                refine[day].append(value)
        if refine:
            h = t.rollup_hour
            spans = or_(*(and_(h.c[column].in_(values), h.c.hour >= day, h.c.hour < day + timedelta(days=1))
                          for day, values in sorted(refine.items())))
            exact = dict(conn.execute(select(h.c[column], func.min(h.c.hour)).where(spans, *where(h))
                                      .group_by(h.c[column])).all())
            for day, values in refine.items():
                for value in values:
                    # A day whose hours were purged (purge --before inside it) still counts from its start.
                    found[value] = exact.get(value, day)
    return found
