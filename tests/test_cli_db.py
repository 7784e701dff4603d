"""``flask fmd db upgrade`` and ``current``: create, report, upgrade an older database, refuse a newer one."""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, select, text

from fmd.store import schema


def invoke(app, *args: str):  # noqa: ANN001, ANN201
    return app.test_cli_runner().invoke(args=["fmd", "db", *args])


def test_upgrade_creates_then_reports_head(db_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(db_url)
    prefix = app.extensions["fmd"].store.prefix
    first = invoke(app, "current")
    assert first.exit_code == 0 and f"revision none, head is {schema.HEAD}" in first.output
    assert "flask fmd db upgrade" in first.output

    result = invoke(app, "upgrade")
    assert result.exit_code == 0, result.output
    assert f"fmd schema ({prefix}*): revision {schema.HEAD} (upgraded from empty)" in result.output
    again = invoke(app, "upgrade")
    assert again.exit_code == 0 and f"revision {schema.HEAD} (already at head)" in again.output
    assert f"revision {schema.HEAD} (head)" in invoke(app, "current").output


def test_upgrade_of_an_older_database_then_recording_works(db_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(db_url)
    state = app.extensions["fmd"]
    prefix = state.store.prefix
    with state.store.engine.connect() as conn:  # a database an older fmd left at base: empty version table
        schema.upgrade(conn, prefix)
        command.downgrade(schema.alembic_config(conn, prefix), "base")
        conn.commit()
        assert schema.current_revision(conn, prefix) is None
    assert "run `flask fmd db upgrade`" in invoke(app, "current").output

    result = invoke(app, "upgrade")
    assert result.exit_code == 0 and f"revision {schema.HEAD} (upgraded from empty)" in result.output
    assert app.test_client().get("/").status_code == 200
    assert state.flush(10)
    with state.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar_one() == 1
        assert schema.current_revision(conn, prefix) == schema.HEAD


def test_upgrade_refuses_a_revision_from_a_newer_fmd(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    store = app.extensions["fmd"].store
    assert invoke(app, "upgrade").exit_code == 0
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {store.prefix}alembic_version SET version_num = '9999_future'"))
    result = invoke(app, "upgrade")
    assert result.exit_code == 1
    assert "Error:" in result.output and "9999_future" in result.output and "newer fmd" in result.output
    assert "Traceback" not in result.output
