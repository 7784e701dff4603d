"""Recording health of every process that reports into the database (``fmd_process``), with fmd's cost.

Each row carries ``request_cost_us`` and ``writer_cost_us``: the process's mean µs per request since it
started, on the request path and in the writer thread (None until it has recorded a request).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from ..store.models import Tables

#: How many processes the health page lists at most (most recently seen first).
MAX_PROCESSES = 200


def processes(conn: Connection, t: Tables, now: datetime, stale_after: timedelta) -> list[dict]:
    """One row per reporting process, newest first, with ``stale`` set when it has not reported lately."""
    p = t.process
    stmt = select(p).order_by(p.c.last_seen.desc()).limit(MAX_PROCESSES)
    rows = [dict(row._mapping) for row in conn.execute(stmt)]
    for row in rows:
        row["stale"] = now - row["last_seen"] > stale_after
    return rows


def totals(rows: list[dict]) -> dict:
    """Sums over the processes that still report (queue, written, dropped, failed writes, errors)."""
    live = [r for r in rows if not r["stale"]]
    keys = ("submitted", "queue_length", "rows_written", "unrouted", "skipped", "rejected", "events", "dropped",
            "failed_writes", "internal_errors")
    return {"processes": len(live), **{k: sum(r[k] or 0 for r in live) for k in keys}}
