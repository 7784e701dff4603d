"""Everything the writer thread does to the database: endpoints, batches, levels, process health.

Plain functions over a Connection: no threads, no Flask. ``fmd.instrument.recorder`` decides when.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .models import GROUP_LEN, NAME_LEN, Tables
from .rollups import Fold, increment, utc_from_epoch
from .sequence import take_next

EVENT = -1  # (fmd.instrument.records.EVENT: a record that is not a request)

LEVELS_VERSION_KEY = "levels_version"


class AlreadyWritten(Exception):
    """The batch's id is already stored: an earlier attempt did commit (the acknowledgement was lost)."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_batch_id() -> str:
    return uuid.uuid4().hex


def insert_ignore(conn: Connection, table, rows: list[dict], keys: Sequence[str]) -> None:  # noqa: ANN001
    """Insert rows whose key is not there yet; leave existing ones alone (races with other writers)."""
    if not rows:
        return
    backend = conn.dialect.name
    if backend in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as dialect_insert

        # MySQL has no DO NOTHING: a no-op update stands in. It assigns the stored primary key to itself, never
        # the inserted value: where a collation ever saw 'User' as 'user', `name = VALUES(name)` renamed the
        # stored row (issue 7); `id = id` changes nothing whatever the collation says is a duplicate.
        key = next(iter(table.primary_key.columns))
        stmt = dialect_insert(table)
        stmt = stmt.on_duplicate_key_update({key.name: key})
    else:
        if backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=list(keys))
    conn.execute(stmt, rows)


def missing_endpoints(conn: Connection, t: Tables, ids: Iterable[int]) -> set[int]:
    """The *ids* that no longer name a stored endpoint (removed by a merge since a writer cached them).

    Here rather than in ``purge``: the writer calls it, and importing purge would cost every worker its code.
    """
    wanted = set(ids)
    if not wanted:
        return set()
    e = t.endpoint
    found = {row[0] for row in conn.execute(select(e.c.id).where(e.c.id.in_(sorted(wanted))))}
    return wanted - found


def ensure_endpoints(conn: Connection, t: Tables, names: Iterable[str], level_of: Mapping[str, int]) -> dict[str, int]:
    """Create the endpoints not stored yet (at their current level); return name -> id for *names*."""
    wanted = {name[:NAME_LEN]: name for name in names}
    if not wanted:
        return {}
    now = utcnow()
    e = t.endpoint
    existing = dict(conn.execute(select(e.c.name, e.c.id).where(e.c.name.in_(list(wanted)))).all())
    missing = [{"name": short, "monitor_level": max(level_of.get(full, 1), 0), "time_added": now}
               for short, full in sorted(wanted.items()) if short not in existing]  # one lock order for all
    if missing:
        insert_ignore(conn, e, missing, ("name",))
        existing.update(conn.execute(select(e.c.name, e.c.id).where(
            e.c.name.in_([m["name"] for m in missing]))).all())
    return {full: existing[short] for short, full in wanted.items() if short in existing}


