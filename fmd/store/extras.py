"""The writer's level-2 rows, in the batch's transaction: outliers and exception occurrences.

An outlier points at its raw request row, so that row is inserted alone to learn its id (outliers are rare;
the other rows of the batch still go in one executemany). Exception occurrences are folded per batch: one
upsert per group and one increment per (group, day, endpoint, version), in fingerprint order so that writers
of several processes lock groups in the same order. A resolved group reopens when an occurrence comes from a
version it had not been seen in when it was resolved.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

from sqlalchemy import Connection, func, insert, select, update

from .models import Tables
from .rollups import increment, utc_from_epoch
from .writes import _utc, insert_ignore, insert_tuples


def insert_requests(conn: Connection, t: Tables, rows: list[dict]) -> list[int]:
    """Insert raw request rows; their ids, in order. One statement where the dialect returns ids in the order
    of the rows (SQLite, PostgreSQL, MariaDB), else one statement a row (MySQL)."""
    if not rows:
        return []
    if conn.dialect.insert_executemany_returning_sort_by_parameter_order:
        result = conn.execute(insert(t.request).returning(t.request.c.id, sort_by_parameter_order=True), rows)
        return [row[0] for row in result]
    return [conn.execute(insert(t.request).values(**row)).inserted_primary_key[0] for row in rows]


def insert_outliers(conn: Connection, t: Tables, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(t.outlier), rows)


def mean_durations(conn: Connection, t: Tables, names: list[str], since: float) -> dict[str, tuple[int, float]]:
    """name -> (requests, mean duration in s) since epoch *since*, from the daily rollups (whole days)."""
    e, d = t.endpoint, t.rollup_day
    rows = conn.execute(select(e.c.name, func.sum(d.c["count"]), func.sum(d.c.duration_sum))
                        .join(d, d.c.endpoint_id == e.c.id)
                        .where(e.c.name.in_(names), d.c.day >= _day(since))
                        .group_by(e.c.name)).all()
    return {name: (int(count), float(total) / int(count)) for name, count, total in rows if count}


def insert_profiles(conn: Connection, t: Tables, profiles: list[tuple[dict, dict]],
                    known: Mapping[tuple, int]) -> dict[tuple, int]:
    """Profile rows and their trees (pre-order stack_line rows), with their code lines stored once.

    *known* maps (file, line, function) to code_line ids already committed (the writer's cache); returns the
    ids this call looked up, for the caller to cache once its transaction committed.
    """
    frames = {frame[:3]: frame for _, profile in profiles for _, frame, _, _ in profile["rows"]}
    new = code_line_ids(conn, t, [frame for key, frame in frames.items() if key not in known])
    ids = {**known, **new} if new else known
    conn.execute(insert(t.profile), [{**common, "samples": profile["samples"], "interval_ms": profile["interval_ms"],
                                      "cut": profile["cut"]} for common, profile in profiles])
    lines = []
    for common, profile in profiles:
        request_id = common["request_id"]
        lines += [(request_id, position, ids[frame[:3]], indent, duration, samples)
                  for position, (indent, frame, duration, samples) in enumerate(profile["rows"])]
    insert_tuples(conn, t.stack_line, STACK_LINE_COLUMNS, lines)
    return new


#: Column order of the tuples insert_profiles writes into stack_line.
STACK_LINE_COLUMNS = ("request_id", "position", "code_id", "indent", "duration", "samples")


def code_line_ids(conn: Connection, t: Tables, frames: list[tuple]) -> dict[tuple, int]:
    """(file, line, function) -> id of each frame's code_line row, created where missing."""
    c = t.code_line
    keys = sorted({frame[:3] for frame in frames})
    if not keys:
        return {}
    insert_ignore(conn, c, [{"filename": f[0], "line_number": f[1], "function_name": f[2], "code": f[3]}
                            for f in sorted(frames)], ("filename", "line_number", "function_name"))
    found: dict[tuple, int] = {}
    files = sorted({key[0] for key in keys})
    for start in range(0, len(files), 200):  # (an IN list per slice: a few files hold many lines)
        rows = conn.execute(select(c.c.id, c.c.filename, c.c.line_number, c.c.function_name)
                            .where(c.c.filename.in_(files[start:start + 200])))
        for row in rows:
            found[(row.filename, row.line_number, row.function_name)] = row.id
    return {key: found[key] for key in keys if key in found}


def _day(epoch: float) -> datetime:
    return utc_from_epoch(int(epoch)).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class _Group:
    type: str
    location: str
    message: str
    first: float
    last: float
    count: int = 0
    traceback: str | None = None
    traceback_at: float = 0.0
    versions: set = field(default_factory=set)


class ExceptionFold:
    """Exception occurrences of one batch, added up before they are written."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}
        self.days: dict[tuple, int] = {}

    def __len__(self) -> int:
        return sum(g.count for g in self.groups.values())

    def add(self, row: dict, endpoint_id: int, version: str) -> None:
        key, when = row["fingerprint"], row["when"]
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(row["type"], row["location"], row["message"], when, when)
        group.count += 1
        group.versions.add(version)
        if when >= group.last:
            group.last, group.message, group.type = when, row["message"], row["type"]
        group.first = min(group.first, when)
        if row.get("traceback") is not None and when >= group.traceback_at:
            group.traceback, group.traceback_at = row["traceback"], when
        day_key = (key, _day(when), endpoint_id, version)
        self.days[day_key] = self.days.get(day_key, 0) + 1

    def apply(self, conn: Connection, t: Tables, version: str) -> None:
        if not self.groups:
            return
        g = t.exception_group
        keys = sorted(self.groups)
        insert_ignore(conn, g, [{"fingerprint": k, "exception_type": self.groups[k].type,
                                 "location": self.groups[k].location, "message": self.groups[k].message,
                                 "count": 0, "first_seen": _utc(self.groups[k].first),
                                 "last_seen": _utc(self.groups[k].first), "last_version": version}
                                for k in keys], ("fingerprint",))
        stored = {row.fingerprint: row for row in conn.execute(
            select(g.c.id, g.c.fingerprint, g.c.first_seen, g.c.last_seen, g.c.resolved_at, g.c.resolved_versions)
            .where(g.c.fingerprint.in_(keys)).order_by(g.c.fingerprint).with_for_update())}
        for key in keys:
            group, row = self.groups[key], stored.get(key)
            if row is None:  # (deleted by an admin between the two statements: gone with its counts)
                continue
            last = _utc(group.last)
            values = {"count": g.c["count"] + group.count, "first_seen": min(row.first_seen, _utc(group.first))}
            if last >= row.last_seen:
                values.update(last_seen=last, message=group.message, exception_type=group.type,
                              last_version=version)
            if group.traceback is not None:
                values.update(traceback=group.traceback, traceback_at=_utc(group.traceback_at))
            if row.resolved_at is not None and not group.versions <= set(_versions(row.resolved_versions)):
                values.update(resolved_at=None, resolved_versions=None)  # seen in a version it had not been
            conn.execute(update(g).where(g.c.id == row.id).values(**values))
        ids = {key: row.id for key, row in stored.items()}
        increment(conn, t.exception_day, ("group_id", "day", "endpoint_id", "version"), ("count",),
                  [(ids[k], day, endpoint_id, v, n) for (k, day, endpoint_id, v), n in sorted(self.days.items(),
                   key=lambda item: (item[0][0], item[0][1], item[0][2], item[0][3])) if k in ids])


def _versions(text: str | None) -> list:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return value if isinstance(value, list) else []
