"""The dashboard's changes to exception groups: resolve, reopen, delete (admins only; the views check that).

Resolving records the versions the group had been seen in (``resolved_versions``): the writer reopens a resolved
group when it occurs in a version not in that list (fmd.store.writes), so a fix shipped in a new version that
did not fix it shows up again, while stragglers of the old versions do not. Each function runs inside the
caller's write transaction and returns False when the group does not exist.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import Connection, select, update
from sqlalchemy import delete as sql_delete

from .models import Tables


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _lock(conn: Connection, t: Tables, group_id: int) -> tuple | None:
    """The group's row, locked (PostgreSQL/MySQL) so a concurrent writer upsert waits for this change."""
    if not 0 < group_id < 2**31:
        return None
    x = t.exception_group
    return conn.execute(select(x.c.id, x.c.last_version).where(x.c.id == group_id).with_for_update()).first()


def resolve(conn: Connection, t: Tables, group_id: int, now: datetime | None = None) -> bool:
    """Mark the group resolved now, remembering every version it has occurred in."""
    row = _lock(conn, t, group_id)
    if row is None:
        return False
    d = t.exception_day
    versions = {v for (v,) in conn.execute(select(d.c.version).distinct().where(d.c.group_id == group_id))}
    # The latest occurrence's version, even when retention has pruned its day rows.
    versions.add(row.last_version or "")
    x = t.exception_group
    conn.execute(update(x).where(x.c.id == group_id).values(
        resolved_at=now or _utcnow(), resolved_versions=json.dumps(sorted(versions))))
    return True


def reopen(conn: Connection, t: Tables, group_id: int) -> bool:
    """Mark the group open again."""
    if _lock(conn, t, group_id) is None:
        return False
    x = t.exception_group
    conn.execute(update(x).where(x.c.id == group_id).values(resolved_at=None, resolved_versions=None))
    return True


def delete(conn: Connection, t: Tables, group_id: int) -> bool:
    """Delete the group and its daily counts (a later occurrence starts a new group)."""
    if _lock(conn, t, group_id) is None:
        return False
    conn.execute(sql_delete(t.exception_day).where(t.exception_day.c.group_id == group_id))
    conn.execute(sql_delete(t.exception_group).where(t.exception_group.c.id == group_id))
    return True
