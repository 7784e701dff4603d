"""Known requests written through fmd's real writer (raw rows and every rollup), and row counts per table.

Imported by the purge/merge, retention, endpoint-query and CLI tests; pytest does not collect it.
A record here is ``(endpoint, duration_s, started: datetime (naive UTC), status, group_by, ip)``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable, Sequence

from sqlalchemy import func, select

from fmd.store import writes
from fmd.store.engine import Store

#: Every table holding recorded data, by its name without the prefix.
DATA_TABLES = ("request", "rollup_hour", "rollup_day", "histogram_hour", "histogram_day", "rollup_group_day",
               "histogram_group_day", "rollup_ip_day", "outlier", "stack_line", "exception_day")


def epoch(moment: datetime) -> float:
    return moment.replace(tzinfo=timezone.utc).timestamp()


def write(store: Store, records: Iterable[Sequence], version: str = "1.0") -> dict[str, int]:
    """Write *records* as one batch of *version*; returns endpoint name -> id."""
    rows = [(name, float(d), epoch(when), int(status), group_by, ip) for name, d, when, status, group_by, ip in records]
    last_seen: dict[str, float] = defaultdict(float)
    for row in rows:
        last_seen[row[0]] = max(last_seen[row[0]], row[2])
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, store.tables, sorted(last_seen), {})
        writes.write_batch(conn, store.tables, writes.new_batch_id(), version, rows, ids, dict(last_seen))
    return ids


def counts(store: Store, endpoint_id: int | None = None) -> dict[str, int]:
    """Rows per data table (only the endpoint's rows when *endpoint_id* is given)."""
    t = store.tables
    out = {}
    with store.read() as conn:
        for name in DATA_TABLES:
            table = getattr(t, name)
            stmt = select(func.count()).select_from(table)
            if endpoint_id is not None:
                if "endpoint_id" in table.c:
                    stmt = stmt.where(table.c.endpoint_id == endpoint_id)
                else:
                    ids = select(t.request.c.id).where(t.request.c.endpoint_id == endpoint_id)
                    stmt = stmt.where(table.c.request_id.in_(ids))
            out[name] = conn.execute(stmt).scalar_one()
    return out


def sums(store: Store, endpoint_id: int | None = None) -> dict[str, int]:
    """Total request count held by each counting table (what a merge must preserve)."""
    t = store.tables
    out = {}
    with store.read() as conn:
        for name in ("rollup_hour", "rollup_day", "histogram_hour", "histogram_day", "rollup_group_day",
                     "histogram_group_day", "rollup_ip_day"):
            table = getattr(t, name)
            stmt = select(func.coalesce(func.sum(table.c["count"]), 0))
            if endpoint_id is not None:
                stmt = stmt.where(table.c.endpoint_id == endpoint_id)
            out[name] = int(conn.execute(stmt).scalar_one())
        stmt = select(func.count()).select_from(t.request)
        if endpoint_id is not None:
            stmt = stmt.where(t.request.c.endpoint_id == endpoint_id)
        out["request"] = conn.execute(stmt).scalar_one()
    return out


def add_outliers_and_profiles(store: Store, request_ids: Iterable[int], lines: int = 3) -> None:
    """An outlier row and *lines* profiler lines for each request id (their own writers come later)."""
    t = store.tables
    with store.write() as conn:
        code_id = conn.execute(select(t.code_line.c.id).where(t.code_line.c.filename == "app.py")).scalar()
        if code_id is None:
            code_id = conn.execute(t.code_line.insert().values(filename="app.py", line_number=1, function_name="f",
                                                               code="pass")).inserted_primary_key[0]
        r = t.request
        for rid in request_ids:
            req = conn.execute(select(r.c.endpoint_id, r.c.time_requested, r.c.duration, r.c.status_code)
                               .where(r.c.id == rid)).one()
            conn.execute(t.outlier.insert().values(
                request_id=rid, endpoint_id=req.endpoint_id, time_requested=req.time_requested, duration=req.duration,
                status_code=req.status_code, version="1.0", average=req.duration / 3, method="GET", url="/x",
                stacktrace="[]"))
            conn.execute(t.stack_line.insert(), [{"request_id": rid, "position": p, "code_id": code_id, "indent": p,
                                                  "duration": 0.001} for p in range(lines)])


def request_ids(store: Store, endpoint_id: int) -> list[int]:
    t = store.tables
    with store.read() as conn:
        return [r[0] for r in conn.execute(select(t.request.c.id).where(t.request.c.endpoint_id == endpoint_id)
                                           .order_by(t.request.c.id))]
