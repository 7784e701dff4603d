"""fmd in a host's test suite (issue 7 item 4): ENABLED=false binds nothing; TESTING apps get a private database."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
from flask import Flask

import fmd


def fmd_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fmd-")]


@pytest.mark.parametrize("how", ["keyword", "app.config", "environment"])
def test_disabled_binds_nothing_but_the_api_stays_callable(how: str, tmp_path: Path, new_host_app,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    app = new_host_app()
    app.instance_path = str(tmp_path / "instance")
    host_wsgi, host_dispatch = app.wsgi_app, app.full_dispatch_request
    options = {}
    if how == "keyword":
        options["enabled"] = False
    elif how == "app.config":
        app.config["FMD_ENABLED"] = False
    else:
        monkeypatch.setenv("FMD_ENABLED", "false")
    gc.collect()
    threads_before = len(fmd_threads())
    state = fmd.bind(app, **options)
    assert state is app.extensions["fmd"] and state.enabled is False
    # No hooks, no mount: the host's own WSGI app and dispatch, untouched.
    assert app.wsgi_app == host_wsgi and app.full_dispatch_request == host_dispatch
    client = app.test_client()
    assert client.get("/").data == b"hello"
    assert client.get("/dashboard/login").status_code == 404  # the host's 404: nothing is mounted
    assert len(fmd_threads()) == threads_before
    assert not (tmp_path / "instance").exists()  # no database, not even its folder
    assert fmd.stats(app)["enabled"] is False and fmd.stats(app)["submitted"] == 0
    assert fmd.stats()["enabled"] is False  # outside an app context: the newest bound app
    assert fmd.flush(1) is True and state.flush() is True
    assert fmd.set_level("index", 2, app=app) is None
    assert fmd.capture(ValueError("x"), app=app) is False
    with pytest.raises(ValueError):
        fmd.set_level("index", 7, app=app)  # still checked, as when enabled
    assert fmd.close(app) is True
    with pytest.raises(RuntimeError, match="already bound"):
        fmd.bind(app)


def test_the_cli_says_fmd_is_disabled(new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    fmd.bind(app, enabled=False)
    runner = app.test_cli_runner()
    for args in (["fmd", "stats"], ["fmd", "db", "upgrade"], ["fmd", "prune", "--dry-run"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "fmd is disabled for this app (ENABLED is false, from bind(enabled=...))" in result.output


def test_an_enabled_app_says_so_in_stats(new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    state = fmd.bind(app, database="sqlite://")
    try:
        assert state.enabled is True and fmd.stats(app)["enabled"] is True
    finally:
        state.close(2)


def test_a_testing_app_records_into_its_own_in_memory_database(tmp_path: Path, new_host_app) -> None:  # noqa: ANN001
    apps = []
    for _ in range(2):
        app = new_host_app()
        app.config["TESTING"] = True
        app.instance_path = str(tmp_path / "instance")
        fmd.bind(app, flush_interval=0.05)
        apps.append(app)
    try:
        first, second = (app.extensions["fmd"] for app in apps)
        assert first.store.url == second.store.url == "sqlite://"
        apps[0].test_client().get("/")
        assert first.flush(10) and second.flush(10)
        assert (first.stats()["rows_written"], second.stats()["rows_written"]) == (1, 0)
        assert not (tmp_path / "instance").exists()  # never the development instance/fmd.db
        assert apps[1].extensions["fmd"].store.engine is not first.store.engine
    finally:
        for app in apps:
            fmd.close(app)


def test_a_testing_app_with_a_configured_database_uses_it(tmp_path: Path, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    app.config["TESTING"] = True
    state = fmd.bind(app, database=f"sqlite:///{tmp_path / 'given.db'}")
    try:
        assert state.store.url == f"sqlite:///{tmp_path / 'given.db'}"
    finally:
        state.close(2)
