"""The exception groups the dashboard lists: one page of groups, their daily counts, one group's traceback.

Groups (``exception_group``) are app-wide; ``exception_day`` counts their occurrences per UTC day, endpoint and
version. A page of the list costs three statements whatever the number of groups: the page of group ids (groups
with an occurrence in the range that pass the filters, newest ``last_seen`` first), their number, and ONE grouped
read of the day rows of those (at most PAGE_SIZE) groups in the range, from which every row's sparkline,
endpoints and versions are made. A range of local days stands for the UTC days whose noon lies in it (as the
daily rollups, see ``queries.endpoint.day_span``): day rows cannot be cut finer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Connection, Select, distinct, func, select

from ..store.models import Tables
from ._range import TimeRange
from .endpoint import day_span

#: Groups per page of the list.
PAGE_SIZE = 25
#: The state filter's choices; "open" is the default.
STATES = ("open", "resolved", "all")
#: endpoint_id of occurrences outside any request (fmd.capture in a job), and how it is shown.
OUTSIDE = 0
OUTSIDE_NAME = "outside a request"
#: How deep a chain of causes is shown (the recorder caps it too; this keeps a hand-made row from recursing).
MAX_CAUSES = 8


@dataclass(frozen=True)
class GroupFilter:
    """Which groups a list shows, besides the range: an endpoint (0 = outside a request), a version, a state."""

    endpoint_id: int | None = None
    version: str | None = None
    state: str = "open"

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {self.state!r}")


@dataclass(frozen=True)
class GroupPage:
    """One page of the list: its rows (see ``group_rows``), the number of matching groups, page and pages."""

    rows: list[dict]
    total: int
    page: int
    pages: int


def _days(span: TimeRange) -> tuple[datetime, datetime]:
    return day_span(span)


def _matching(t: Tables, span: TimeRange, f: GroupFilter) -> Select:
    """group_id and occurrences in the range (on the filter's endpoint and version) of the matching groups."""
    d = t.exception_day
    d0, d1 = _days(span)
    stmt = select(d.c.group_id, func.sum(d.c["count"]).label("n")).where(d.c.day >= d0, d.c.day < d1)
    if f.endpoint_id is not None:
        stmt = stmt.where(d.c.endpoint_id == f.endpoint_id)
    if f.version is not None:
        stmt = stmt.where(d.c.version == f.version)
    return stmt.group_by(d.c.group_id)


def _state(stmt: Select, t: Tables, state: str) -> Select:
    x = t.exception_group
    if state == "open":
        return stmt.where(x.c.resolved_at.is_(None))
    if state == "resolved":
        return stmt.where(x.c.resolved_at.is_not(None))
    return stmt


def _group_columns(t: Tables) -> list:
    x = t.exception_group
    return [x.c.id, x.c.exception_type, x.c.location, x.c.message, x.c["count"], x.c.first_seen, x.c.last_seen,
            x.c.last_version, x.c.resolved_at, x.c.resolved_versions, x.c.traceback_at]


def _group(row: Any) -> dict:
    return {"id": row.id, "type": row.exception_type, "location": row.location, "message": row.message or "",
            "total": int(row.count or 0), "first_seen": row.first_seen, "last_seen": row.last_seen,
            "last_version": row.last_version, "resolved_at": row.resolved_at,
            "resolved_versions": _json_list(row.resolved_versions), "traceback_at": row.traceback_at,
            "open": row.resolved_at is None}


def groups_page(conn: Connection, t: Tables, span: TimeRange, f: GroupFilter, page: int = 1,
                per_page: int = PAGE_SIZE) -> GroupPage:
    """Page *page* (from 1) of the groups with occurrences in *span* that pass *f*, newest last_seen first."""
    x = t.exception_group
    sub = _matching(t, span, f).subquery()
    base = select(*_group_columns(t), sub.c.n).join(sub, sub.c.group_id == x.c.id)
    base = _state(base, t, f.state)
    total = conn.execute(_state(select(func.count()).select_from(x.join(sub, sub.c.group_id == x.c.id)),
                                t, f.state)).scalar_one()
    pages = max(1, -(-total // per_page))
    rows = conn.execute(base.order_by(x.c.last_seen.desc(), x.c.id.desc())
                        .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    groups = [{**_group(r), "in_range": int(r.n or 0)} for r in rows]
    _add_days(conn, t, span, groups)
    return GroupPage(groups, int(total), page, pages)


def group_rows(conn: Connection, t: Tables, span: TimeRange, f: GroupFilter, ids: Sequence[int]) -> list[dict]:
    """The list rows of the groups *ids* (whatever their state), as ``groups_page`` makes them."""
    ids = [i for i in ids if 0 < i < 2**31]
    if not ids:
        return []
    x = t.exception_group
    sub = _matching(t, span, f).where(t.exception_day.c.group_id.in_(ids)).subquery()
    rows = conn.execute(select(*_group_columns(t), sub.c.n).outerjoin(sub, sub.c.group_id == x.c.id)
                        .where(x.c.id.in_(ids)).order_by(x.c.last_seen.desc(), x.c.id.desc())).all()
    groups = [{**_group(r), "in_range": int(r.n or 0)} for r in rows]
    _add_days(conn, t, span, groups)
    return groups


def _add_days(conn: Connection, t: Tables, span: TimeRange, groups: list[dict]) -> None:
    """Fill each group's ``days`` ({day, count}), ``endpoints`` ({id, name, count, outside, exists}) and
    ``versions`` (oldest first) in the range from one grouped read of the day rows of all *groups*, whatever the
    list's filter."""
    for g in groups:
        g.update(days=[], endpoints=[], versions=[])
    if not groups:
        return
    d, e = t.exception_day, t.endpoint
    d0, d1 = _days(span)
    stmt = (select(d.c.group_id, d.c.day, d.c.endpoint_id, e.c.name, d.c.version, func.sum(d.c["count"]))
            .select_from(d.outerjoin(e, e.c.id == d.c.endpoint_id))
            .where(d.c.group_id.in_([g["id"] for g in groups]), d.c.day >= d0, d.c.day < d1)
            .group_by(d.c.group_id, d.c.day, d.c.endpoint_id, e.c.name, d.c.version))
    per_day: dict[int, dict[date, int]] = {}
    per_endpoint: dict[int, dict[int, list]] = {}
    first_day: dict[int, dict[str, datetime]] = {}
    for gid, day, eid, name, version, n in conn.execute(stmt):
        n = int(n or 0)
        key = day.date() if isinstance(day, datetime) else day
        per_day.setdefault(gid, {}).setdefault(key, 0)
        per_day[gid][key] += n
        label = OUTSIDE_NAME if eid == OUTSIDE else (name if name is not None else f"endpoint {eid} (removed)")
        entry = per_endpoint.setdefault(gid, {}).setdefault(eid, [label, 0, name is not None])
        entry[1] += n
        seen = first_day.setdefault(gid, {})
        seen[version] = min(seen.get(version, day), day)
    for g in groups:
        gid = g["id"]
        g["days"] = [{"day": day.isoformat(), "count": n} for day, n in sorted(per_day.get(gid, {}).items())]
        g["endpoints"] = [{"id": eid, "name": name, "count": n, "outside": eid == OUTSIDE, "exists": exists}
                          for eid, (name, n, exists) in sorted(per_endpoint.get(gid, {}).items(),
                                                       key=lambda item: (-item[1][1], item[1][0]))]
        g["versions"] = [v for v, _ in sorted(first_day.get(gid, {}).items(), key=lambda item: (item[1], item[0]))]


def range_days(span: TimeRange) -> list[str]:
    """The UTC days (ISO dates) a list over *span* counts: the sparkline's x axis."""
    d0, d1 = _days(span)
    return [(d0 + timedelta(days=i)).date().isoformat() for i in range((d1 - d0).days)]


def group_by_id(conn: Connection, t: Tables, group_id: int) -> dict | None:
    """One group (as in the list, without the range figures) with its parsed ``traceback``, or None."""
    if not 0 < group_id < 2**31:  # ids are 32-bit; a bigger one from a URL would overflow SQLite's binding
        return None
    x = t.exception_group
    row = conn.execute(select(*_group_columns(t), x.c.traceback).where(x.c.id == group_id)).first()
    if row is None:
        return None
    return {**_group(row), "traceback": parse_traceback(row.traceback)}


def filter_choices(conn: Connection, t: Tables) -> dict[str, list]:
    """What the filter form offers: endpoints ({id, name}) and versions that have any occurrence."""
    d, e = t.exception_day, t.endpoint
    eps = conn.execute(select(d.c.endpoint_id, e.c.name).distinct()
                       .select_from(d.outerjoin(e, e.c.id == d.c.endpoint_id))).all()
    endpoints = sorted(({"id": eid, "name": OUTSIDE_NAME if eid == OUTSIDE else (name or f"endpoint {eid}")}
                        for eid, name in eps), key=lambda r: (r["id"] != OUTSIDE, r["name"].casefold()))
    versions = sorted(v for (v,) in conn.execute(select(d.c.version).distinct()))
    return {"endpoints": endpoints, "versions": versions}


def open_groups_by_endpoint(conn: Connection, t: Tables) -> dict[int, int]:
    """endpoint id -> number of open groups with an occurrence on it (any time); one grouped read."""
    d, x = t.exception_day, t.exception_group
    stmt = (select(d.c.endpoint_id, func.count(distinct(d.c.group_id)))
            .select_from(d.join(x, x.c.id == d.c.group_id))
            .where(x.c.resolved_at.is_(None)).group_by(d.c.endpoint_id))
    return {eid: int(n) for eid, n in conn.execute(stmt)}


# ------------------------------------------------------------------------------------------- tracebacks

def _json_list(text: str | None) -> list[str]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def parse_traceback(text: str | None) -> dict | None:
    """The stored traceback JSON in the shape the page renders (every key present, every value its type);
    None when there is none or it cannot be read."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return _exception(value, 0) if isinstance(value, dict) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _exception(value: dict, depth: int) -> dict:
    frames = [_frame(f) for f in value.get("frames") or [] if isinstance(f, dict)]
    cause, cut = value.get("cause"), value.get("cut")
    return {"type": _text(value.get("type")), "message": _text(value.get("message")), "frames": frames,
            "runs": frame_runs(frames),
            "cut": [_text(c) for c in cut] if isinstance(cut, list) else [],
            "cause": _exception(cause, depth + 1) if isinstance(cause, dict) and depth < MAX_CAUSES else None}


def _frame(f: dict) -> dict:
    context = []
    for item in f.get("context") or []:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            context.append((_int(item[0]), _text(item[1])))
    local_vars = f.get("locals") if isinstance(f.get("locals"), dict) else {}
    return {"file": _text(f.get("file")), "line": _int(f.get("line")), "function": _text(f.get("function")),
            "code": _text(f.get("code")), "app": bool(f.get("app")), "context": context,
            "locals": [(str(k), _text(v)) for k, v in local_vars.items()]}


def frame_runs(frames: list[dict]) -> list[tuple[bool, list[dict]]]:
    """Consecutive frames split into runs of (app?, frames): library runs are folded on the page."""
    runs: list[tuple[bool, list[dict]]] = []
    for frame in frames:
        if runs and runs[-1][0] == frame["app"]:
            runs[-1][1].append(frame)
        else:
            runs.append((frame["app"], [frame]))
    return runs
