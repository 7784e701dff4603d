"""group_by: every form of Flask-MonitoringDashboard's documented table, and a failing group_by."""

from __future__ import annotations

import logging

import pytest
from flask import request
from sqlalchemy import select

import fmd
from fmd.instrument.groupby import MAX_LENGTH, group_of

#: (group_by, stored value): FMD's documentation table, plus a bare primitive and a few edge cases.
TABLE = [
    pytest.param("User", "User", id="primitive"),
    pytest.param(lambda: 3, "3", id="lambda: 3"),
    pytest.param(lambda: ("User", 3), "(User,3)", id="lambda: ('User', 3)"),
    pytest.param(lambda: lambda: 3, "3", id="lambda: lambda: 3"),
    pytest.param(("User", lambda: 3), "(User,3)", id="('User', lambda: 3)"),
    pytest.param(lambda: "username", "username", id="lambda: 'username'"),
    pytest.param(lambda: ["Username", "username"], "(Username,username)", id="lambda: ['Username', 'username']"),
    pytest.param(lambda: [("User", lambda: 3), ("Username", lambda: "username")], "((User,3),(Username,username))",
                 id="lambda: [('User', lambda: 3), ('Username', lambda: 'username')]"),
]
EDGES = [
    pytest.param(lambda: None, "", id="None"),
    pytest.param(lambda: 2.5, "2.5", id="float"),
    pytest.param(lambda: True, "True", id="bool"),
    pytest.param(lambda: b"bytes", "bytes", id="bytes"),
    pytest.param(lambda: "x" * 1000, "x" * MAX_LENGTH, id="cut to the column"),
]


def recorded(app) -> list[tuple[str, str, int]]:  # noqa: ANN001
    state = app.extensions["fmd"]
    assert state.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.endpoint.c.name, t.request.c.group_by, t.request.c.status_code).join(t.endpoint)
            .order_by(t.request.c.id))]


@pytest.mark.parametrize(("group_by", "expected"), TABLE + EDGES)
def test_rendering(group_by, expected: str) -> None:  # noqa: ANN001
    assert group_of(group_by) == expected


@pytest.mark.parametrize(("group_by", "expected"), TABLE)
def test_documented_forms_are_stored(group_by, expected: str, sqlite_url: str, make_app) -> None:  # noqa: ANN001
    fmd.config.group_by = group_by
    app = make_app(sqlite_url)
    assert app.test_client().get("/").status_code == 200
    assert recorded(app) == [("index", expected, 200)]


def test_group_by_runs_in_the_request_context_on_every_status_path(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    fmd.config.group_by = lambda: ("user", request.args.get("user"))
    app = make_app(sqlite_url)
    client = app.test_client()
    for path in ("/?user=ann", "/boom?user=bob", "/missing?user=cy", "/redirect?user=di"):
        client.get(path)
    assert recorded(app) == [("index", "(user,ann)", 200), ("boom", "(user,bob)", 500),
                             ("missing", "(user,cy)", 404), ("moved", "(user,di)", 302)]


def test_no_group_by_stores_empty(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    app.test_client().get("/")
    assert recorded(app) == [("index", "", 200)]


def failing() -> str:
    raise KeyError("no user in this session")


def loops():  # noqa: ANN201 - a callable returning itself: must not recurse forever
    return loops


@pytest.mark.parametrize("group_by", [failing, lambda: ("User", failing), loops], ids=["raises", "nested", "loops"])
def test_failing_group_by_never_fails_the_request(group_by, sqlite_url: str, make_app,  # noqa: ANN001
                                                  caplog: pytest.LogCaptureFixture) -> None:
    fmd.config.group_by = group_by
    app = make_app(sqlite_url)
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="fmd"):
        statuses = [client.get("/").status_code for _ in range(100)]
        statuses.append(client.get("/boom").status_code)
    assert statuses == [200] * 100 + [500]
    assert recorded(app) == [("index", "", 200)] * 100 + [("boom", "", 500)]
    # Rate-limited: 101 failures, one log line (which says how many so far).
    lines = [r for r in caplog.records if "group_by" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert fmd.stats(app)["internal_errors"] == 101
    assert app.extensions["fmd"].errors.counts == {"group_by": 101}


def _groups(app) -> list[str]:  # noqa: ANN001
    from sqlalchemy import select

    assert fmd.flush(10)
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        return list(conn.execute(select(t.request.c.group_by).order_by(t.request.c.id)).scalars())


def test_group_by_assigned_after_bind_takes_effect(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = app.test_client()
    client.get("/")
    fmd.config.group_by = lambda: "late"  # after bind: read when the request is recorded
    client.get("/")
    fmd.config.group_by = None
    client.get("/")
    assert _groups(app) == ["", "late", ""]


def test_group_by_through_every_documented_path(sqlite_url, prefix, new_host_app) -> None:  # noqa: ANN001
    fmd.config.group_by = lambda: "from fmd.config"
    made = []
    try:
        for n, how in enumerate(("bind", "FMD", "app.config", "fmd.config")):
            app = new_host_app()
            options = {"database": sqlite_url, "table_prefix": f"{prefix}{n}_", "flush_interval": 0.05}
            if how == "bind":
                fmd.bind(app, group_by=lambda: "from bind", **options)
            elif how == "FMD":
                fmd.FMD(app, group_by=lambda: "from FMD", **options)
            elif how == "app.config":
                app.config["FMD_GROUP_BY"] = lambda: "from app.config"
                fmd.bind(app, **options)
            else:
                fmd.bind(app, **options)
            made.append(app)
            app.test_client().get("/")
            assert _groups(app) == [f"from {how}"]
    finally:
        for app in made:
            app.extensions["fmd"].close(5)


def test_group_by_set_before_bind_can_still_be_changed_after(sqlite_url, make_app) -> None:  # noqa: ANN001
    fmd.config.group_by = lambda: "before"
    app = make_app(sqlite_url)
    client = app.test_client()
    client.get("/")
    fmd.config.group_by = lambda: "after"
    client.get("/")
    assert _groups(app) == ["before", "after"]
