"""Fold a batch of requests into rollup increments, and apply them with atomic per-dialect upserts.

The writer and the demo seeder both go through ``Fold``: one increment per rollup key per batch, so many
workers writing one database contend on few rows, and the counts stay exact whatever the batch size.
Upserts add to the stored counters in SQL (``count = count + excluded.count``), which is atomic on
SQLite, PostgreSQL (``ON CONFLICT DO UPDATE``) and MySQL/MariaDB (``ON DUPLICATE KEY UPDATE``). Rows are
sent sorted by key so two writers lock rows in the same order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable

from sqlalchemy import Connection, Table

from .histogram import bucket_of
from .models import Tables

_EPOCH_CACHE: dict[int, datetime] = {}


def utc_from_epoch(seconds: int) -> datetime:
    """Naive UTC datetime for a whole number of epoch seconds (cached: batches share few hours)."""
    value = _EPOCH_CACHE.get(seconds)
    if value is None:
        if len(_EPOCH_CACHE) > 10_000:
            _EPOCH_CACHE.clear()
        value = _EPOCH_CACHE[seconds] = datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
    return value


class Fold:
    """Rollup increments for one batch: hourly and daily counters, hourly and daily histograms, per-user and
    per-IP daily rollups, unrouted counts."""

    def __init__(self) -> None:
        self.rollup: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
        self.rollup_day: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
        self.hist_hour: dict[tuple, int] = defaultdict(int)
        self.hist_day: dict[tuple, int] = defaultdict(int)
        self.unrouted: dict[tuple, int] = defaultdict(int)
        self.group: dict[tuple, list] = defaultdict(lambda: [0, 0.0])
        self.hist_group: dict[tuple, int] = defaultdict(int)
        self.ip: dict[tuple, list] = defaultdict(lambda: [0, 0.0])

    def add(self, endpoint_id: int, started: float, duration: float, version: str, status: int,
            group_by: str, ip: str) -> None:
        hour = int(started // 3600) * 3600
        day = int(started // 86400) * 86400
        bucket = bucket_of(duration)
        counters = self.rollup[(endpoint_id, hour, version, status)]
        counters[0] += 1
        counters[1] += duration
        counters = self.rollup_day[(endpoint_id, day, version, status)]
        counters[0] += 1
        counters[1] += duration
        self.hist_hour[(endpoint_id, hour, version, status, bucket)] += 1
        self.hist_day[(endpoint_id, day, version, status, bucket)] += 1
        counters = self.group[(endpoint_id, day, version, group_by)]
        counters[0] += 1
        counters[1] += duration
        self.hist_group[(endpoint_id, day, group_by, bucket)] += 1
        counters = self.ip[(endpoint_id, day, version, ip)]
        counters[0] += 1
        counters[1] += duration

    def add_unrouted(self, started: float, status: int) -> None:
        self.unrouted[(int(started // 3600) * 3600, status)] += 1

    def apply(self, conn: Connection, t: Tables) -> None:
        """Add this fold's increments to the stored rollups (inside the caller's transaction)."""
        increment(conn, t.rollup_hour, ("endpoint_id", "hour", "version", "status_code"), ("count", "duration_sum"),
                  ((e, utc_from_epoch(h), v, s, c[0], c[1]) for (e, h, v, s), c in sorted(self.rollup.items())))
        increment(conn, t.rollup_day, ("endpoint_id", "day", "version", "status_code"), ("count", "duration_sum"),
                  ((e, utc_from_epoch(d), v, s, c[0], c[1]) for (e, d, v, s), c in sorted(self.rollup_day.items())))
        for table, grain, counts in ((t.histogram_hour, "hour", self.hist_hour), (t.histogram_day, "day", self.hist_day)):
            increment(conn, table, ("endpoint_id", grain, "version", "status_code", "bucket"), ("count",),
                      ((e, utc_from_epoch(g), v, s, b, n) for (e, g, v, s, b), n in sorted(counts.items())))
        increment(conn, t.rollup_group_day, ("endpoint_id", "day", "version", "group_by"), ("count", "duration_sum"),
                  ((e, utc_from_epoch(d), v, g, c[0], c[1]) for (e, d, v, g), c in sorted(self.group.items())))
        increment(conn, t.histogram_group_day, ("endpoint_id", "day", "group_by", "bucket"), ("count",),
                  ((e, utc_from_epoch(d), g, b, n) for (e, d, g, b), n in sorted(self.hist_group.items())))
        increment(conn, t.rollup_ip_day, ("endpoint_id", "day", "version", "ip"), ("count", "duration_sum"),
                  ((e, utc_from_epoch(d), v, i, c[0], c[1]) for (e, d, v, i), c in sorted(self.ip.items())))
        increment(conn, t.unrouted_hour, ("hour", "status_code"), ("count",),
                  ((utc_from_epoch(h), s, n) for (h, s), n in sorted(self.unrouted.items())))


def increment(conn: Connection, table: Table, keys: tuple[str, ...], adds: tuple[str, ...],
              rows: Iterable[tuple]) -> None:
    """Insert each row, or add its *adds* columns to the existing row with the same *keys*."""
    names = keys + adds
    params = [dict(zip(names, row)) for row in rows]
    if not params:
        return
    backend = conn.dialect.name
    if backend in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        stmt = mysql_insert(table)
        stmt = stmt.on_duplicate_key_update({c: table.c[c] + stmt.inserted[c] for c in adds})
    else:
        if backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - other dialects are not supported for writing
            raise NotImplementedError(f"fmd cannot write rollups to {backend}")
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=list(keys),
                                          set_={c: table.c[c] + stmt.excluded[c] for c in adds})
    conn.execute(stmt, params)
