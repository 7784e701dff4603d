"""Purge an endpoint's recorded data, or merge one endpoint's data into another (after a route was renamed).

Both are plain functions over a Connection and run in the caller's single transaction; ``in_transaction``
opens one and retries it when the database picked it as a deadlock victim (the writer thread retries its own
batch the same way). What "recorded data" is: raw request rows, every rollup and histogram table keyed by
endpoint, its exception occurrences (a group left with none goes too), and the outliers and profiler lines of the
endpoint's requests.

Purge keeps the endpoint row itself (its name and monitoring level are configuration, not data) and resets
its first/last request times to what is left. ``before`` cuts at a moment (naive UTC):

* raw rows (and their outliers and profiles) requested before that moment go;
* hourly rollups go for the hours that end at or before it (``hour < floor_hour(before)``);
* daily rollups go for the UTC days that end at or before it (``day < floor_day(before)``);

so with a date (midnight UTC) the three agree exactly; with a time inside an hour or day, the rollups of
that hour or day are kept whole (a rollup cannot be cut in two).

Merge re-points the raw rows, adds the source's rollup counters into the target's rows with the writer's
upsert (``fmd.store.rollups.increment``), then removes the source's rollups and the source endpoint. The
source's rollup rows are read ``FOR UPDATE`` first, so a writer adding to them concurrently waits and is
not lost; a writer that still holds the source's id in its cache finds the endpoint gone (see
``missing_endpoints``) and re-creates it under the old name.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

from sqlalchemy import Connection, Table, delete, exists, func, select, update
from sqlalchemy.exc import DBAPIError

from .models import Tables
from .rollups import increment
from .writes import bump_levels_version
from .writes import missing_endpoints  # noqa: F401 - its home is writes (the writer's path); named here too

if TYPE_CHECKING:
    from .engine import Store

log = logging.getLogger("fmd.store")

T = TypeVar("T")

#: Rollup rows sent per upsert statement while merging.
MERGE_CHUNK = 2_000


class LifecycleError(ValueError):
    """A purge or merge that cannot be done (unknown endpoint, merging an endpoint into itself)."""


@dataclass
class Outcome:
    """Rows affected per table by one purge or merge."""

    rows: dict[str, int] = field(default_factory=dict)

    def add(self, table: Table | str, count: int) -> None:
        name = table if isinstance(table, str) else table.name
        self.rows[name] = self.rows.get(name, 0) + max(count, 0)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def rollup_tables(t: Tables) -> list[Table]:
    """Every rollup/histogram table keyed by endpoint, in the order the writer upserts them (lock order)."""
    return [t.rollup_hour, t.rollup_day, t.histogram_hour, t.histogram_day, t.rollup_group_day, t.histogram_group_day,
            t.rollup_ip_day, t.exception_day]


def grain_of(table: Table) -> str:
    """The time column of a rollup table: 'hour' or 'day'."""
    return "hour" if "hour" in table.c else "day"


def find_endpoint(conn: Connection, t: Tables, name_or_id: str | int) -> dict:
    """The endpoint row {id, name, first_requested, last_requested} by id or exact name, or LifecycleError."""
    e = t.endpoint
    cols = (e.c.id, e.c.name, e.c.first_requested, e.c.last_requested)
    row = None
    if isinstance(name_or_id, int):
        row = conn.execute(select(*cols).where(e.c.id == name_or_id)).first()
    else:
        row = conn.execute(select(*cols).where(e.c.name == name_or_id)).first()
        if row is None and name_or_id.isdigit():  # the CLI may be given an id
            row = conn.execute(select(*cols).where(e.c.id == int(name_or_id))).first()
    if row is None:
        raise LifecycleError(f"no endpoint {name_or_id!r} is stored")
    return dict(row._mapping)


# ------------------------------------------------------------------------------------------------- purge

def purge(conn: Connection, t: Tables, endpoint_id: int, before: datetime | None = None) -> Outcome:
    """Delete the endpoint's recorded data (all of it, or before *before*: see the module docstring)."""
    endpoint = find_endpoint(conn, t, endpoint_id)
    out = Outcome()
    r = t.request
    raw = r.c.endpoint_id == endpoint_id
    if before is not None:
        raw = raw & (r.c.time_requested < before)
    ids = select(r.c.id).where(raw)
    # Outliers and profiler lines point at request ids (no foreign key): they go before their requests.
    out.add(t.outlier, conn.execute(delete(t.outlier).where(t.outlier.c.request_id.in_(ids))).rowcount)
    out.add(t.stack_line, conn.execute(delete(t.stack_line).where(t.stack_line.c.request_id.in_(ids))).rowcount)
    out.add(t.profile, conn.execute(delete(t.profile).where(t.profile.c.request_id.in_(ids))).rowcount)
    out.add(r, conn.execute(delete(r).where(raw)).rowcount)
    for table in rollup_tables(t):
        where = table.c.endpoint_id == endpoint_id
        if before is not None:
            grain = grain_of(table)
            edge = _floor(before, grain)
            where = where & (table.c[grain] < edge)
        out.add(table, conn.execute(delete(table).where(where)).rowcount)
    # Exception groups are app-wide: the endpoint's occurrences went with exception_day above; a group
    # left without any occurrence goes too.
    x, d = t.exception_group, t.exception_day
    out.add(x, conn.execute(delete(x).where(~exists().where(d.c.group_id == x.c.id))).rowcount)
    _reset_times(conn, t, endpoint, before)
    return out


