"""Monitoring levels: what level 0 and 1 store, where endpoints come from, what is never recorded."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest
from flask import Blueprint, Flask
from sqlalchemy import func, select

import fmd


def flushed(app: Flask):  # noqa: ANN201
    state = app.extensions["fmd"]
    assert state.flush(10)
    return state


def endpoints(app: Flask) -> dict[str, tuple]:
    """name -> (monitor_level, first_requested, last_requested) as stored."""
    state = flushed(app)
    e = state.store.tables.endpoint
    with state.store.read() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(
            select(e.c.name, e.c.monitor_level, e.c.first_requested, e.c.last_requested))}


def request_rows(app: Flask) -> list[tuple[str, int]]:
    state = flushed(app)
    t = state.store.tables
    with state.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.endpoint.c.name, t.request.c.status_code).join(t.endpoint).order_by(t.request.c.id))]


def count(app: Flask, table: str) -> int:
    state = flushed(app)
    tbl = getattr(state.store.tables, table)
    column = tbl.c["count"] if "count" in tbl.c else None
    with state.store.read() as conn:
        if column is not None:
            return int(conn.execute(select(func.coalesce(func.sum(column), 0))).scalar())
        return int(conn.execute(select(func.count()).select_from(tbl)).scalar())


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_level_0_stores_only_last_requested(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, monitor_level=0)
    before = utc_now().replace(microsecond=0)
    for _ in range(3):
        assert app.test_client().get("/").data == b"hello"
    assert request_rows(app) == []
    assert count(app, "rollup_hour") == 0 and count(app, "histogram_hour") == 0 and count(app, "histogram_day") == 0
    level, first, last = endpoints(app)["index"]
    assert level == 0 and last is not None and before <= last <= utc_now()
    assert endpoints(app)["boom"][2] is None  # never requested


def test_level_1_stores_a_row_and_rollups(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    app.test_client().get("/")
    assert request_rows(app) == [("index", 200)]
    assert count(app, "rollup_hour") == 1 and count(app, "histogram_hour") == 1 and count(app, "histogram_day") == 1
    level, first, last = endpoints(app)["index"]
    assert level == 1 and first is not None and last is not None


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_new_endpoints_start_at_monitor_level(level: int, sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, monitor_level=level)
    app.test_client().get("/")
    stored = endpoints(app)
    assert stored and {lvl for lvl, _, _ in stored.values()} == {level}
    assert len(request_rows(app)) == (1 if level >= 1 else 0)


def static_app(tmp_path: Path, host_app: Callable[[], Flask]) -> Flask:
    """A host app with its own static files, a blueprint with static files, and a nested blueprint."""
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body {}")
    (tmp_path / "bp_static").mkdir()
    (tmp_path / "bp_static" / "bp.css").write_text("p {}")
    app = host_app()
    app.static_folder = str(tmp_path / "static")
    api = Blueprint("api", __name__, url_prefix="/api", static_folder=str(tmp_path / "bp_static"),
                    static_url_path="/static")
    inner = Blueprint("v2", __name__, url_prefix="/v2")

    @api.get("/ping")
    def ping() -> str:
        return "pong"

    @inner.get("/items")
    def items() -> str:
        return "[]"

    api.register_blueprint(inner)
    app.register_blueprint(api)
    return app


def test_endpoints_come_from_the_url_map(tmp_path: Path, sqlite_url: str, make_app,  # noqa: ANN001
                                         new_host_app) -> None:
    app = make_app(sqlite_url, app=static_app(tmp_path, new_host_app))

    @app.get("/late")  # added after bind (before the first request, as Flask requires)
    def late() -> str:
        return "late"

    client = app.test_client()
    assert client.get("/late").data == b"late"
    assert client.get("/api/v2/items").data == b"[]"
    assert set(endpoints(app)) == {"index", "tuple_view", "boom", "missing", "moved", "api.ping", "api.v2.items",
                                   "late"}
    assert request_rows(app) == [("late", 200), ("api.v2.items", 200)]


def test_static_files_and_the_dashboard_are_not_recorded(tmp_path: Path, sqlite_url: str,  # noqa: ANN001
                                                          make_app, new_host_app) -> None:
    app = make_app(sqlite_url, app=static_app(tmp_path, new_host_app))
    client = app.test_client()
    assert client.get("/static/app.css").data == b"body {}"
    assert client.get("/api/static/bp.css").data == b"p {}"
    for path in ("/dashboard", "/dashboard/", "/dashboard/login", "/dashboard/no-such-page"):
        client.get(path)
    client.get("/")  # something to flush
    assert request_rows(app) == [("index", 200)]
    names = set(endpoints(app))
    assert not any("static" in name or "dashboard" in name for name in names), names
    assert count(app, "unrouted_hour") == 0  # the dashboard's own 404 is not the host's


def test_unrouted_requests_are_counted_per_status(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = app.test_client()
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/another").status_code == 404
    assert client.post("/").status_code == 405  # a route, but not for this method: no endpoint matched
    state = flushed(app)
    t = state.store.tables
    with state.store.read() as conn:
        unrouted = dict(conn.execute(select(t.unrouted_hour.c.status_code, t.unrouted_hour.c["count"])).all())
    assert unrouted == {404: 2, 405: 1}
    assert request_rows(app) == []
    assert set(endpoints(app)) == {"index", "tuple_view", "boom", "missing", "moved"}


@pytest.mark.parametrize(("endpoint", "level"), [
    ("index", 4), ("index", -1), ("index", True), ("index", "1"), ("index", 1.0), ("index", None),
    ("static", 1), ("api.static", 1), ("", 1), (None, 1),
])
def test_set_level_rejects_bad_input(endpoint, level, sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    with pytest.raises(ValueError):
        fmd.set_level(endpoint, level, app=app)


def test_set_level_takes_effect(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = app.test_client()
    fmd.set_level("index", 0, app=app)
    client.get("/")
    assert request_rows(app) == []
    assert endpoints(app)["index"][0] == 0
    fmd.set_level("index", 1, app=app)
    client.get("/")
    assert request_rows(app) == [("index", 200)]
    assert endpoints(app)["index"][0] == 1


def test_a_stored_level_0_holds_from_the_first_request(sqlite_url: str, prefix: str, make_app) -> None:  # noqa: ANN001
    """A level set in the database before this process started applies even before its first sync."""
    first = make_app(sqlite_url)
    fmd.set_level("index", 0, app=first)
    first.extensions["fmd"].close(5)

    app = make_app(sqlite_url)  # a fresh "process": default level 1, has not read the stored levels yet
    assert app.extensions["fmd"].levels.synced_at is None
    started = utc_now().replace(microsecond=0)
    client = app.test_client()
    for _ in range(20):
        assert client.get("/").status_code == 200
    client.get("/tuple")
    assert request_rows(app) == [("tuple_view", 200)]
    level, _, last = endpoints(app)["index"]
    assert level == 0
    assert last is not None and last >= started  # level 0 still records when it was last requested


def test_level_change_from_another_process_is_followed(sqlite_url: str, make_app,  # noqa: ANN001
                                                       new_host_app) -> None:
    """Another process (here: another bound app on the same tables) sets a level; this one follows."""
    app = make_app(sqlite_url, sync_interval=0.05)
    client = app.test_client()
    client.get("/")
    assert request_rows(app) == [("index", 200)]
    other = make_app(sqlite_url, app=new_host_app())
    fmd.set_level("index", 0, app=other)
    deadline = time.monotonic() + 5
    while app.extensions["fmd"].levels.table.get("index") != 0:
        assert time.monotonic() < deadline, "the level change was not picked up"
        app.extensions["fmd"].flush(1)
    client.get("/")
    assert request_rows(app) == [("index", 200)]


def test_an_early_request_queued_behind_a_later_one_is_still_checked(sqlite_url: str, prefix: str) -> None:
    """A long request that began before the levels were known may finish after a short, later one."""
    from fmd.instrument.guard import ErrorLog
    from fmd.instrument.levels import Levels
    from fmd.instrument.recorder import Recorder
    from fmd.store import writes
    from fmd.store.engine import Store

    store = Store(sqlite_url, prefix)
    with store.write() as conn:
        writes.store_level(conn, store.tables, "index", 0)
    levels = Levels(1)
    now = time.time()
    levels.synced_at = now - 5  # this process learned the stored levels 5 s ago...
    recorder = Recorder(store, levels, "1.0", queue_size=1000, batch_size=100, flush_interval=0.02,
                        sync_interval=60, errors=ErrorLog())
    recorder.submit(("tuple_view", 0.01, now, 200, "", ""))  # ...a short request since then,
    recorder.submit(("index", 6.0, now - 6, 200, "", ""))  # queued before a long one that began before it
    assert recorder.stop(10)
    t = store.tables
    with store.read() as conn:
        names = conn.execute(select(t.endpoint.c.name).join(t.request)).scalars().all()
        last = conn.execute(select(t.endpoint.c.last_requested).where(t.endpoint.c.name == "index")).scalar()
    store.dispose()
    assert names == ["tuple_view"]
    assert last is not None
