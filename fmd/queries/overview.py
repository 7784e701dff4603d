"""The overview table: one row per endpoint with hit counts, percentiles, error rate and last request.

Counts come from ``rollup_hour`` in one pass (conditional sums), percentiles from the duration histograms
(see ``_histograms``): never from raw request rows. The endpoint list is small (one row per route), so the
name filter and the sorting happen here in Python: every column sorts the same way on every database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, case, func, select

from ..store.models import Tables
from ._histograms import by_first, histograms, percentiles
from ._range import DatePeriod, floor_hour, local_midnight_utc, local_today

#: Sortable columns, in table order: key -> how a row's value is read.
SORT_KEYS = ("name", "level", "today", "week", "total", "median", "p95", "errors", "last")
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
    """endpoint id -> hits today, since *week_start*, all time, and 5xx since *week_start* (one rollup pass)."""
    r = t.rollup_hour
    n = r.c["count"]
    week = r.c.hour >= week_start
    stmt = (select(r.c.endpoint_id, func.sum(n),
                   func.sum(case((week, n), else_=0)),
                   func.sum(case((r.c.hour >= today_start, n), else_=0)),
                   func.sum(case(((r.c.status_code >= 500) & week, n), else_=0)))
            .group_by(r.c.endpoint_id))
    if endpoint_ids is not None:
        stmt = stmt.where(r.c.endpoint_id.in_(sorted(set(endpoint_ids))))
    return {row[0]: {"total": int(row[1] or 0), "week": int(row[2] or 0), "today": int(row[3] or 0),
                     "errors_week": int(row[4] or 0)} for row in conn.execute(stmt)}


def overview_rows(conn: Connection, t: Tables, now: datetime, tz: str, needle: str = "",
                  endpoint_ids: Sequence[int] | None = None) -> list[dict]:
    """The overview's rows for the endpoints whose name contains *needle* (and among *endpoint_ids*), unsorted.

    Each row: id, name, level, today, week, total (hits), median and p95 (seconds, last STATS_DAYS local
    days, None without requests), errors (share of 5xx in those days, None without requests), last (UTC).
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
    out = []
    for row in rows:
        c = counts.get(row["id"], {})
        qs = percentiles(hists.get(row["id"]), (0.5, 0.95))
        week = c.get("week", 0)
        out.append({"id": row["id"], "name": row["name"], "level": row["level"], "today": c.get("today", 0),
                    "week": week, "total": c.get("total", 0), "median": qs[0] if qs else None,
                    "p95": qs[1] if qs else None,
                    "errors": c.get("errors_week", 0) / week if week else None, "last": row["last"]})
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
