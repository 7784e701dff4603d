"""``fmd.add_graph``: checked when called, attached to the right app before and after bind, run from the app's
first request, stopped by ``fmd.close``."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from flask import Flask
from sqlalchemy import func, select

import fmd
from fmd.graphs import registry


def host(name: str = "host") -> Flask:
    app = Flask(name)

    @app.route("/")
    def index() -> str:
        return "hi"

    return app


def graph_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fmd-graph")]


def runner_of(app: Flask):  # noqa: ANN201
    return app.extensions["fmd"].recorder.graphs


@pytest.mark.parametrize("args, kwargs, named", [
    (("", lambda: 1, "interval"), {"seconds": 1}, "title"),
    (("   ", lambda: 1, "interval"), {"seconds": 1}, "title"),
    ((None, lambda: 1, "interval"), {"seconds": 1}, "title"),
    (("x" * 251, lambda: 1, "interval"), {"seconds": 1}, "250"),
    (("T", 42, "interval"), {"seconds": 1}, "func must be callable"),
    (("T", lambda: 1, "weekly"), {}, "trigger"),
    (("T", lambda: 1, "interval"), {"second": 1}, "second"),
    (("T", lambda: 1, "cron"), {"minute": 99}, "minute=99"),
])
def test_invalid_arguments_fail_at_add_graph(args, kwargs, named) -> None:  # noqa: ANN001
    with pytest.raises(fmd.ConfigError) as caught:
        fmd.add_graph(*args, **kwargs)
    assert named in str(caught.value)
    assert registry.pending() == []


def test_a_graph_added_before_bind_goes_to_the_next_app_bound_only(make_app, sqlite_url, tmp_path,
                                                                    caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.INFO, logger="fmd")
    fmd.add_graph("Users", lambda: 3, "interval", minutes=5)
    with pytest.raises(fmd.ConfigError, match="already"):
        fmd.add_graph("Users", lambda: 4, "interval", minutes=5)
    assert [g.title for g in registry.pending()] == ["Users"]
    first = make_app(sqlite_url, app=host("first"))
    assert registry.pending() == []
    assert list(runner_of(first).graphs) == ["Users"]
    assert "custom graph 'Users' (every 5 minutes) is stored in the database of app 'first'" in caplog.text
    caplog.clear()
    second = make_app(f"sqlite:///{tmp_path / 'other.db'}", app=host("second"))
    assert runner_of(second) is None  # no graph, no scheduler
    warning = [r for r in caplog.records if r.levelno == logging.WARNING and "before bind" in r.getMessage()]
    assert warning and "'Users'" in warning[0].getMessage() and "app 'first'" in warning[0].getMessage()


def test_after_bind_the_newest_app_or_the_one_named(make_app, sqlite_url, tmp_path) -> None:  # noqa: ANN001
    one = make_app(sqlite_url, app=host("one"))
    two = make_app(f"sqlite:///{tmp_path / 'two.db'}", app=host("two"))
    fmd.add_graph("Queue", lambda: 1, "interval", seconds=30)
    fmd.add_graph("Queue", lambda: 1, "interval", seconds=30, app=one)  # one title per app
    assert list(runner_of(two).graphs) == ["Queue"] and list(runner_of(one).graphs) == ["Queue"]
    with pytest.raises(fmd.ConfigError, match="already"):
        fmd.add_graph("Queue", lambda: 1, "interval", seconds=30, app=one)
    with pytest.raises(fmd.ConfigError, match="not bound"):
        fmd.add_graph("Other", lambda: 1, "interval", seconds=30, app=host("unbound"))


def test_cron_graphs_take_the_apps_timezone_by_default(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, timezone="Europe/Paris")
    fmd.add_graph("Nightly", lambda: 1, "cron", hour=0)
    fmd.add_graph("Tokyo", lambda: 1, "cron", hour=0, timezone="Asia/Tokyo")
    graphs = runner_of(app).graphs
    assert graphs["Nightly"].schedule.describe() == "cron: hour=0 (Europe/Paris)"
    assert graphs["Tokyo"].schedule.describe() == "cron: hour=0 (Asia/Tokyo)"


def test_a_disabled_app_runs_no_graph(make_app, sqlite_url) -> None:  # noqa: ANN001
    fmd.add_graph("Users", lambda: 3, "interval", seconds=1)
    app = make_app(sqlite_url, enabled=False)
    assert [g.title for g in registry.pending()] == ["Users"]  # it waits for an app with fmd enabled
    assert app.extensions["fmd"].enabled is False


def test_graphs_run_from_the_first_request_and_close_stops_them(make_app, sqlite_url) -> None:  # noqa: ANN001
    values = iter(range(1000))
    fmd.add_graph("Counter", lambda: next(values), "interval", seconds=1)
    app = make_app(sqlite_url)
    time.sleep(0.3)
    assert graph_threads() == []  # binding starts nothing (gunicorn forks after it)
    assert app.test_client().get("/").status_code == 200
    assert runner_of(app).running
    state = app.extensions["fmd"]
    v = state.store.tables.custom_graph_value
    deadline = time.monotonic() + 15
    stored = 0
    while time.monotonic() < deadline and stored < 2:
        time.sleep(0.1)
        with state.store.read() as conn:
            stored = conn.execute(select(func.count()).select_from(v)).scalar_one()
    assert stored >= 2
    fmd.add_graph("Late", lambda: 1, "interval", seconds=1)  # added while running: scheduled at once
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not runner_of(app)._ids.get("Late"):
        time.sleep(0.1)
    assert runner_of(app)._ids.get("Late")
    fmd.close(app)
    time.sleep(0.1)
    assert graph_threads() == [] and not runner_of(app).running