def write_batch(conn: Connection, t: Tables, batch_id: str, version: str, records: Sequence[tuple],
                endpoint_ids: Mapping[str, int], last_seen: Mapping[str, float], mixed: bool = False,
                code_ids: Mapping[tuple, int] | None = None) -> "Written":
    """Store one batch: raw rows, rollups, endpoint times and level-2 rows, in the caller's transaction.

    *records* are request tuples; when *mixed*, some have a seventh item, their prepared level-2 rows
    (fmd.instrument.prepare), and some are EVENT records (status -1: exceptions outside a request, no request
    row). *code_ids* are the code_line ids the writer knows (see extras.insert_profiles). Raises AlreadyWritten
    when this batch id was committed before.
    """
    try:  # first statement: a duplicate id aborts the transaction before anything else is written
        conn.execute(insert(t.batch), {"id": batch_id, "written_at": utcnow()})
    except IntegrityError:
        raise AlreadyWritten(batch_id) from None
    fold = Fold()
    rows = []
    first: dict[int, float] = {}
    as_text = conn.dialect.name == "sqlite"
    written = Written()
    exceptions = ExceptionFold()
    alone = []  # requests with an outlier or a profile: inserted one by one, to learn their ids
    for record in records:
        outlier = profile = None
        if mixed and len(record) != 6:
            endpoint, duration, started, status, group_by, ip, attached = record
            for kind, fields in attached:
                if kind == "exception":
                    exceptions.add(fields, endpoint_ids.get(endpoint, 0) if endpoint is not None else 0, version)
                elif kind == "outlier":
                    outlier = fields
                elif kind == "profile":
                    profile = fields
            if status == EVENT:
                written.events += 1
                continue
        else:
            endpoint, duration, started, status, group_by, ip = record
        if endpoint is None:
            fold.add_unrouted(started, status)
            continue
        endpoint_id = endpoint_ids[endpoint]
        when = _utc(started)
        group_by = group_by[:GROUP_LEN]
        row = (endpoint_id, duration, when.isoformat(" ", "microseconds") if as_text else when, version,
               group_by, ip, status)
        if outlier is None and profile is None:
            rows.append(row)
        else:  # inserted alone below, to learn the id its outlier and profile point at
            alone.append((dict(zip(REQUEST_COLUMNS, row[:2] + (when,) + row[3:])), outlier, profile))
        fold.add(endpoint_id, started, duration, version, status, group_by, ip)
        if started < first.get(endpoint_id, float("inf")):
            first[endpoint_id] = started
    written.rows = len(rows) + len(alone)
    # Endpoint rows first: on MySQL/MariaDB the inserts below take shared locks on them (foreign key
    # checks), and a later UPDATE would have to upgrade those to exclusive ones, which deadlocks two
    # writers of the same endpoints. Taken exclusive first (in id order), the writers simply queue.
    touch_endpoints(conn, t, {endpoint_ids[n]: ts for n, ts in last_seen.items() if n in endpoint_ids}, first)
    profiles, outliers = [], []
    alone_ids = insert_requests(conn, t, [a[0] for a in alone])  # (their commit_seq is set below)
    for (request, outlier, profile), request_id in zip(alone, alone_ids):
        common = {"request_id": request_id, "endpoint_id": request["endpoint_id"],
                  "time_requested": request["time_requested"], "duration": request["duration"], "version": version}
        if outlier is not None:
            outliers.append({**outlier, **common, "status_code": request["status_code"]})
        if profile is not None:
            profiles.append((common, profile))
    insert_outliers(conn, t, outliers)
    written.outliers = len(outliers)
    if profiles:
        written.code_ids = insert_profiles(conn, t, profiles, code_ids or {})
        written.profiles = len(profiles)
    fold.apply(conn, t)
    exceptions.apply(conn, t, version)
    written.exceptions = len(exceptions)
    if rows or alone_ids:
        # Last: the commit sequence (fmd.store.sequence) locks one counter row until the commit, so only the bulk
        # insert and the commit wait on other writers; the rows then carry the order they become visible in.
        seq = take_next(conn, t)
        if alone_ids:
            r = t.request
            conn.execute(update(r).where(r.c.id.in_(alone_ids)).values(commit_seq=seq))
        insert_tuples(conn, t.request, REQUEST_COLUMNS + ("commit_seq",), [row + (seq,) for row in rows])
    return written


class Written:
    """What one batch stored."""

    __slots__ = ("rows", "events", "outliers", "exceptions", "profiles", "code_ids")

    def __init__(self, rows: int = 0, events: int = 0) -> None:
        self.rows = rows  # raw request rows
        self.events = events  # EVENT records
        self.profiles = 0
        self.code_ids: dict = {}  # code_line ids looked up by this batch (cached by the writer after commit)
        self.outliers = 0
        self.exceptions = 0  # exception occurrences


