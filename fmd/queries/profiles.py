"""One endpoint's profiled requests (level 3): a page of them, one request's tree, and the trees to merge.

Every read is bounded: a page (``PAGE_SIZE`` rows), one request's tree, or the trees of at most the newest
``MERGE_LIMIT`` profiled requests of a range (optionally of one version) for the grouped profiler and the diff.
All filter on the endpoint and ``time_requested`` inside a ``TimeRange`` (``[start, end)``, naive UTC) and order
newest first (ties by id, so paging is stable).

Trees are stored in pre-order (``stack_line``: position, indent, duration, samples, code line); they are rebuilt
here with ``fmd.trees.from_rows``, so the dashboard never sees the storage layout. Durations stay in seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from sqlalchemy import Connection, func, select

from ..store.models import Tables
from ._range import TimeRange

if TYPE_CHECKING:  # fmd.trees is pure; imported when a tree is built
    from ..trees import Node

#: Profiled requests per page of the Profiler tab.
PAGE_SIZE = 25
#: The newest profiled requests the grouped profiler, the diff and the speedscope download merge.
MERGE_LIMIT = 100
#: Columns of a profile row.
_COLUMNS = ("id", "request_id", "time_requested", "duration", "version", "samples", "interval_ms", "cut")


def _where(t: Tables, endpoint_id: int, rng: TimeRange | None, version: str | None = None) -> list:
    p = t.profile
    where = [p.c.endpoint_id == endpoint_id]
    if rng is not None:
        where += [p.c.time_requested >= rng.start, p.c.time_requested < rng.end]
    if version is not None:
        where.append(p.c.version == version)
    return where


def _newest(t: Tables, endpoint_id: int, rng: TimeRange | None, version: str | None = None):  # noqa: ANN202
    p = t.profile
    return (select(*(p.c[name] for name in _COLUMNS)).where(*_where(t, endpoint_id, rng, version))
            .order_by(p.c.time_requested.desc(), p.c.id.desc()))


def count_profiles(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> int:
    """How many profiled requests of the endpoint fall in *rng*."""
    return conn.execute(select(func.count()).select_from(t.profile).where(*_where(t, endpoint_id, rng))).scalar_one()


def profiles_page(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange, page: int,
                  size: int = PAGE_SIZE) -> list[dict]:
    """Page *page* (1-based) of the endpoint's profiled requests in *rng*, newest first.

    Each row: id, request_id, time_requested, duration (s), version, samples, interval_ms (or None), cut (or None).
    """
    if page < 1 or size < 1:
        raise ValueError("page and size start at 1")
    query = _newest(t, endpoint_id, rng).limit(size).offset((page - 1) * size)
    return [dict(row._mapping) for row in conn.execute(query)]


def mean_interval(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange) -> float | None:
    """The mean achieved sampling interval (ms) over the profiled requests in *rng* that took samples, or None."""
    p = t.profile
    return conn.execute(select(func.avg(p.c.interval_ms)).where(
        *_where(t, endpoint_id, rng), p.c.interval_ms.is_not(None))).scalar_one()


def profile_by_id(conn: Connection, t: Tables, endpoint_id: int, profile_id: int) -> dict | None:
    """One profiled request of the endpoint, or None (unknown, or another endpoint's)."""
    if not 0 <= profile_id < 2**63:  # a bigger id (from a URL) would overflow the drivers' integer binding
        return None
    p = t.profile
    row = conn.execute(select(*(p.c[name] for name in _COLUMNS))
                       .where(p.c.id == profile_id, p.c.endpoint_id == endpoint_id)).first()
    return dict(row._mapping) if row is not None else None


def versions_with_profiles(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange | None = None) -> list[dict]:
    """{version, profiles, last} per version with profiled requests (in *rng* if given), most recent first."""
    p = t.profile
    last = func.max(p.c.time_requested)
    query = (select(p.c.version, func.count().label("profiles"), last.label("last"))
             .where(*_where(t, endpoint_id, rng)).group_by(p.c.version).order_by(last.desc(), p.c.version))
    return [dict(row._mapping) for row in conn.execute(query)]


def recent_profiles(conn: Connection, t: Tables, endpoint_id: int, rng: TimeRange | None = None,
                    version: str | None = None, limit: int = MERGE_LIMIT) -> list[dict]:
    """The newest *limit* profiled requests (in *rng*, of *version* when given), newest first."""
    return [dict(row._mapping) for row in conn.execute(_newest(t, endpoint_id, rng, version).limit(limit))]


def stack_rows(conn: Connection, t: Tables, request_ids: Sequence[int]) -> dict[int, list[tuple]]:
    """request_id -> its stored tree rows in position order: (indent, (file, line, function, code), duration, samples).

    A request without stack rows is left out.
    """
    s, c = t.stack_line, t.code_line
    rows: dict[int, list[tuple]] = {}
    for start in range(0, len(request_ids), MERGE_LIMIT):  # IN lists of a bounded size
        chunk = list(request_ids[start:start + MERGE_LIMIT])
        query = (select(s.c.request_id, s.c.indent, c.c.filename, c.c.line_number, c.c.function_name, c.c.code,
                        s.c.duration, s.c.samples)
                 .join(c, c.c.id == s.c.code_id).where(s.c.request_id.in_(chunk))
                 .order_by(s.c.request_id, s.c.position))
        for row in conn.execute(query):
            rows.setdefault(row.request_id, []).append(
                (row.indent, (row.filename, row.line_number, row.function_name, row.code), row.duration, row.samples))
    return rows


def tree_of(conn: Connection, t: Tables, request_id: int) -> "Node | None":
    """The execution tree of one profiled request, or None when none was stored."""
    from ..trees import from_rows

    rows = stack_rows(conn, t, [request_id]).get(request_id)
    return from_rows(rows) if rows else None


def trees_of(conn: Connection, t: Tables, profiles: Sequence[dict]) -> list["Node"]:
    """The trees of *profiles* (rows with a request_id), in their order; requests without a stored tree left out."""
    from ..trees import from_rows

    rows = stack_rows(conn, t, [p["request_id"] for p in profiles])
    return [from_rows(rows[p["request_id"]]) for p in profiles if p["request_id"] in rows]
