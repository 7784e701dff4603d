"""Retention: delete raw data older than its configured age, in small batches, and the lease that makes the
scheduled run happen once per period across every worker and host.

What is pruned (ages from the ``[retention]`` options; 0 keeps a kind forever):

* outliers whose request is older than RETENTION_OUTLIERS_DAYS (and any whose request is gone), and the
  stored traceback of exception groups last refreshed before then (their counts stay);
* profiler lines (``stack_line``) and profile rows whose request is older than RETENTION_PROFILES_DAYS (idem);
* raw request rows older than RETENTION_REQUESTS_DAYS, except those that still have an outlier or
  profile: a drill-down needs its request, so the request stays as long as they do;
* hourly duration histograms older than RETENTION_HOURLY_DAYS, cut at a UTC midnight so the daily
  histograms cover what goes.

Hourly and daily counters (``rollup_hour``, ``rollup_day``) and every other daily rollup are never pruned:
charts over ranges whose raw rows are gone still show the right totals, counts and percentiles.

Batches: each transaction deletes at most ``batch`` rows chosen by primary-key range (ids read first,
oldest first), and the loop sleeps ``pause`` seconds between transactions, so the writer thread and the
dashboard's reads are never held up for long, also on SQLite where a write locks the whole database.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update

from .models import Tables
from .writes import insert_ignore, utcnow

if TYPE_CHECKING:
    from .engine import Store

log = logging.getLogger("fmd.store")

#: Most rows deleted per transaction.
BATCH = 5_000
#: Seconds between two delete transactions.
PAUSE = 0.05
#: Kinds of data, in the order they are pruned (outliers and profiles before the requests they keep).
KINDS = ("outliers", "profiles", "requests", "hourly")
#: The fmd_meta row holding the retention job's lease.
LEASE_KEY = "prune_lease"

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Retention:
    """Ages in days per kind of data; 0 keeps that kind forever."""

    requests_days: int = 30
    outliers_days: int = 14
    profiles_days: int = 14
    hourly_days: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> "Retention":
        """From fmd Settings (RETENTION_REQUESTS_DAYS, RETENTION_OUTLIERS_DAYS, RETENTION_PROFILES_DAYS,
        RETENTION_HOURLY_DAYS)."""
        return cls(settings.retention_requests_days, settings.retention_outliers_days,
                   settings.retention_profiles_days, settings.retention_hourly_days)

    def cutoffs(self, now: datetime) -> dict[str, datetime | None]:
        """kind -> naive UTC moment before which that kind goes (None: kept forever)."""
        def age(days: int) -> datetime | None:
            return now - timedelta(days=days) if days > 0 else None

        hourly = age(self.hourly_days)
        return {"outliers": age(self.outliers_days), "profiles": age(self.profiles_days),
                "requests": age(self.requests_days),
                "hourly": hourly.replace(hour=0, minute=0, second=0, microsecond=0) if hourly else None}


# ------------------------------------------------------------------------------------------------- counting

def count_prunable(conn: Connection, t: Tables, retention: Retention, now: datetime | None = None) -> dict[str, int]:
    """kind -> rows a prune at *now* would delete (for ``--dry-run`` and the progress bar)."""
    cut = retention.cutoffs(now or utcnow())
    r, o, s, h = t.request, t.outlier, t.stack_line, t.histogram_hour
    out = dict.fromkeys(KINDS, 0)
    if cut["outliers"]:
        out["outliers"] = _count(conn, select(func.count()).select_from(o.outerjoin(r, r.c.id == o.c.request_id))
                                 .where(_old_or_gone(r, cut["outliers"])))
    if cut["profiles"]:
        out["profiles"] = _count(conn, select(func.count()).select_from(s.outerjoin(r, r.c.id == s.c.request_id))
                                 .where(_old_or_gone(r, cut["profiles"])))
    if cut["requests"]:
        out["requests"] = _count(conn, select(func.count()).select_from(r).where(
            r.c.time_requested < cut["requests"], *_deletable_clauses(t, cut)))
    if cut["hourly"]:
        out["hourly"] = _count(conn, select(func.count()).select_from(h).where(h.c.hour < cut["hourly"]))
    return out


def _count(conn: Connection, stmt: Any) -> int:
    return int(conn.execute(stmt).scalar() or 0)


def _old_or_gone(r: Any, cutoff: datetime) -> Any:
    return or_(r.c.id.is_(None), r.c.time_requested < cutoff)


def _deletable_clauses(t: Tables, cut: dict[str, datetime | None]) -> list:
    """A request row may go unless an outlier or profile of it stays (counted before those are pruned)."""
    r = t.request
    clauses = []
    for table, kind in ((t.outlier, "outliers"), (t.stack_line, "profiles")):
        linked = exists().where(table.c.request_id == r.c.id)
        if cut[kind] is None:
            clauses.append(~linked)
        else:
            clauses.append(or_(~linked, r.c.time_requested < cut[kind]))
    return clauses


# ------------------------------------------------------------------------------------------------- pruning

def prune(store: "Store", retention: Retention, *, now: datetime | None = None, batch: int = BATCH,
          pause: float = PAUSE, progress: Progress | None = None,
          stop: Callable[[], bool] | None = None) -> dict[str, int]:
    """Delete everything older than *retention* allows, in batches; kind -> rows deleted.

    *progress(kind, rows)* is called after each batch; *stop()* returning True ends the run after a batch.
    """
    cut = retention.cutoffs(now or utcnow())
    done = dict.fromkeys(KINDS, 0)

    def step(kind: str, deleted: int) -> None:
        done[kind] += deleted
        if progress is not None and deleted:
            progress(kind, deleted)
        if stop is not None and stop():
            raise _Stopped
        if pause:
            time.sleep(pause)

    try:
        _prune_all(store, cut, batch, step)
    except _Stopped:
        log.info("fmd: retention run stopped early")
    log.info("fmd: retention pruned %s", done)
    return done


class _Stopped(Exception):
    pass


def _prune_all(store: "Store", cut: dict[str, datetime | None], batch: int,
               step: Callable[[str, int], None]) -> None:
    t = store.tables
    if cut["outliers"]:
        _prune_linked(store, t.outlier, t.outlier.c.id, cut["outliers"], batch, lambda n: step("outliers", n))
        # Exception groups keep their counts; their stored traceback ages like an outlier (a few hundred
        # groups at most: one statement).
        g = t.exception_group
        with store.write() as conn:
            conn.execute(update(g).where(g.c.traceback_at < cut["outliers"]).values(traceback=None))
    if cut["profiles"]:
        # Profile lines are many per request: a batch is a range of request ids, sized to ~batch lines.
        _prune_linked(store, t.stack_line, t.stack_line.c.request_id, cut["profiles"], max(batch // 50, 1),
                      lambda n: step("profiles", n))
        # Each profiled request's own row (its sampling figures) goes with its lines (not counted: one per
        # request, where "profiles" counts the lines).
        _prune_linked(store, t.profile, t.profile.c.id, cut["profiles"], batch, lambda n: None)
    if cut["requests"]:
        _prune_requests(store, cut["requests"], batch, lambda n: step("requests", n))
    if cut["hourly"]:
        _prune_hourly(store, cut["hourly"], lambda n: step("hourly", n))


def _prune_linked(store: "Store", table: Any, key: Any, cutoff: datetime, batch: int,
                  step: Callable[[int], None]) -> None:
    """Outliers or profile lines whose request is older than *cutoff* (or gone), walked along *key*."""
    r = store.tables.request
    cursor = None
    while True:
        with store.read() as conn:
            stmt = (select(key).distinct().select_from(table.outerjoin(r, r.c.id == table.c.request_id))
                    .where(_old_or_gone(r, cutoff)).order_by(key).limit(batch))
            if cursor is not None:
                stmt = stmt.where(key > cursor)
            ids = [row[0] for row in conn.execute(stmt)]
        if not ids:
            return
        with store.write() as conn:
            deleted = conn.execute(delete(table).where(key.in_(ids))).rowcount
        cursor = ids[-1]
        step(deleted)


def _prune_requests(store: "Store", cutoff: datetime, batch: int, step: Callable[[int], None]) -> None:
    """Raw rows older than *cutoff*, oldest ids first, a primary-key range of at most *batch* rows at a time."""
    t = store.tables
    r = t.request
    keep = [~exists().where(t.outlier.c.request_id == r.c.id), ~exists().where(t.stack_line.c.request_id == r.c.id)]
    cursor = 0
    while True:
        with store.read() as conn:
            ids = [row[0] for row in conn.execute(
                select(r.c.id).where(r.c.id > cursor, r.c.time_requested < cutoff).order_by(r.c.id).limit(batch))]
        if not ids:
            return
        with store.write() as conn:
            # Re-checked inside the delete: a row kept for its outlier, or one whose time moved, stays.
            deleted = conn.execute(delete(r).where(r.c.id >= ids[0], r.c.id <= ids[-1],
                                                   r.c.time_requested < cutoff, *keep)).rowcount
        cursor = ids[-1]
        step(deleted)


def _prune_hourly(store: "Store", cutoff: datetime, step: Callable[[int], None]) -> None:
    """Hourly histograms before *cutoff*, one endpoint and one UTC day per transaction (a primary-key range)."""
    h = store.tables.histogram_hour
    with store.read() as conn:  # the endpoint table is small; a DISTINCT over the histogram would scan it all
        endpoints = [row[0] for row in conn.execute(select(store.tables.endpoint.c.id).order_by("id"))]
    for eid in endpoints:
        while True:
            with store.read() as conn:
                first = conn.execute(select(func.min(h.c.hour)).where(h.c.endpoint_id == eid)).scalar()
            if first is None or first >= cutoff:
                break
            day = first.replace(hour=0, minute=0, second=0, microsecond=0)
            end = min(day + timedelta(days=1), cutoff)
            with store.write() as conn:
                deleted = conn.execute(delete(h).where(and_(h.c.endpoint_id == eid, h.c.hour >= day,
                                                            h.c.hour < end))).rowcount
            step(deleted)


# ------------------------------------------------------------------------------------------------- the lease

def _stamp(epoch: float) -> str:
    """Fixed-width digits, so that text comparison in SQL is numeric comparison on every database."""
    return f"{int(epoch):012d}"


def take_lease(conn: Connection, t: Tables, holder: str, period_s: float, now: float | None = None) -> bool:
    """Take the retention job's lease for *period_s* seconds if it has expired; True when this caller got it.

    One conditional UPDATE (``WHERE value < now``) decides: SQLite serialises writers, and PostgreSQL and
    MariaDB re-check the condition on the row after a concurrent update commits, so of several workers
    racing for an expired lease exactly one sees a row changed. The row is created expired the first time
    (insert-ignore, so creating it races safely too).
    """
    now = time.time() if now is None else now
    m = t.meta
    insert_ignore(conn, m, [{"key": LEASE_KEY, "value": _stamp(0)}], ("key",))
    value = f"{_stamp(now + period_s)} {holder}"[:500]
    changed = conn.execute(update(m).where(m.c.key == LEASE_KEY, m.c.value < _stamp(now)).values(value=value))
    return changed.rowcount == 1


def lease_holder(conn: Connection, t: Tables) -> tuple[float, str] | None:
    """(expiry epoch, holder) of the lease, or None when it was never taken."""
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == LEASE_KEY)).scalar()
    if not value:
        return None
    stamp, _, holder = value.partition(" ")
    return float(stamp), holder
