"""Reads for the Custom graphs page: the graphs with their summaries, values over a range, the CSV rows.

A graph that ticks every second stores 86,400 values a day, more than a chart should carry. ``values`` reads
them as they are up to ``MOST_POINTS``; beyond that it folds them in the database into equal time buckets
(mean, min and max per bucket), so the page costs the same for a day and for a year. The CSV has every row.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import Connection, and_, func, literal, literal_column, select

from ..store.models import Tables

#: Points a chart gets before values are folded into buckets.
MOST_POINTS = 1500
OK = "ok"
FAILED = ("error", "skipped")


def list_graphs(conn: Connection, t: Tables) -> list[dict]:
    """Every graph stored, by title, with its summary columns."""
    g = t.custom_graph
    return [dict(row._mapping) for row in conn.execute(select(g).order_by(g.c.title))]


def graph(conn: Connection, t: Tables, graph_id: int) -> dict | None:
    g = t.custom_graph
    row = conn.execute(select(g).where(g.c.id == graph_id)).first()
    return dict(row._mapping) if row is not None else None


def counts_between(conn: Connection, t: Tables, start: datetime, end: datetime) -> dict[int, dict[str, int]]:
    """graph id -> {outcome: ticks} for ticks in ``[start, end)``."""
    v = t.custom_graph_value
    rows = conn.execute(select(v.c.graph_id, v.c.outcome, func.count())
                        .where(and_(v.c.tick >= start, v.c.tick < end)).group_by(v.c.graph_id, v.c.outcome))
    out: dict[int, dict[str, int]] = {}
    for graph_id, outcome, count in rows:
        out.setdefault(graph_id, {})[outcome] = int(count)
    return out


def values(conn: Connection, t: Tables, graph_id: int, start: datetime, end: datetime,
           most: int = MOST_POINTS) -> tuple[list[dict], float | None]:
    """(rows, bucket seconds): ``{time, value}`` per value in ``[start, end)``, oldest first, when at most *most*;
    else ``{time, value, low, high, count}`` per bucket of *bucket seconds* (time = the bucket's first value)."""
    v = t.custom_graph_value
    where = and_(v.c.graph_id == graph_id, v.c.outcome == OK, v.c.tick >= start, v.c.tick < end)
    count = conn.execute(select(func.count()).select_from(v).where(where)).scalar_one()
    if count <= most:
        rows = conn.execute(select(v.c.tick, v.c.value).where(where).order_by(v.c.tick))
        return [{"time": tick, "value": value} for tick, value in rows], None
    bucket = _nice_bucket((end - start).total_seconds() / most)
    index = func.floor(_seconds_since(conn, v.c.tick, start) / bucket).label("bucket")
    rows = conn.execute(select(index, func.min(v.c.tick), func.avg(v.c.value), func.min(v.c.value),
                               func.max(v.c.value), func.count()).where(where).group_by(index).order_by(index))
    return [{"time": first, "value": float(mean), "low": float(low), "high": float(high), "count": int(n)}
            for _, first, mean, low, high, n in rows], bucket


def iter_rows(conn: Connection, t: Tables, graph_id: int, start: datetime, end: datetime) -> Iterator[dict]:
    """Every tick of the graph in ``[start, end)`` (failed ones too), oldest first, read in chunks."""
    v = t.custom_graph_value
    stmt = (select(v.c.tick, v.c.outcome, v.c.value, v.c.duration, v.c.error)
            .where(and_(v.c.graph_id == graph_id, v.c.tick >= start, v.c.tick < end)).order_by(v.c.tick))
    for row in conn.execution_options(yield_per=2000).execute(stmt):
        yield dict(row._mapping)


def _seconds_since(conn: Connection, column: Any, start: datetime) -> Any:
    """SQL for the seconds from *start* to *column* (naive UTC on both sides, whatever the session's zone)."""
    backend = conn.dialect.name
    if backend == "postgresql":
        return func.extract("epoch", column - literal(start))
    if backend in ("mysql", "mariadb"):
        return func.timestampdiff(literal_column("SECOND"), literal(start), column)
    return (func.julianday(column) - func.julianday(literal(start.isoformat(sep=" ")))) * 86400.0


_NICE = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def _nice_bucket(seconds: float) -> float:
    """The smallest round bucket (a second, a minute, 5 minutes, an hour, a day...) of at least *seconds*."""
    for nice in _NICE:
        if nice >= seconds:
            return float(nice)
    return 86400.0 * math.ceil(seconds / 86400.0)
