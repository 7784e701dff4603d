"""The overview table: one row per endpoint with hit counts, percentiles, error rate and last request.

The fixed-window counts (today, 7 days, all time) come from ``rollup_day`` in one pass (conditional sums) plus
the hours of at most two partial days; everything over the chosen range (requests per bucket, 5xx share,
percentiles, the change of p95) from ``trends``, in a fixed number of rollup reads: never from raw request rows.
The endpoint list is small (one row per route), so the name filter and the sorting happen here in Python:
every column sorts the same way on every database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import (ColumnElement, Connection, Select, Table, case, func, literal_column, or_,
                        select)

from ..store.models import Tables
from .exceptions import open_groups_by_endpoint
from .trends import Headline, trends
from ._range import DatePeriod, ceil_day, floor_hour, local_midnight_utc, local_today

#: Sortable columns, in table order. "requests", "median", "p95", "change" and "errors" follow the chosen range.
SORT_KEYS = ("name", "level", "today", "week", "total", "requests", "median", "p95", "change", "errors", "last",
             "exceptions")
#: The default range of the range columns (local days ending today) and the window of the "week" column.
STATS_DAYS = 7


def endpoints(conn: Connection, t: Tables) -> list[dict]:
    """Every stored endpoint: id, name, level, first and last requested (naive UTC)."""
    e = t.endpoint
    stmt = select(e.c.id, e.c.name, e.c.monitor_level, e.c.first_requested, e.c.last_requested).order_by(e.c.id)
    return [{"id": r[0], "name": r[1], "level": r[2], "first": r[3], "last": r[4]} for r in conn.execute(stmt)]


def endpoint_by_id(conn: Connection, t: Tables, endpoint_id: int) -> dict | None:
    """One endpoint (as in ``endpoints``) or None."""
    if not 0 <= endpoint_id < 2**31:  # ids are 32-bit; a bigger one (from a URL) would overflow SQLite's binding
        return None
    e = t.endpoint
    row = conn.execute(select(e.c.id, e.c.name, e.c.monitor_level, e.c.first_requested, e.c.last_requested)
                       .where(e.c.id == endpoint_id)).first()
    return None if row is None else {"id": row[0], "name": row[1], "level": row[2], "first": row[3], "last": row[4]}


def name_matches(name: str, needle: str) -> bool:
    """Case-insensitive substring match used by the overview filter."""
    return needle.casefold() in name.casefold()


def filter_endpoints(rows: list[dict], needle: str) -> list[dict]:
    return [r for r in rows if name_matches(r["name"], needle)] if needle else rows


def hit_counts(conn: Connection, t: Tables, today_start: datetime, week_start: datetime,
               endpoint_ids: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
    """endpoint id -> hits today, since *week_start* and all time.

    "Since a moment" is the whole UTC days from the next midnight on (``rollup_day``, one pass over the daily
    rows, which also gives "all time") plus the hours before that midnight (``rollup_hour``, at most a day).
    """
    week_day, today_day = ceil_day(week_start), ceil_day(today_start)
    ids = sorted(set(endpoint_ids)) if endpoint_ids is not None else None
    out: dict[int, dict[str, int]] = {}

    def add(stmt: Select, table: Table) -> None:
        if ids is not None:
            stmt = stmt.where(table.c.endpoint_id.in_(ids))
        for eid, total, week, today in conn.execute(stmt.group_by(table.c.endpoint_id)):
            c = out.setdefault(eid, {"total": 0, "week": 0, "today": 0})
            c["total"] += int(total or 0)
            c["week"] += int(week or 0)
            c["today"] += int(today or 0)

    d = t.rollup_day
    add(_sums(d, d.c.day >= week_day, d.c.day >= today_day, func.sum(d.c["count"])), d)
    h = t.rollup_hour
    week, today = _between(h.c.hour, week_start, week_day), _between(h.c.hour, today_start, today_day)
    # "total" comes from the days alone: every hour is inside a day already counted.
    add(_sums(h, week, today, literal_column("0")).where(or_(week, today)), h)
    return out


def _between(column: ColumnElement, start: datetime, end: datetime) -> ColumnElement:
    return (column >= start) & (column < end)


def _sums(table: Table, week: ColumnElement, today: ColumnElement, total: ColumnElement) -> Select:
    """SELECT endpoint_id, total, week and today sums of one counter table."""
    n = table.c["count"]
    return select(table.c.endpoint_id, total, func.sum(case((week, n), else_=0)), func.sum(case((today, n), else_=0)))


def overview(conn: Connection, t: Tables, now: datetime, tz: str, period: DatePeriod | None = None,
             needle: str = "", endpoint_ids: Sequence[int] | None = None) -> tuple[list[dict], Headline]:
    """The overview's rows for the endpoints whose name contains *needle* (and among *endpoint_ids*), unsorted,
    and the headline figures of those endpoints over *period* (default: the last STATS_DAYS local days).

    Each row: id, name, level, today, week, total (hits), last (UTC), exceptions (open exception groups with an
    occurrence on the endpoint, any time), and over *period*: requests, buckets (bucket index of
    ``period.edges()`` -> requests, non-zero only), median and p95 (seconds, None without requests), errors
    (share of 5xx, None without requests), p95_previous (the previous period's) and change (p95 / p95_previous
    - 1, None when either is missing).
    """
    period = period or DatePeriod.last_days(STATS_DAYS, now, tz)
    rows = filter_endpoints(endpoints(conn, t), needle)
    if endpoint_ids is not None:
        wanted = set(endpoint_ids)
        rows = [r for r in rows if r["id"] in wanted]
    if not rows:
        return [], trends(conn, t, period, []).headline
    ids = [r["id"] for r in rows]
    everything = not needle and endpoint_ids is None
    today = local_today(now, tz)
    today_start = floor_hour(local_midnight_utc(today, tz))
    week_start = DatePeriod.last_days(STATS_DAYS, now, tz).utc.start
    # Without a filter every endpoint is wanted: a plain scan beats a long IN list on the rollup table.
    counts = hit_counts(conn, t, today_start, week_start, None if everything else ids)
    found = trends(conn, t, period, ids, every_endpoint=everything)
    # One grouped read of the (small) exception tables, whatever the number of endpoints or requests.
    opened = open_groups_by_endpoint(conn, t)
    out = []
    for row in rows:
        c = counts.get(row["id"], {})
        tr = found.endpoints[row["id"]]
        out.append({"id": row["id"], "name": row["name"], "level": row["level"], "today": c.get("today", 0),
                    "week": c.get("week", 0), "total": c.get("total", 0), "requests": tr.requests,
                    "buckets": tr.buckets, "median": tr.median, "p95": tr.p95, "errors": tr.error_rate,
                    "p95_previous": tr.p95_previous, "change": tr.p95_change, "last": row["last"],
                    "exceptions": opened.get(row["id"], 0)})
    return out, found.headline


def overview_rows(conn: Connection, t: Tables, now: datetime, tz: str, needle: str = "",
                  endpoint_ids: Sequence[int] | None = None, period: DatePeriod | None = None) -> list[dict]:
    """The rows of ``overview`` alone."""
    return overview(conn, t, now, tz, period, needle, endpoint_ids)[0]


def sort_rows(rows: list[dict], key: str, descending: bool = False) -> list[dict]:
    """Rows sorted by one column (names case-insensitively, numbers as numbers); missing values always last."""
    if key not in SORT_KEYS:
        raise ValueError(f"cannot sort by {key!r}; choose one of {', '.join(SORT_KEYS)}")
    by_name = sorted(rows, key=lambda r: (r["name"].casefold(), r["name"]))
    if key == "name":
        return by_name[::-1] if descending else by_name
    present = [r for r in by_name if r[key] is not None]
    missing = [r for r in by_name if r[key] is None]

    def value(row: dict) -> Any:
        return row[key]

    # sorted() is stable, so equal values stay in name order in both directions.
    return sorted(present, key=value, reverse=descending) + missing
