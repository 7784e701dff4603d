"""The dashboard's changes to exception groups: resolve remembers the versions, reopen clears them, delete
removes the group with its daily counts; a missing group is reported, never created."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from exception_data import group
from rollup_data import record
from sqlalchemy import func, select

from fmd.store import exception_groups as groups
from fmd.store.engine import Store

D = datetime(2024, 3, 4)


def row(store: Store, gid: int):  # noqa: ANN201
    x = store.tables.exception_group
    with store.read() as conn:
        return conn.execute(select(x).where(x.c.id == gid)).first()


def day_rows(store: Store, gid: int) -> int:
    d = store.tables.exception_day
    with store.read() as conn:
        return conn.execute(select(func.count()).where(d.c.group_id == gid)).scalar_one()


def test_resolve_stores_every_version_seen_and_reopen_clears(store: Store) -> None:
    eid = record(store, [], endpoints=["a"])["a"]
    gid = group(store, "KeyError", [(D, eid, "1.0", 2), (D + timedelta(days=1), eid, "1.1", 1),
                                    (D + timedelta(days=1), 0, "1.0", 4)])
    other = group(store, "ValueError", [(D, eid, "9.9", 1)])
    moment = datetime(2024, 3, 6, 8, 30)
    with store.write() as conn:
        assert groups.resolve(conn, store.tables, gid, now=moment)
    resolved = row(store, gid)
    assert resolved.resolved_at == moment and json.loads(resolved.resolved_versions) == ["1.0", "1.1"]
    assert row(store, other).resolved_at is None  # only that group
    with store.write() as conn:
        assert groups.reopen(conn, store.tables, gid)
    reopened = row(store, gid)
    assert reopened.resolved_at is None and reopened.resolved_versions is None
    assert reopened.count == 7 and day_rows(store, gid) == 3  # counts untouched


def test_resolve_keeps_the_last_version_when_day_rows_are_gone(store: Store) -> None:
    gid = group(store, "KeyError", [(D, 0, "2.0", 1)])
    d = store.tables.exception_day
    with store.write() as conn:
        conn.execute(d.delete().where(d.c.group_id == gid))
        assert groups.resolve(conn, store.tables, gid)
    assert json.loads(row(store, gid).resolved_versions) == ["2.0"]
    assert row(store, gid).resolved_at is not None


def test_delete_removes_the_group_and_its_days(store: Store) -> None:
    eid = record(store, [], endpoints=["a"])["a"]
    gid = group(store, "KeyError", [(D, eid, "1.0", 2), (D + timedelta(days=1), eid, "1.0", 1)])
    keep = group(store, "ValueError", [(D, eid, "1.0", 1)])
    with store.write() as conn:
        assert groups.delete(conn, store.tables, gid)
    assert row(store, gid) is None and day_rows(store, gid) == 0
    assert row(store, keep) is not None and day_rows(store, keep) == 1


def test_a_missing_group_changes_nothing(store: Store) -> None:
    gid = group(store, "KeyError", [(D, 0, "1.0", 1)])
    with store.write() as conn:
        for missing in (gid + 1, 0, -1, 2**40):
            assert not groups.resolve(conn, store.tables, missing)
            assert not groups.reopen(conn, store.tables, missing)
            assert not groups.delete(conn, store.tables, missing)
    assert row(store, gid).resolved_at is None and day_rows(store, gid) == 1
