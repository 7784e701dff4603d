"""Custom graphs in the store: register a graph, claim a tick, record its outcome.

Plain functions over a Connection (no threads, no Flask); ``fmd.graphs.runner`` decides when.

One tick, one row: ``claim`` inserts ``(graph_id, tick)`` with insert-or-ignore and reads back who holds it.
Every process that fires on that tick tries the same insert; the primary key lets exactly one row in, and
the ``claimed_by`` it reads back (a nonce per attempt) tells each process whether it was the one. The
winner runs the function and ``finish``es the row; the others do nothing. No unique-violation error is
ever raised (a PostgreSQL server would log each one), and the claim holds across hosts sharing the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from sqlalchemy import Connection, and_, select, update

from .models import Tables
from .writes import insert_ignore, utcnow

RUNNING, OK, ERROR, SKIPPED = "running", "ok", "error", "skipped"
#: Longest error message kept (a traceback's last line, an overrun note).
ERROR_LEN = 2000


def register(conn: Connection, t: Tables, title: str, schedule: str) -> int:
    """The id of the graph titled *title*, created if new; its schedule text is brought up to date."""
    g = t.custom_graph
    insert_ignore(conn, g, [{"title": title, "schedule": schedule[:250], "time_added": utcnow(),
                             "runs": 0, "failures": 0}], ["title"])
    graph_id, stored = conn.execute(select(g.c.id, g.c.schedule).where(g.c.title == title)).one()
    if stored != schedule[:250]:
        conn.execute(update(g).where(g.c.id == graph_id).values(schedule=schedule[:250]))
    return int(graph_id)


def claim(conn: Connection, t: Tables, graph_id: int, tick: datetime, holder: str) -> bool:
    """Try to take *tick* of the graph for *holder* (unique per attempt); True when this attempt won it."""
    v = t.custom_graph_value
    insert_ignore(conn, v, [{"graph_id": graph_id, "tick": tick, "outcome": RUNNING, "claimed_by": holder,
                             "claimed_at": utcnow()}], ["graph_id", "tick"])
    # A locking read: on MySQL's REPEATABLE READ a plain SELECT could read an older snapshot.
    stored = conn.execute(select(v.c.claimed_by).where(and_(v.c.graph_id == graph_id, v.c.tick == tick))
                          .with_for_update()).scalar_one_or_none()
    return stored == holder


def running_before(conn: Connection, t: Tables, graph_id: int, tick: datetime, since: datetime) -> datetime | None:
    """The tick of an earlier run of the graph, claimed after *since*, that has not finished yet (or None)."""
    v = t.custom_graph_value
    return conn.execute(select(v.c.tick).where(and_(v.c.graph_id == graph_id, v.c.tick < tick, v.c.tick >= since,
                                                    v.c.outcome == RUNNING))
                        .order_by(v.c.tick.desc()).limit(1)).scalar_one_or_none()


def finish(conn: Connection, t: Tables, graph_id: int, tick: datetime, *, value: float | None = None,
           error: str | None = None, outcome: str = OK, duration: float | None = None) -> None:
    """Store the outcome of a claimed tick and update the graph's summary (runs or failures, last ones)."""
    v, g = t.custom_graph_value, t.custom_graph
    if error is not None:
        error = error[:ERROR_LEN]
    conn.execute(update(v).where(and_(v.c.graph_id == graph_id, v.c.tick == tick))
                 .values(outcome=outcome, value=value, error=error, duration=duration))
    if outcome == OK:
        # A late value (a slow run finishing after a newer one) does not replace the newer last value.
        newer = (g.c.last_value_at.is_(None)) | (g.c.last_value_at <= tick)
        conn.execute(update(g).where(g.c.id == graph_id).values(runs=g.c.runs + 1))
        conn.execute(update(g).where(and_(g.c.id == graph_id, newer)).values(last_value=value, last_value_at=tick))
    else:
        newer = (g.c.last_error_at.is_(None)) | (g.c.last_error_at <= tick)
        conn.execute(update(g).where(g.c.id == graph_id).values(failures=g.c.failures + 1))
        conn.execute(update(g).where(and_(g.c.id == graph_id, newer)).values(last_error=error, last_error_at=tick))


def store_value(conn: Connection, t: Tables, title: str, tick: datetime, value: float, schedule: str = "") -> bool:
    """Claim and store one value in a single step (for seeding and tests); False when the tick was taken."""
    graph_id = register(conn, t, title, schedule)
    if not claim(conn, t, graph_id, tick, "seed"):
        return False
    finish(conn, t, graph_id, tick, value=value, outcome=OK, duration=0.0)
    return True


def stale_after(period_s: float) -> timedelta:
    """How long a run may stay unfinished before later ticks stop waiting for it (its process may be gone)."""
    return timedelta(seconds=min(max(10 * period_s, 60.0), 3600.0))
