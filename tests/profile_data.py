"""Profiled requests written straight into the store, for the profiler's query, view and browser tests.

A tree is ``(frame, duration_s, samples, [children])`` with ``frame = (file, line, function, code)``; ``seed_profile``
stores it the way the writer does: a ``profile`` row, the code lines once in ``code_line``, one ``stack_line``
per node in pre-order (position, indent, duration including children, samples). No fmd.trees needed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from fmd.store.models import Tables

VIEW = ("/srv/app/views.py", 10, "search", "return a()")
A = ("/srv/app/views.py", 20, "a", "b(); c()")
B = ("/srv/app/views.py", 30, "b", "time.sleep(0.03)")
C = ("/srv/app/views.py", 40, "c", "time.sleep(0.01)")
LIB = ("/usr/lib/python3/site-packages/sqlalchemy/engine/base.py", 1412, "execute", "return meth()")
LIB2 = ("/usr/lib/python3/site-packages/pymysql/connections.py", 731, "_read_packet", "recv()")
HELPER = ("/srv/app/models.py", 7, "on_row", "return row")


def shape(b_ms: float = 30.0, c_ms: float = 10.0) -> tuple:
    """The known call structure: search() -> a() -> b() (sleeps b_ms) and c() (sleeps c_ms); 1 sample per ms/5."""
    total = (b_ms + c_ms + 1) / 1000
    return (VIEW, total, round(total * 200), [
        (A, (b_ms + c_ms) / 1000, round((b_ms + c_ms) / 5), [
            (B, b_ms / 1000, round(b_ms / 5), []),
            (C, c_ms / 1000, round(c_ms / 5), [])])])


def with_library(ms: float = 20.0) -> tuple:
    """search() -> execute() [library] -> _read_packet() [library] -> on_row() [app], plus a() -> b()."""
    return (VIEW, (ms + 31) / 1000, 10, [
        (A, 0.030, 6, [(B, 0.030, 6, [])]),
        (LIB, ms / 1000, 4, [(LIB2, ms / 1000 * 0.75, 3, [(HELPER, ms / 1000 / 2, 2, [])])])])


def _code_id(conn: Connection, t: Tables, frame: tuple, cache: dict) -> int:
    key = frame[:3]
    if key in cache:
        return cache[key]
    c = t.code_line
    row = conn.execute(select(c.c.id).where(c.c.filename == frame[0], c.c.line_number == frame[1],
                                            c.c.function_name == frame[2])).first()
    if row is None:
        code_id = conn.execute(c.insert().values(filename=frame[0], line_number=frame[1], function_name=frame[2],
                                                 code=frame[3])).inserted_primary_key[0]
    else:
        code_id = row[0]
    cache[key] = code_id
    return code_id


def seed_profile(conn: Connection, t: Tables, endpoint_id: int, request_id: int, when: datetime, tree: Any,
                 version: str = "1.0", interval_ms: float | None = 5.2, cut: str | None = None,
                 cache: dict | None = None) -> int:
    """Store one profiled request with *tree* (None: no stack rows); returns the profile's id."""
    cache = {} if cache is None else cache
    duration = tree[1] if tree else 0.05
    samples = tree[2] if tree else 0
    profile_id = conn.execute(t.profile.insert().values(
        request_id=request_id, endpoint_id=endpoint_id, time_requested=when, duration=duration, version=version,
        samples=samples, interval_ms=interval_ms, cut=cut)).inserted_primary_key[0]
    rows, todo = [], [(tree, 0)] if tree else []
    while todo:
        (frame, dur, count, children), indent = todo.pop()
        rows.append({"request_id": request_id, "position": len(rows), "code_id": _code_id(conn, t, frame, cache),
                     "indent": indent, "duration": dur, "samples": count})
        todo.extend((child, indent + 1) for child in reversed(children))
    if rows:
        conn.execute(t.stack_line.insert(), rows)
    return profile_id
