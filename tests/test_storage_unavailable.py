"""Binding never raises for fmd's own storage (issue 7 item 9); the dashboard explains a broken store with a 503."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text

import fmd
from dashboard_helpers import PREFIX, logged_in
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.store.engine import make_engine
from fmd.store.schema import version_table


def test_an_instance_folder_that_cannot_be_created(tmp_path: Path, new_host_app,
                                                    caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    (tmp_path / "afile").write_text("a regular file: nobody, not even root, can create a folder under it")
    app = new_host_app()
    app.instance_path = str(tmp_path / "afile" / "instance")
    with caplog.at_level(logging.ERROR, logger="fmd"):
        state = fmd.bind(app)  # returns: the host starts
    try:
        errors = [r for r in caplog.records if "cannot create its database" in r.getMessage()]
        assert len(errors) == 1 and "afile/instance" in errors[0].getMessage()
        client = app.test_client()
        for _ in range(3):
            assert client.get("/").data == b"hello"  # served, not recorded
        stats = fmd.stats(app)
        assert stats["submitted"] == 0 and stats["queue_length"] == 0 and "instance folder" in stats["unavailable"]
        assert fmd.flush(2) is True
        fmd.set_level("index", 2, app=app)  # logged and ignored, never raised into the host
        for path in ("/login", "/", "/overview", "/health"):
            resp = client.get(PREFIX + path)
            page = resp.get_data(as_text=True)
            assert resp.status_code == 503, (path, resp.status_code)
            assert "afile" not in page and "storage could not be set up" in page and "(logger fmd)" in page
        assert client.get(PREFIX + "/static/fmd/fmd.css").status_code == 200  # the 503 page's own style
        result = app.test_cli_runner().invoke(args=["fmd", "stats"])
        assert result.exit_code == 1 and "cannot be created" in result.output
    finally:
        state.close(2)


def test_a_database_that_is_down(prefix: str, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    state = fmd.bind(app, database="postgresql+psycopg://postgres:pw-secret@127.0.0.1:1/test", table_prefix=prefix)
    try:
        client = app.test_client()
        assert client.get("/").data == b"hello"
        resp = client.get(PREFIX + "/login")
        page = resp.get_data(as_text=True)
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        assert "OperationalError" in page and "pw-secret" not in page and "[SQL" not in page
        assert "127.0.0.1" not in page and "postgres" not in page and "(logger fmd)" in page  # details: the log only
    finally:
        state.close(1)


def test_a_schema_error_names_the_problem(sqlite_url: str, prefix: str, new_host_app) -> None:  # noqa: ANN001
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:  # stamped by a newer fmd than this one
        conn.execute(text(f"CREATE TABLE {version_table(prefix)} (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(text(f"INSERT INTO {version_table(prefix)} VALUES ('9999')"))
    engine.dispose()
    app = new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix)
    try:
        resp = app.test_client().get(PREFIX + "/login")
        assert resp.status_code == 503
        page = resp.get_data(as_text=True)
        assert "SchemaError" in page and "revision 9999" in page and "a newer fmd has upgraded" in page
    finally:
        state.close(1)


def test_a_table_lost_after_start_gives_a_503_without_sql(sqlite_url: str, prefix: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = logged_in(app)
    assert client.get(PREFIX + "/overview").status_code == 200
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {prefix}endpoint"))
    engine.dispose()
    resp = client.get(PREFIX + "/overview")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "OperationalError: fmd&#39;s database cannot be reached" in page
    assert "[SQL" not in page and "SELECT" not in page