#: Column order of the tuples write_batch inserts into the request table.
REQUEST_COLUMNS = ("endpoint_id", "duration", "time_requested", "version_requested", "group_by", "ip", "status_code")


def insert_tuples(conn: Connection, table, columns: Sequence[str], rows: list[tuple]) -> None:  # noqa: ANN001
    """A plain executemany of tuples: ~1 µs a row, where Core's per-row parameter processing costs ~4 µs.

    Values must already be in the driver's form (SQLite: datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text,
    the format SQLAlchemy's SQLite DateTime stores and parses).
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if conn.dialect.paramstyle in ("qmark",) else "%s"
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    conn.exec_driver_sql(sql, rows)


def touch_endpoints(conn: Connection, t: Tables, last: Mapping[int, float], first: Mapping[int, float]) -> None:
    """Move endpoints' last_requested forward (never back) and set first_requested once."""
    if not last:
        return
    e = t.endpoint
    stmt = (update(e).where(e.c.id == bindparam("eid"))
            .values(last_requested=case((e.c.last_requested.is_(None), bindparam("last")),
                                        (e.c.last_requested < bindparam("last"), bindparam("last")),
                                        else_=e.c.last_requested),
                    first_requested=func.coalesce(e.c.first_requested, bindparam("first"))))
    params = [{"eid": eid, "last": _utc(ts), "first": _utc(first.get(eid, ts))} for eid, ts in sorted(last.items())]
    conn.execute(stmt, params)


def _utc(epoch: float) -> datetime:
    whole = int(epoch)
    return utc_from_epoch(whole) + timedelta(microseconds=round((epoch - whole) * 1e6))


# ----------------------------------------------------------------------------------------- levels

def levels_version(conn: Connection, t: Tables) -> str:
    return conn.execute(select(t.meta.c.value).where(t.meta.c.key == LEVELS_VERSION_KEY)).scalar() or ""


def load_levels(conn: Connection, t: Tables) -> dict[str, int]:
    return dict(conn.execute(select(t.endpoint.c.name, t.endpoint.c.monitor_level)).all())


def store_level(conn: Connection, t: Tables, endpoint: str, level: int) -> None:
    """Set one endpoint's level (creating the endpoint if needed) and bump the shared levels version."""
    ids = ensure_endpoints(conn, t, [endpoint], {endpoint: level})
    conn.execute(update(t.endpoint).where(t.endpoint.c.id == ids[endpoint]).values(monitor_level=level))
    bump_levels_version(conn, t)


def bump_levels_version(conn: Connection, t: Tables) -> None:
    token = uuid.uuid4().hex
    updated = conn.execute(update(t.meta).where(t.meta.c.key == LEVELS_VERSION_KEY).values(value=token)).rowcount
    if not updated:
        insert_ignore(conn, t.meta, [{"key": LEVELS_VERSION_KEY, "value": token}], ("key",))


# ----------------------------------------------------------------------------------------- health

def report_process(conn: Connection, t: Tables, row: dict) -> None:
    """Upsert this process's recording health (its id is host:pid:start)."""
    p = t.process
    if conn.execute(update(p).where(p.c.id == row["id"]).values(**row)).rowcount == 0:
        insert_ignore(conn, p, [row], ("id",))


def prune_batches(conn: Connection, t: Tables, older_than: timedelta = timedelta(days=2)) -> None:
    conn.execute(delete(t.batch).where(t.batch.c.written_at < utcnow() - older_than))


__all__ = ["AlreadyWritten", "ensure_endpoints", "write_batch", "levels_version", "load_levels", "store_level",
           "report_process", "prune_batches", "new_batch_id", "increment", "utcnow"]


from .extras import ExceptionFold, insert_outliers, insert_profiles, insert_requests  # noqa: E402,I001 - they import this
