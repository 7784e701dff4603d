"""The overview table: one row per endpoint with hit counts, percentiles, error rate and last request.

Counts come from ``rollup_day`` in one pass (conditional sums) plus the hours of at most two partial days,
percentiles from the duration histograms (see ``_histograms``): never from raw request rows. The endpoint
list is small (one row per route), so the name filter and the sorting happen here in Python: every column
sorts the same way on every database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import (ColumnElement, Connection, Select, Table, case, func, literal_column, or_,
                        select)

from ..store.models import Tables
from ._histograms import by_first, histograms, percentiles
from .exceptions import open_groups_by_endpoint
from ._range import DatePeriod, ceil_day, floor_hour, local_midnight_utc, local_today

#: Sortable columns, in table order: key -> how a row's value is read.
SORT_KEYS = ("name", "level", "today", "week", "total", "median", "p95", "errors", "last", "exceptions")
#: The window of the percentile and error-rate columns (local days ending today).
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
    """endpoint id -> hits today, since *week_start*, all time, and 5xx since *week_start*.

    "Since a moment" is the whole UTC days from the next midnight on (``rollup_day``, one pass over the daily
    rows, which also gives "all time") plus the hours before that midnight (``rollup_hour``, at most a day).
    """
    week_day, today_day = ceil_day(week_start), ceil_day(today_start)
    ids = sorted(set(endpoint_ids)) if endpoint_ids is not None else None
    out: dict[int, dict[str, int]] = {}

    def add(stmt: Select, table: Table) -> None:
        if ids is not None:
            stmt = stmt.where(table.c.endpoint_id.in_(ids))
        for eid, total, week, today, errors in conn.execute(stmt.group_by(table.c.endpoint_id)):
            c = out.setdefault(eid, {"total": 0, "week": 0, "today": 0, "errors_week": 0})
            c["total"] += int(total or 0)
            c["week"] += int(week or 0)
            c["today"] += int(today or 0)
            c["errors_week"] += int(errors or 0)

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
    """SELECT endpoint_id, total, week, today and 5xx-in-week sums of one counter table."""
    n = table.c["count"]
    return select(table.c.endpoint_id, total, func.sum(case((week, n), else_=0)),
                  func.sum(case((today, n), else_=0)),
                  func.sum(case(((table.c.status_code >= 500) & week, n), else_=0)))


def overview_rows(conn: Connection, t: Tables, now: datetime, tz: str, needle: str = "",
                  endpoint_ids: Sequence[int] | None = None) -> list[dict]:
    """The overview's rows for the endpoints whose name contains *needle* (and among *endpoint_ids*), unsorted.

    Each row: id, name, level, today, week, total (hits), median and p95 (seconds, last STATS_DAYS local
    days, None without requests), errors (share of 5xx in those days, None without requests), last (UTC),
    exceptions (open exception groups with an occurrence on the endpoint, any time).
    """
    rows = filter_endpoints(endpoints(conn, t), needle)
    if endpoint_ids is not None:
        wanted = set(endpoint_ids)
        rows = [r for r in rows if r["id"] in wanted]
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    today = local_today(now, tz)
    period = DatePeriod.last_days(STATS_DAYS, now, tz)
    today_start = floor_hour(local_midnight_utc(today, tz))
    week_start = period.utc.start
    # Without a filter every endpoint is wanted: a plain scan beats a long IN list on the rollup table.
    counts = hit_counts(conn, t, today_start, week_start, ids if needle or endpoint_ids is not None else None)
    hists = by_first(histograms(conn, t, period.utc, ids))
    # One grouped read of the (small) exception tables, whatever the number of endpoints or requests.
    opened = open_groups_by_endpoint(conn, t)
    out = []
    for row in rows:
        c = counts.get(row["id"], {})
        qs = percentiles(hists.get(row["id"]), (0.5, 0.95))
        week = c.get("week", 0)
        out.append({"id": row["id"], "name": row["name"], "level": row["level"], "today": c.get("today", 0),
                    "week": week, "total": c.get("total", 0), "median": qs[0] if qs else None,
                    "p95": qs[1] if qs else None,
                    "errors": c.get("errors_week", 0) / week if week else None, "last": row["last"],
                    "exceptions": opened.get(row["id"], 0)})
    return out


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