def _floor(moment: datetime, grain: str) -> datetime:
    moment = moment.replace(minute=0, second=0, microsecond=0)
    return moment if grain == "hour" else moment.replace(hour=0)


def _reset_times(conn: Connection, t: Tables, endpoint: dict, before: datetime | None) -> None:
    """first/last_requested after a purge: cleared, or narrowed to the data that is left."""
    e = t.endpoint
    eid = endpoint["id"]
    if before is None:
        conn.execute(update(e).where(e.c.id == eid).values(first_requested=None, last_requested=None))
        return
    r, h = t.request, t.rollup_hour
    raw_first, raw_last = conn.execute(select(func.min(r.c.time_requested), func.max(r.c.time_requested))
                                       .where(r.c.endpoint_id == eid)).one()
    hour_first, hour_last = conn.execute(select(func.min(h.c.hour), func.max(h.c.hour))
                                         .where(h.c.endpoint_id == eid)).one()
    firsts = [v for v in (raw_first, hour_first) if v is not None]
    first = min(firsts) if firsts else None
    if first is not None and endpoint["first_requested"] is not None:
        first = max(first, endpoint["first_requested"])  # a rollup hour starts before its first request
    last = endpoint["last_requested"]
    if last is not None and last < before:
        lasts = [v for v in (raw_last, hour_last and hour_last + timedelta(hours=1)) if v is not None]
        last = min(max(lasts), last) if lasts else None
    conn.execute(update(e).where(e.c.id == eid).values(first_requested=first, last_requested=last))


# ------------------------------------------------------------------------------------------------- merge

