"""Exception groups and their daily counts written straight into the store (imported by the exception tests;
pytest does not collect it). The writer's own upserts are tested with the writer; these tests need known rows.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import insert

from fmd.store.engine import Store

EVIL = "<script>alert('x')</script>"


def traceback(message: str = "boom", cause: dict | None = None) -> dict:
    """A traceback in the recorder's shape: a library frame, then two app frames (the last one failing)."""
    return {"type": "builtins.ValueError", "message": message, "cut": ["locals.payload: 200 of 9000 characters kept"],
            "frames": [
                {"file": "site-packages/flask/app.py", "line": 880, "function": "full_dispatch_request",
                 "code": "rv = self.dispatch_request()", "app": False, "context": [], "locals": {}},
                {"file": "site-packages/flask/app.py", "line": 865, "function": "dispatch_request",
                 "code": "return view(**args)", "app": False, "context": [], "locals": {}},
                {"file": "app/views.py", "line": 12, "function": "checkout", "code": "total = price(cart)",
                 "app": True, "context": [[11, "cart = load()"], [12, "total = price(cart)"]],
                 "locals": {"cart": "[1, 2]"}},
                {"file": "app/pricing.py", "line": 40, "function": "price", "code": "raise ValueError(message)",
                 "app": True, "context": [[39, "if not items:"], [40, "    raise ValueError(message)"],
                                          [41, "return sum(items)"]],
                 "locals": {"message": repr(message), "evil": repr(EVIL)}}],
            "cause": cause}


def group(store: Store, type_: str, days: Iterable[tuple[datetime, int, str, int]], message: str = "boom",
          location: str = "app/pricing.py:price", resolved_at: datetime | None = None,
          resolved_versions: Sequence[str] | None = None, tb: dict | None | bool = True,
          traceback_at: datetime | None = None) -> int:
    """One group with its day rows (day, endpoint id, version, count); counts and times follow from the days."""
    rows = list(days)
    first = min(r[0] for r in rows)
    last = max(r[0] for r in rows)
    last_version = max(rows, key=lambda r: r[0])[2]
    body = traceback(message) if tb is True else tb
    t = store.tables
    with store.write() as conn:
        gid = conn.execute(insert(t.exception_group).values(
            fingerprint=hashlib.sha256(f"{type_}|{location}|{message}".encode()).hexdigest(),
            exception_type=type_, location=location, message=message, count=sum(r[3] for r in rows),
            first_seen=first, last_seen=last.replace(hour=12), last_version=last_version, resolved_at=resolved_at,
            resolved_versions=json.dumps(list(resolved_versions)) if resolved_versions is not None else None,
            traceback=json.dumps(body) if body else None,
            traceback_at=(traceback_at or last.replace(hour=12)) if body else None)).inserted_primary_key[0]
        conn.execute(insert(t.exception_day), [
            {"group_id": gid, "day": day, "endpoint_id": eid, "version": version, "count": n}
            for day, eid, version, n in rows])
    return gid
