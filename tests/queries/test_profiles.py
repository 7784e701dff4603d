"""The profiler's reads on seeded rows, over SQLite, PostgreSQL and MariaDB: paging newest first, the range and
version filters, endpoint isolation, the sampling rate, trees rebuilt from stack_line, and the merged table."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from profile_data import A as FA
from profile_data import B, C, LIB, VIEW, seed_profile, shape, with_library

from fmd.queries import profiles as q
from fmd.queries._range import TimeRange
from fmd.store import writes
from fmd.store.engine import Store

T0 = datetime(2024, 3, 4)
RANGE = TimeRange(T0, T0 + timedelta(days=1))


@pytest.fixture
def ids(store: Store) -> dict:
    """"ep": 30 profiles 40 min apart from T0 - 2 h (27 in RANGE: i = 3..29), version "1.0" for the first 20 and
    "2.0" after, the newest with a cut note and one without samples; plus one profile the day after; "other": 3
    profiles in the range that no read of "ep" may see."""
    t = store.tables
    cache: dict = {}
    with store.write() as conn:
        eids = writes.ensure_endpoints(conn, t, ["ep", "other"], {})
        pids = []
        for i in range(30):
            when = T0 + timedelta(minutes=40 * i - 120)
            pids.append(seed_profile(conn, t, eids["ep"], 1000 + i, when, shape(30 + i, 10),
                                     version="1.0" if i < 20 else "2.0", interval_ms=None if i == 28 else 5.0 + i % 2,
                                     cut="too many stacks: 500 kept" if i == 29 else None, cache=cache))
        seed_profile(conn, t, eids["ep"], 2000, T0 + timedelta(days=1), shape(), cache=cache)  # end is exclusive
        for i in range(3):
            seed_profile(conn, t, eids["other"], 3000 + i, T0 + timedelta(hours=i), with_library(), cache=cache)
    return {**eids, "pids": pids}


def test_count_and_pages_newest_first(store: Store, ids: dict) -> None:
    t = store.tables
    with store.read() as conn:
        assert q.count_profiles(conn, t, ids["ep"], RANGE) == 27
        first = q.profiles_page(conn, t, ids["ep"], RANGE, 1, size=10)
        third = q.profiles_page(conn, t, ids["ep"], RANGE, 3, size=10)
        assert q.profiles_page(conn, t, ids["ep"], RANGE, 4, size=10) == []
    assert [row["id"] for row in first] == ids["pids"][29:19:-1]
    assert [row["id"] for row in third] == ids["pids"][9:2:-1]
    newest = first[0]
    assert newest["request_id"] == 1029 and newest["version"] == "2.0" and newest["cut"] == "too many stacks: 500 kept"
    assert newest["duration"] == pytest.approx(0.070) and newest["samples"] == 14 and newest["interval_ms"] == 6.0
    assert first[1]["interval_ms"] is None
    with pytest.raises(ValueError):
        q.profiles_page(None, t, ids["ep"], RANGE, 0)  # type: ignore[arg-type]


def test_mean_interval_leaves_out_requests_without_samples(store: Store, ids: dict) -> None:
    with store.read() as conn:
        mean = q.mean_interval(conn, store.tables, ids["ep"], RANGE)
        before = TimeRange(T0 - timedelta(days=9), T0 - timedelta(days=8))
        empty = q.mean_interval(conn, store.tables, ids["ep"], before)
    intervals = [5.0 + i % 2 for i in range(3, 30) if i != 28]
    assert mean == pytest.approx(sum(intervals) / len(intervals)) and empty is None


def test_one_profile_of_its_own_endpoint_only(store: Store, ids: dict) -> None:
    t = store.tables
    with store.read() as conn:
        mine = q.profile_by_id(conn, t, ids["ep"], ids["pids"][5])
        assert mine is not None and mine["request_id"] == 1005
        assert q.profile_by_id(conn, t, ids["other"], ids["pids"][5]) is None
        assert q.profile_by_id(conn, t, ids["ep"], 2**63) is None and q.profile_by_id(conn, t, ids["ep"], -1) is None


def test_versions_most_recent_first(store: Store, ids: dict) -> None:
    t = store.tables
    with store.read() as conn:
        everything = q.versions_with_profiles(conn, t, ids["ep"])
        first_hours = TimeRange(T0 - timedelta(hours=3), T0 + timedelta(hours=6))
        early = q.versions_with_profiles(conn, t, ids["ep"], first_hours)
    assert [(v["version"], v["profiles"]) for v in everything] == [("1.0", 21), ("2.0", 10)]  # the day after: 1.0
    assert [(v["version"], v["profiles"]) for v in early] == [("1.0", 12)]


def test_recent_profiles_are_bounded_and_filtered(store: Store, ids: dict) -> None:
    t = store.tables
    with store.read() as conn:
        two = q.recent_profiles(conn, t, ids["ep"], RANGE, "2.0")
        one = q.recent_profiles(conn, t, ids["ep"], RANGE, "1.0", limit=5)
        anyv = q.recent_profiles(conn, t, ids["ep"], None, None)
    assert [p["request_id"] for p in two] == list(range(1029, 1019, -1))
    assert [p["request_id"] for p in one] == [1019, 1018, 1017, 1016, 1015]
    assert len(anyv) == 31 and anyv[0]["request_id"] == 2000


def test_a_tree_is_rebuilt_from_its_stack_lines(store: Store, ids: dict) -> None:
    t = store.tables
    with store.read() as conn:
        tree = q.tree_of(conn, t, 1005)
        rows = q.stack_rows(conn, t, [1005, 3000, 999_999])
        assert q.tree_of(conn, t, 999_999) is None
    assert set(rows) == {1005, 3000}
    assert [(indent, frame[2]) for indent, frame, _, _ in rows[1005]] == [(0, "search"), (1, "a"), (2, "b"), (2, "c")]
    assert tree.frame == VIEW and tree.duration == pytest.approx(0.046)
    (a,) = tree.children
    assert a.frame == FA and [child.frame for child in a.children] == [B, C]
    assert [child.duration for child in a.children] == pytest.approx([0.035, 0.010])
    assert [child.samples for child in a.children] == [7, 2]


def test_trees_of_keep_the_order_and_skip_requests_without_a_tree(store: Store, ids: dict) -> None:
    t = store.tables
    with store.write() as conn:
        seed_profile(conn, t, ids["ep"], 4000, T0 + timedelta(hours=23), None)
    with store.read() as conn:
        profiles = q.recent_profiles(conn, t, ids["ep"], RANGE)
        trees = q.trees_of(conn, t, profiles)
        other = q.trees_of(conn, t, q.recent_profiles(conn, t, ids["other"], RANGE))
    assert profiles[0]["request_id"] == 4000 and len(trees) == 27
    assert [tree.duration for tree in trees] == pytest.approx([p["duration"] for p in profiles[1:]])
    assert len(other) == 3 and other[0].children[1].frame == LIB


def test_merged_table_adds_up(store: Store, ids: dict) -> None:
    from fmd import trees as tr

    t = store.tables
    with store.read() as conn:
        trees = q.trees_of(conn, t, q.recent_profiles(conn, t, ids["ep"], RANGE, "1.0"))
    merged = tr.merge(trees)
    rows = {row["function"]: row for row in tr.table(merged, len(trees))}
    n = len(trees)  # i = 3..19
    assert n == 17 and set(rows) == {"search", "a", "b", "c"}
    assert rows["search"]["hits"] == rows["b"]["hits"] == n and rows["search"]["share"] == pytest.approx(1.0)
    b_times = [(30 + i) / 1000 for i in range(3, 20)]
    assert rows["b"]["total"] == pytest.approx(sum(b_times))
    assert rows["b"]["mean"] == pytest.approx(sum(b_times) / n)
    mean = sum(b_times) / n
    assert rows["b"]["std"] == pytest.approx((sum((x - mean) ** 2 for x in b_times) / n) ** 0.5, rel=1e-6)
    assert rows["c"]["total"] == pytest.approx(0.010 * n) and rows["c"]["std"] == pytest.approx(0.0, abs=1e-9)
    assert rows["search"]["total"] == pytest.approx(sum(tree.duration for tree in trees))