def merge(conn: Connection, t: Tables, source_id: int, target_id: int) -> Outcome:
    """Move every recorded row of *source_id* to *target_id* (rollups added up) and remove the source."""
    if source_id == target_id:
        raise LifecycleError("an endpoint cannot be merged into itself; choose a different target")
    source = find_endpoint(conn, t, source_id)
    target = find_endpoint(conn, t, target_id)
    e = t.endpoint
    # Lock both endpoint rows first (lower id first), so two merges touching them queue up cleanly.
    for eid in sorted((source_id, target_id)):
        conn.execute(select(e.c.id).where(e.c.id == eid).with_for_update())
    out = Outcome()
    r = t.request
    out.add(r, conn.execute(update(r).where(r.c.endpoint_id == source_id).values(endpoint_id=target_id)).rowcount)
    for table in rollup_tables(t):
        out.add(table, _merge_rollup(conn, table, source_id, target_id))
    for o in (t.outlier, t.profile):  # (their rows would go with the source endpoint: a cascading foreign key)
        out.add(o, conn.execute(update(o).where(o.c.endpoint_id == source_id).values(endpoint_id=target_id)).rowcount)
    firsts = [v for v in (source["first_requested"], target["first_requested"]) if v is not None]
    lasts = [v for v in (source["last_requested"], target["last_requested"]) if v is not None]
    conn.execute(update(e).where(e.c.id == target_id).values(first_requested=min(firsts) if firsts else None,
                                                             last_requested=max(lasts) if lasts else None))
    out.add(e, conn.execute(delete(e).where(e.c.id == source_id)).rowcount)
    bump_levels_version(conn, t)  # the source's level is gone: every worker reloads its level table
    return out


def _merge_rollup(conn: Connection, table: Table, source_id: int, target_id: int) -> int:
    """Add the source's rows of one rollup table into the target's; delete the source's. Returns rows moved."""
    keys = tuple(c.name for c in table.primary_key.columns)
    adds = tuple(c.name for c in table.columns if not c.primary_key)
    cols = [table.c[k] for k in keys + adds]
    order = [table.c[k] for k in keys]
    position = keys.index("endpoint_id")
    grain = table.c[grain_of(table)]
    source = table.c.endpoint_id == source_id
    first, last = conn.execute(select(func.min(grain), func.max(grain)).where(source)).one()
    if first is None:
        return 0
    # A window of time at a time (a primary-key range), so a long history never sits in memory at once.
    window = timedelta(days=1 if grain_of(table) == "hour" else 31)
    moved = 0
    while first <= last:
        end = first + window
        where = source & (grain >= first) & (grain < end)
        # FOR UPDATE: a writer adding to a source row after this read would otherwise be lost by the delete.
        rows = conn.execute(select(*cols).where(where).order_by(*order).with_for_update()).all()
        for start in range(0, len(rows), MERGE_CHUNK):
            increment(conn, table, keys, adds, [tuple(target_id if i == position else v for i, v in enumerate(row))
                                                for row in rows[start:start + MERGE_CHUNK]])
        conn.execute(delete(table).where(where))
        moved += len(rows)
        first = end
    return moved


# ----------------------------------------------------------------------------------------- transactions

def is_deadlock(exc: BaseException) -> bool:
    """A transaction the database aborted to break a deadlock or lock wait (safe to run again)."""
    if not isinstance(exc, DBAPIError):
        return False
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "lock wait timeout" in text or "could not serialize" in text


def in_transaction(store: "Store", work: Callable[[Connection, Tables], T], attempts: int = 3) -> T:
    """Run ``work(conn, tables)`` in one write transaction; run it again if it lost a deadlock."""
    for attempt in range(1, attempts + 1):
        try:
            with store.write() as conn:
                return work(conn, store.tables)
        except DBAPIError as exc:
            if attempt == attempts or not is_deadlock(exc):
                raise
            log.info("fmd: transaction lost a deadlock (attempt %d), running it again", attempt)
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def purge_endpoint(store: "Store", endpoint: str | int, before: datetime | None = None) -> Outcome:
    """Purge in its own transaction (see ``purge``); *endpoint* is an id or a name."""
    return in_transaction(store, lambda conn, t: purge(conn, t, find_endpoint(conn, t, endpoint)["id"], before))


def merge_endpoints(store: "Store", source: str | int, target: str | int) -> Outcome:
    """Merge in its own transaction (see ``merge``); endpoints are ids or names."""
    def work(conn: Connection, t: Tables) -> Outcome:
        return merge(conn, t, find_endpoint(conn, t, source)["id"], find_endpoint(conn, t, target)["id"])

    return in_transaction(store, work)
