"""Purge and merge on SQLite, PostgreSQL and MariaDB: row counts before and after, rollups added up exactly,
and a running writer that still knows a merged endpoint's old id."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


import pytest
from lifecycle_data import add_outliers_and_profiles, counts, request_ids, sums, write
from sqlalchemy import func, select

from fmd.store.engine import Store
from fmd.store.purge import LifecycleError, find_endpoint, merge_endpoints, purge_endpoint

DAY1 = datetime(2024, 3, 4)




def traffic(name: str, day: datetime, n: int, user: str = "u", ip: str = "10.0.0.1", status: int = 200) -> list:
    """*n* requests of *name* spread over hours 9 and 10 of *day*."""
    return [(name, 0.01 + i * 0.001, day + timedelta(hours=9, minutes=i * 13 % 120), status, user, ip)
            for i in range(n)]


def endpoint_row(store: Store, name: str) -> dict | None:
    t = store.tables
    with store.read() as conn:
        row = conn.execute(select(t.endpoint).where(t.endpoint.c.name == name)).first()
    return None if row is None else dict(row._mapping)


def add_exception(store: Store, endpoint_id: int, fingerprint: str, count: int, seen: datetime) -> None:
    """*count* occurrences of the (app-wide) group *fingerprint* on *endpoint_id*, on the day of *seen*."""
    t = store.tables
    g = t.exception_group
    with store.write() as conn:
        gid = conn.execute(select(g.c.id).where(g.c.fingerprint == fingerprint)).scalar()
        if gid is None:
            gid = conn.execute(g.insert().values(fingerprint=fingerprint, exception_type="ValueError", location="",
                                                 count=0, first_seen=seen, last_seen=seen, last_version="1.0")
                               ).inserted_primary_key[0]
        conn.execute(g.update().where(g.c.id == gid).values(count=g.c["count"] + count))
        conn.execute(t.exception_day.insert().values(group_id=gid, day=seen.replace(hour=0, minute=0, second=0),
                                                     endpoint_id=endpoint_id, version="1.0", count=count))


def groups(store: Store) -> set[str]:
    t = store.tables
    with store.read() as conn:
        return set(conn.execute(select(t.exception_group.c.fingerprint)).scalars())


def test_purge_removes_every_row_of_one_endpoint_only(store: Store) -> None:
    ids = write(store, traffic("a", DAY1, 12) + traffic("b", DAY1, 5, user="v", ip="10.0.0.2"))
    add_outliers_and_profiles(store, request_ids(store, ids["a"])[:4])
    add_outliers_and_profiles(store, request_ids(store, ids["b"])[:1])
    add_exception(store, ids["a"], "f1", 3, DAY1)
    before_b = counts(store, ids["b"])
    before_a = counts(store, ids["a"])
    assert before_a["request"] == 12 and before_a["outlier"] == 4 and before_a["stack_line"] == 12
    assert before_a["rollup_hour"] == 2 and before_a["exception_day"] == 1
    add_exception(store, ids["b"], "f2", 1, DAY1)
    before_b = counts(store, ids["b"])

    outcome = purge_endpoint(store, "a")

    assert counts(store, ids["a"]) == dict.fromkeys(before_a, 0)
    assert counts(store, ids["b"]) == before_b  # untouched
    assert outcome.rows[f"{store.prefix}request"] == 12 and outcome.rows[f"{store.prefix}outlier"] == 4
    assert outcome.total == sum(before_a.values()) + 1  # + the group f1, left without any occurrence
    assert groups(store) == {"f2"}
    row = endpoint_row(store, "a")  # the endpoint and its level stay; its times are cleared
    assert row is not None and row["first_requested"] is None and row["last_requested"] is None


def test_purge_before_a_date_keeps_later_data_and_rounds_rollups(store: Store) -> None:
    day2, day3 = DAY1 + timedelta(days=1), DAY1 + timedelta(days=2)
    ids = write(store, traffic("a", DAY1, 10) + traffic("a", day2, 6) + traffic("a", day3, 4))
    eid = ids["a"]
    add_outliers_and_profiles(store, request_ids(store, eid)[:2] + request_ids(store, eid)[-1:])
    assert counts(store, eid)["rollup_hour"] == 5 and counts(store, eid)["histogram_day"] > 0

    purge_endpoint(store, eid, before=day2)  # a date: raw rows, hours and days agree exactly
    left = sums(store, eid)
    assert left == {"request": 10, **dict.fromkeys(("rollup_hour", "rollup_day", "histogram_hour", "histogram_day",
                                                    "rollup_group_day", "histogram_group_day", "rollup_ip_day"), 10)}
    c = counts(store, eid)
    assert c["outlier"] == 1 and c["stack_line"] == 3 and c["rollup_hour"] == 3
    row = endpoint_row(store, "a")
    assert row["first_requested"] >= day2 and row["last_requested"] >= day3

    # Inside an hour: raw rows are cut at the moment; the hour holding it and its day stay whole.
    cut = day2 + timedelta(hours=9, minutes=30)
    raw_before = sum(1 for r in traffic("a", day2, 6) if r[2] < cut)
    purge_endpoint(store, eid, before=cut)
    left = sums(store, eid)
    assert left["request"] == 10 - raw_before
    assert left["rollup_hour"] == 10 and left["histogram_day"] == 10 and left["rollup_group_day"] == 10
    assert left["rollup_day"] == 10  # the day holding the cut stays whole, like histogram_day


def test_purge_unknown_endpoint_is_a_clear_error(store: Store) -> None:
    with pytest.raises(LifecycleError, match="no endpoint 'nope'"):
        purge_endpoint(store, "nope")


def test_merge_adds_rollups_into_the_target_and_removes_the_source(store: Store) -> None:
    # Same hours, users and IPs on both sides (rows that must be added up) plus keys only one side has.
    ids = write(store, traffic("old", DAY1, 10) + traffic("new", DAY1, 7)
                + traffic("old", DAY1 + timedelta(days=1), 3, user="w", ip="10.0.0.9", status=500))
    ids.update(write(store, traffic("new", DAY1 + timedelta(days=2), 5), version="2.0"))
    src, dst = ids["old"], ids["new"]
    add_outliers_and_profiles(store, request_ids(store, src)[:2])
    add_exception(store, src, "same", 2, DAY1)
    add_exception(store, src, "only-old", 1, DAY1)
    add_exception(store, dst, "same", 5, DAY1 + timedelta(days=2))
    expected = {k: v + sums(store, dst)[k] for k, v in sums(store, src).items()}
    everything = counts(store)
    old_row, new_row = endpoint_row(store, "old"), endpoint_row(store, "new")

    outcome = merge_endpoints(store, "old", "new")

    assert sums(store, dst) == expected  # every counter added, nothing lost or doubled
    assert counts(store, src) == dict.fromkeys(everything, 0)
    after = counts(store)
    assert after["request"] == everything["request"] and after["outlier"] == everything["outlier"] == 2
    # Shared keys collapse into one row: old/new share hours 9-10 of DAY1, version, status, user, IP.
    assert after["rollup_hour"] == everything["rollup_hour"] - 2
    assert after["rollup_day"] == everything["rollup_day"] - 1
    assert after["rollup_group_day"] == everything["rollup_group_day"] - 1
    assert after["exception_day"] == 3 and groups(store) == {"same", "only-old"}
    assert outcome.rows[f"{store.prefix}request"] == 13
    assert endpoint_row(store, "old") is None
    merged = endpoint_row(store, "new")
    assert merged["first_requested"] == min(old_row["first_requested"], new_row["first_requested"])
    assert merged["last_requested"] == max(old_row["last_requested"], new_row["last_requested"])
    t = store.tables
    with store.read() as conn:
        g, d = t.exception_group, t.exception_day
        same = conn.execute(select(func.sum(d.c["count"])).join(g, g.c.id == d.c.group_id)
                            .where(g.c.fingerprint == "same", d.c.endpoint_id == dst))
        assert same.scalar_one() == 7


def test_merge_into_itself_or_unknown_is_refused(store: Store) -> None:
    ids = write(store, traffic("a", DAY1, 3))
    with pytest.raises(LifecycleError, match="into itself"):
        merge_endpoints(store, "a", ids["a"])
    with pytest.raises(LifecycleError, match="no endpoint 'b'"):
        merge_endpoints(store, "a", "b")
    assert counts(store, ids["a"])["request"] == 3


def test_find_endpoint_by_name_or_id(store: Store) -> None:
    ids = write(store, traffic("42", DAY1, 1) + traffic("x", DAY1, 1))
    with store.read() as conn:
        assert find_endpoint(conn, store.tables, "42")["id"] == ids["42"]  # the name wins over an id
        assert find_endpoint(conn, store.tables, str(ids["x"]))["name"] == "x"


def test_the_writer_recreates_an_endpoint_merged_away_while_it_runs(db_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(db_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    for _ in range(3):
        client.get("/")
        client.get("/tuple")
    assert state.flush(10)
    stop = threading.Event()
    sent = [0]

    def traffic_loop() -> None:  # requests keep coming while the merge runs
        while not stop.is_set():
            client.get("/")
            sent[0] += 1

    thread = threading.Thread(target=traffic_loop)
    thread.start()
    try:
        merge_endpoints(state.store, "index", "tuple_view")
    finally:
        stop.set()
        thread.join(10)
    client.get("/")  # certainly after the merge: the writer's cached id for "index" is gone
    assert state.flush(15), state.stats()
    t = state.store.tables
    with state.store.read() as conn:
        per_endpoint = dict(conn.execute(select(t.endpoint.c.name, func.sum(t.rollup_hour.c["count"]))
                                         .join(t.rollup_hour).group_by(t.endpoint.c.name)).all())
        raw = conn.execute(select(func.count()).select_from(t.request)).scalar_one()
        orphans = conn.execute(select(func.count()).select_from(t.request).where(
            t.request.c.endpoint_id.not_in(select(t.endpoint.c.id)))).scalar_one()
    total = 3 + 3 + sent[0] + 1
    assert raw == total and orphans == 0
    assert sum(int(v) for v in per_endpoint.values()) == total
    assert int(per_endpoint["index"]) >= 1  # re-created under its old name
    assert int(per_endpoint["tuple_view"]) >= 6
