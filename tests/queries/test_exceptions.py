"""The Exceptions list's queries on known groups, over SQLite, PostgreSQL and MariaDB: order, paging, the
endpoint / version / state / range filters, the per-row days, endpoints and versions, the overview's counts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from exception_data import group
from rollup_data import record
from sqlalchemy import insert

from fmd.queries import exceptions as q
from fmd.queries._range import TimeRange
from fmd.store.engine import Store

D = datetime(2024, 3, 4)
WHOLE = TimeRange(D, D + timedelta(days=3))  # the UTC days D, D+1 and D+2
ALL = q.GroupFilter(state="all")


@pytest.fixture
def data(store: Store) -> dict:
    ids = record(store, [], endpoints=["a", "b"])
    a, b = ids["a"], ids["b"]
    return {"a": a, "b": b,
            "g1": group(store, "KeyError", [(D, a, "1.0", 3), (D + timedelta(days=1), b, "2.0", 2)]),
            "g2": group(store, "ValueError", [(D + timedelta(days=2), a, "2.0", 5)]),
            "g3": group(store, "TypeError", [(D, q.OUTSIDE, "1.0", 1)], resolved_at=D + timedelta(hours=13),
                        resolved_versions=["1.0"]),
            "old": group(store, "OldError", [(D - timedelta(days=30), a, "1.0", 4)])}


def page(store: Store, f: q.GroupFilter = ALL, span: TimeRange = WHOLE, number: int = 1, per_page: int = 25):
    with store.read() as conn:
        return q.groups_page(conn, store.tables, span, f, number, per_page)


def ids(result: q.GroupPage) -> list[int]:
    return [r["id"] for r in result.rows]


def test_newest_first_and_open_by_default(store: Store, data: dict) -> None:
    assert ids(page(store)) == [data["g2"], data["g1"], data["g3"]]
    default = page(store, q.GroupFilter())
    assert ids(default) == [data["g2"], data["g1"]] and default.total == 2 and default.pages == 1
    assert ids(page(store, q.GroupFilter(state="resolved"))) == [data["g3"]]
    with pytest.raises(ValueError):
        q.GroupFilter(state="closed")


def test_counts_in_the_range_and_in_all(store: Store, data: dict) -> None:
    rows = {r["id"]: r for r in page(store).rows}
    g1 = rows[data["g1"]]
    assert (g1["in_range"], g1["total"]) == (5, 5)
    assert g1["type"] == "KeyError" and g1["location"] == "app/pricing.py:price" and g1["open"]
    assert g1["first_seen"] == D and g1["last_seen"] == D + timedelta(days=1, hours=12)
    g3 = rows[data["g3"]]
    assert not g3["open"] and g3["resolved_versions"] == ["1.0"] and g3["resolved_at"] == D + timedelta(hours=13)


def test_filter_by_endpoint(store: Store, data: dict) -> None:
    on_a = page(store, q.GroupFilter(endpoint_id=data["a"], state="all"))
    assert ids(on_a) == [data["g2"], data["g1"]]
    assert [r["in_range"] for r in on_a.rows] == [5, 3]  # g1's count on "a" only; its total stays 5
    assert on_a.rows[1]["total"] == 5
    assert ids(page(store, q.GroupFilter(endpoint_id=data["b"], state="all"))) == [data["g1"]]
    assert ids(page(store, q.GroupFilter(endpoint_id=q.OUTSIDE, state="all"))) == [data["g3"]]
    assert ids(page(store, q.GroupFilter(endpoint_id=999, state="all"))) == []


def test_filter_by_version(store: Store, data: dict) -> None:
    v2 = page(store, q.GroupFilter(version="2.0", state="all"))
    assert ids(v2) == [data["g2"], data["g1"]] and [r["in_range"] for r in v2.rows] == [5, 2]
    assert ids(page(store, q.GroupFilter(version="1.0", state="all"))) == [data["g1"], data["g3"]]
    assert ids(page(store, q.GroupFilter(endpoint_id=data["a"], version="1.0"))) == [data["g1"]]


def test_filter_by_range(store: Store, data: dict) -> None:
    old = TimeRange(D - timedelta(days=31), D - timedelta(days=29))
    assert ids(page(store, span=old)) == [data["old"]]
    first_day = TimeRange(D, D + timedelta(days=1))
    result = page(store, span=first_day)
    assert ids(result) == [data["g1"], data["g3"]] and result.rows[0]["in_range"] == 3


def test_days_endpoints_and_versions_of_each_row(store: Store, data: dict) -> None:
    # Filtered to endpoint "a", the row still names every endpoint and version of the group in the range.
    g1 = next(r for r in page(store, q.GroupFilter(endpoint_id=data["a"])).rows if r["id"] == data["g1"])
    assert g1["days"] == [{"day": "2024-03-04", "count": 3}, {"day": "2024-03-05", "count": 2}]
    assert [(e["name"], e["count"], e["exists"]) for e in g1["endpoints"]] == [("a", 3, True), ("b", 2, True)]
    assert g1["versions"] == ["1.0", "2.0"]
    g3 = next(r for r in page(store).rows if r["id"] == data["g3"])
    assert g3["endpoints"] == [{"id": 0, "name": q.OUTSIDE_NAME, "count": 1, "outside": True, "exists": False}]
    assert q.range_days(WHOLE) == ["2024-03-04", "2024-03-05", "2024-03-06"]


def test_paging(store: Store, data: dict) -> None:
    many = [group(store, f"E{i}", [(D + timedelta(days=1, hours=i % 12), data["b"], "3.0", 1)], message=f"m{i}")
            for i in range(28)]
    first, second = page(store, number=1, per_page=25), page(store, number=2, per_page=25)
    assert first.total == second.total == 31 and first.pages == second.pages == 2
    assert len(first.rows) == 25 and len(second.rows) == 6
    assert not set(ids(first)) & set(ids(second))
    assert set(ids(first)) | set(ids(second)) == set(many) | {data["g1"], data["g2"], data["g3"]}
    stamps = [r["last_seen"] for r in first.rows + second.rows]
    assert stamps == sorted(stamps, reverse=True)
    assert page(store, number=3).rows == [] and page(store, number=3).pages == 2


def test_group_rows_whatever_the_state(store: Store, data: dict) -> None:
    with store.read() as conn:
        rows = q.group_rows(conn, store.tables, WHOLE, q.GroupFilter(), [data["g3"], 2**40])
        assert q.group_rows(conn, store.tables, WHOLE, q.GroupFilter(), []) == []
    assert [r["id"] for r in rows] == [data["g3"]] and rows[0]["in_range"] == 1 and not rows[0]["open"]


def test_one_group_with_its_traceback(store: Store, data: dict) -> None:
    with store.read() as conn:
        g = q.group_by_id(conn, store.tables, data["g1"])
        assert q.group_by_id(conn, store.tables, 10_000) is None
        assert q.group_by_id(conn, store.tables, 2**40) is None and q.group_by_id(conn, store.tables, 0) is None
    tb = g["traceback"]
    assert tb["type"] == "builtins.ValueError" and tb["cause"] is None and tb["cut"]
    assert [(app, len(frames)) for app, frames in tb["runs"]] == [(False, 2), (True, 2)]
    assert tb["frames"][3]["context"] == [(39, "if not items:"), (40, "    raise ValueError(message)"),
                                          (41, "return sum(items)")]
    assert tb["frames"][2]["locals"] == [("cart", "[1, 2]")]


def test_tracebacks_are_read_defensively() -> None:
    assert q.parse_traceback(None) is None and q.parse_traceback("not json") is None
    assert q.parse_traceback("[1, 2]") is None
    odd = q.parse_traceback(json.dumps({"type": 3, "frames": [{"line": "x", "context": [[1], "y", [2, None]],
                                                                "locals": [1]}, "junk"], "cut": "no",
                                        "cause": {"type": "Inner", "cause": {"type": "Innermost"}}}))
    assert odd["type"] == "3" and odd["message"] == "" and odd["cut"] == []
    assert odd["frames"] == [{"file": "", "line": None, "function": "", "code": "", "app": False,
                              "context": [(2, "")], "locals": []}]
    assert odd["cause"]["type"] == "Inner" and odd["cause"]["cause"]["type"] == "Innermost"
    deep: dict = {"type": "E0"}
    for i in range(1, 30):
        deep = {"type": f"E{i}", "cause": deep}
    chain, depth = q.parse_traceback(json.dumps(deep)), 0
    while chain["cause"]:
        chain, depth = chain["cause"], depth + 1
    assert depth == q.MAX_CAUSES


def test_filter_choices(store: Store, data: dict) -> None:
    with store.read() as conn:
        choices = q.filter_choices(conn, store.tables)
    assert [e["name"] for e in choices["endpoints"]] == [q.OUTSIDE_NAME, "a", "b"]
    assert choices["versions"] == ["1.0", "2.0"]


def test_open_groups_per_endpoint_for_the_overview(store: Store, data: dict) -> None:
    t = store.tables
    with store.write() as conn:  # a second day row of g1 on "a" counts the group once
        conn.execute(insert(t.exception_day).values(group_id=data["g1"], day=D + timedelta(days=2),
                                                    endpoint_id=data["a"], version="2.0", count=1))
    with store.read() as conn:
        counts = q.open_groups_by_endpoint(conn, t)
    # a: g1, g2 and the old group (any time); b: g1; outside a request: only the resolved g3, so nothing.
    assert counts == {data["a"]: 3, data["b"]: 1}
