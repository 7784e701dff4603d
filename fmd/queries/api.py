"""The export API's reads: plain rows for fmd.blueprints.api, each read bounded by a limit and keyset-paged.

Requests (and outliers and profiles, through their request row) are paged by the key ``(commit_seq, id)``, the
order in which writer batches became visible (see ``fmd.store.sequence`` for why no row that commits late can be
skipped, and why none is served twice). Rows stored before migration 0008 have no ``commit_seq``: they come
first, as key ``(0, id)`` in id order. A cursor is that key, written ``"<commit_seq>.<id>"``; ``"0.0"`` is the
beginning. Retention may delete rows behind a cursor; it never moves one.

Hourly rollups are paged by their primary key ``(hour, endpoint_id, version, status_code)`` inside a range of
hours; custom graph values by tick. Durations come out in milliseconds, times as naive UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, Select, and_, func, or_, select

from ..store.models import Tables
from .outliers import JSON_COLUMNS, parse_json

#: The key before every row.
START: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Page:
    """Up to *limit* rows after a key, the key to continue from, and whether more rows are already there."""

    rows: list[dict[str, Any]]
    next_key: Any
    has_more: bool


def endpoints(conn: Connection, t: Tables) -> list[dict[str, Any]]:
    """Every endpoint with its level, first and last request and its all-time totals (from the daily rollups)."""
    e, d = t.endpoint, t.rollup_day
    totals = (select(d.c.endpoint_id, func.sum(d.c["count"]).label("requests"),
                     func.sum(d.c.duration_sum).label("duration_sum"),
                     func.sum(func.coalesce(_when(d.c.status_code >= 500, d.c["count"]), 0)).label("server_errors"),
                     func.sum(func.coalesce(_when(and_(d.c.status_code >= 400, d.c.status_code < 500), d.c["count"]),
                                            0)).label("client_errors"))
              .group_by(d.c.endpoint_id).subquery())
    rows = conn.execute(
        select(e.c.id, e.c.name, e.c.monitor_level, e.c.time_added, e.c.first_requested, e.c.last_requested,
               totals.c.requests, totals.c.duration_sum, totals.c.server_errors, totals.c.client_errors)
        .outerjoin(totals, totals.c.endpoint_id == e.c.id).order_by(e.c.name)).all()
    out = []
    for row in rows:
        count = int(row.requests or 0)
        out.append({"id": row.id, "name": row.name, "monitor_level": row.monitor_level, "time_added": row.time_added,
                    "first_requested": row.first_requested, "last_requested": row.last_requested,
                    "requests": count, "server_errors": int(row.server_errors or 0),
                    "client_errors": int(row.client_errors or 0),
                    "mean_duration_ms": (float(row.duration_sum) * 1000.0 / count) if count else None})
    return out


def _when(condition: Any, value: Any) -> Any:
    from sqlalchemy import case

    return case((condition, value), else_=None)


def endpoint_id(conn: Connection, t: Tables, name: str) -> int | None:
    """The id of the endpoint named *name*, or None."""
    return conn.execute(select(t.endpoint.c.id).where(t.endpoint.c.name == name)).scalar()


def _by_commit(conn: Connection, stmt: Select, seq: Any, key: Any, after: tuple[int, int], limit: int) -> list:
    """Rows of *stmt* after the key *after* in (seq, key) order, NULL seq first as (0, key); at most *limit*."""
    after_seq, after_id = after
    rows: list = []
    if after_seq == 0:  # rows stored before commit sequences existed, by id
        rows = list(conn.execute(stmt.where(seq.is_(None), key > after_id).order_by(key).limit(limit)))
        after_id = 0
    if len(rows) < limit:
        later = or_(seq > after_seq, and_(seq == after_seq, key > after_id)) if after_seq else seq.is_not(None)
        rows += conn.execute(stmt.where(later).order_by(seq, key).limit(limit - len(rows))).all()
    return rows


def _page(rows: list, limit: int, after: tuple[int, int], key_of: Any) -> tuple[list, tuple[int, int], bool]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (key_of(rows[-1]) if rows else after), more


def requests(conn: Connection, t: Tables, after: tuple[int, int] = START, since: datetime | None = None,
             endpoint: int | None = None, limit: int = 1000) -> Page:
    """Raw request rows after the key *after*, oldest commit first; *since*/*endpoint* filter them."""
    r, e = t.request, t.endpoint
    stmt = select(r.c.id, r.c.commit_seq, r.c.endpoint_id, e.c.name, r.c.time_requested, r.c.duration,
                  r.c.version_requested, r.c.group_by, r.c.ip, r.c.status_code).join(e, e.c.id == r.c.endpoint_id)
    if since is not None:
        stmt = stmt.where(r.c.time_requested >= since)
    if endpoint is not None:
        stmt = stmt.where(r.c.endpoint_id == endpoint)
    rows, key, more = _page(_by_commit(conn, stmt, r.c.commit_seq, r.c.id, after, limit + 1), limit, after,
                            lambda row: (row.commit_seq or 0, row.id))
    return Page([{"id": row.id, "endpoint": row.name, "endpoint_id": row.endpoint_id,
                  "time_requested": row.time_requested, "duration_ms": row.duration * 1000.0,
                  "status_code": row.status_code, "version": row.version_requested, "group_by": row.group_by,
                  "ip": row.ip} for row in rows], key, more)


def _of_requests(conn: Connection, t: Tables, table: Any, after: tuple[int, int], since: datetime | None,
                 endpoint: int | None, limit: int) -> tuple[list, Any, bool]:
    """A page of rows that point at a request (outliers, profiles), in their request's commit order."""
    r, e = t.request, t.endpoint
    stmt = (select(table, r.c.commit_seq.label("commit_seq"), e.c.name.label("endpoint"))
            .join(e, e.c.id == table.c.endpoint_id).outerjoin(r, r.c.id == table.c.request_id))
    if since is not None:
        stmt = stmt.where(table.c.time_requested >= since)
    if endpoint is not None:
        stmt = stmt.where(table.c.endpoint_id == endpoint)
    return _page(_by_commit(conn, stmt, r.c.commit_seq, table.c.id, after, limit + 1), limit, after,
                 lambda row: (row.commit_seq or 0, row.id))


def outliers(conn: Connection, t: Tables, after: tuple[int, int] = START, since: datetime | None = None,
             endpoint: int | None = None, limit: int = 100) -> Page:
    """Outliers in full (JSON columns parsed) after *after*, keyed by their request's commit and their own id."""
    rows, key, more = _of_requests(conn, t, t.outlier, after, since, endpoint, limit)
    out = []
    for row in rows:
        item = {name: getattr(row, name) for name in ("id", "request_id", "endpoint", "endpoint_id",
                                                       "time_requested", "status_code", "version", "method",
                                                       "url", "stack_at")}
        item["duration_ms"] = row.duration * 1000.0
        item["average_ms"] = row.average * 1000.0
        item.update({name: parse_json(getattr(row, name)) for name in JSON_COLUMNS})
        out.append(item)
    return Page(out, key, more)


def profiles(conn: Connection, t: Tables, after: tuple[int, int] = START, since: datetime | None = None,
             endpoint: int | None = None, limit: int = 1000) -> Page:
    """Profiler summaries (one per profiled request: samples, achieved interval) after *after*."""
    rows, key, more = _of_requests(conn, t, t.profile, after, since, endpoint, limit)
    return Page([{"id": row.id, "request_id": row.request_id, "endpoint": row.endpoint,
                  "endpoint_id": row.endpoint_id, "time_requested": row.time_requested,
                  "duration_ms": row.duration * 1000.0, "version": row.version, "samples": row.samples,
                  "interval_ms": row.interval_ms, "cut": parse_json(row.cut)} for row in rows], key, more)


def hourly(conn: Connection, t: Tables, start: datetime, end: datetime, endpoint: int | None = None,
           after: Sequence[Any] | None = None, limit: int = 1000) -> Page:
    """rollup_hour rows with start <= hour < end, in (hour, endpoint_id, version, status_code) order."""
    h, e = t.rollup_hour, t.endpoint
    stmt = (select(h.c.hour, h.c.endpoint_id, e.c.name, h.c.version, h.c.status_code, h.c["count"],
                   h.c.duration_sum).join(e, e.c.id == h.c.endpoint_id)
            .where(h.c.hour >= start, h.c.hour < end))
    if endpoint is not None:
        stmt = stmt.where(h.c.endpoint_id == endpoint)
    if after is not None:
        hour, eid, version, status = after
        stmt = stmt.where(or_(h.c.hour > hour,
                              and_(h.c.hour == hour, or_(h.c.endpoint_id > eid,
                                   and_(h.c.endpoint_id == eid, or_(h.c.version > version,
                                        and_(h.c.version == version, h.c.status_code > status)))))))
    rows = conn.execute(stmt.order_by(h.c.hour, h.c.endpoint_id, h.c.version, h.c.status_code)
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    key = (rows[-1].hour, rows[-1].endpoint_id, rows[-1].version, rows[-1].status_code) if rows else after
    return Page([{"hour": row.hour, "endpoint": row.name, "endpoint_id": row.endpoint_id, "version": row.version,
                  "status_code": row.status_code, "count": int(row.count),
                  "duration_sum_ms": float(row.duration_sum) * 1000.0,
                  "mean_duration_ms": float(row.duration_sum) * 1000.0 / row.count if row.count else None}
                 for row in rows], key, more)


def custom_graphs(conn: Connection, t: Tables) -> list[dict[str, Any]]:
    """Every custom graph with its schedule, counters and last value and error."""
    g = t.custom_graph
    return [dict(row._mapping) for row in conn.execute(select(g).order_by(g.c.id))]


def graph_exists(conn: Connection, t: Tables, graph_id: int) -> bool:
    return conn.execute(select(t.custom_graph.c.id).where(t.custom_graph.c.id == graph_id)).first() is not None


def graph_values(conn: Connection, t: Tables, graph_id: int, start: datetime, end: datetime,
                 after: datetime | None = None, limit: int = 1000) -> Page:
    """The stored values (ticks whose function returned a number) of one graph, start <= tick < end, by tick."""
    v = t.custom_graph_value
    stmt = select(v.c.tick, v.c.value).where(v.c.graph_id == graph_id, v.c.outcome == "ok",
                                             v.c.tick >= start, v.c.tick < end)
    if after is not None:
        stmt = stmt.where(v.c.tick > after)
    rows = conn.execute(stmt.order_by(v.c.tick).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page([{"tick": row.tick, "value": row.value} for row in rows], rows[-1].tick if rows else after, more)
