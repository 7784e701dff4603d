"""The filters that keep a host's own Alembic away from fmd's tables (issue 7, item 13): the plain-Alembic
helper seen through autogenerate itself, chaining with the host's filter, and Flask-Migrate set up before or
after fmd.bind (the end-to-end ``flask db migrate`` run is tests/test_flask_migrate.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask.signals import appcontext_pushed, request_started
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Column, Integer, MetaData, String, Table, text

import fmd
from fmd.store import hostalembic, schema
from fmd.store.engine import make_engine


def host_diff(url: str, metadata: MetaData, include_object) -> list[tuple[str, str]]:  # noqa: ANN001
    """(operation, table) of the host's autogenerate against *url*, as its env.py would configure it."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"include_object": include_object} if include_object else {}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    finally:
        engine.dispose()
    return sorted((d[0], d[1].name) for d in diff if d[0] in ("add_table", "remove_table"))


def test_a_plain_alembic_host_sees_no_fmd_table_with_the_one_line_filter(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    schema.ensure_at_head(engine, "fmd_")  # fmd's tables and version table, default prefix
    schema.ensure_at_head(engine, "mon_")  # and a second fmd's
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    host = MetaData()
    Table("host_user", host, Column("id", Integer, primary_key=True), Column("name", String(50)))

    unfiltered = host_diff(sqlite_url, host, None)
    assert ("remove_table", "fmd_request") in unfiltered and ("remove_table", "fmd_alembic_version") in unfiltered

    assert [op for op in host_diff(sqlite_url, host, hostalembic.exclude_fmd_tables) if "fmd_" in op[1]] == []

    def no_scratch(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
        return name != "scratch"

    both = hostalembic.excluding_fmd_tables("mon_", include_object=hostalembic.excluding_fmd_tables(
        "fmd_", include_object=no_scratch))
    assert host_diff(sqlite_url, host, both) == [("add_table", "host_user")]


def host_app(tmp_path, migrate_first: bool) -> tuple[Flask, SQLAlchemy]:  # noqa: ANN001
    app = Flask("host")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'host.db'}"
    db = SQLAlchemy(app)

    @app.route("/")
    def index() -> str:
        return "hello"

    if migrate_first:
        Migrate(app, db, include_object=host_filter)
    fmd.bind(app, database=f"sqlite:///{tmp_path / 'host.db'}", table_prefix="fmd_")
    return app, db


def host_filter(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    return name != "scratch"


def watchers(app: Flask) -> int:
    """fmd's receivers connected for *app* (other extensions may have their own)."""
    receivers = [*appcontext_pushed.receivers_for(app), *request_started.receivers_for(app)]
    return sum(r.__qualname__.startswith("protect_from_host_migrate.") for r in receivers)


def test_flask_migrate_set_up_before_bind_gets_the_filter_chained_with_the_hosts(tmp_path) -> None:  # noqa: ANN001
    app, _ = host_app(tmp_path, migrate_first=True)
    try:
        include = app.extensions["migrate"].configure_args["include_object"]
        assert include.host is host_filter and include.prefix == "fmd_"
        assert not include(None, "fmd_endpoint", "table", True, None)
        assert not include(None, "scratch", "table", True, None)  # the host's own answer
        assert include(None, "note", "table", False, None)
    finally:
        app.extensions["fmd"].close(5)


def test_flask_migrate_set_up_after_bind_gets_it_when_a_command_pushes_an_app_context(tmp_path) -> None:  # noqa: ANN001
    app, db = host_app(tmp_path, migrate_first=False)
    try:
        migrate = Migrate(app, db, include_object=host_filter)
        assert app.extensions["migrate"].configure_args["include_object"] is host_filter  # not yet
        with app.app_context():  # what `flask db migrate` does before it runs
            include = app.extensions["migrate"].configure_args["include_object"]
            assert not include(None, "fmd_alembic_version", "table", True, None) and include.host is host_filter
        migrate.init_app(app, db)  # a second init_app builds a new config: protected again at the next push
        with app.app_context():
            assert isinstance(app.extensions["migrate"].configure_args["include_object"], hostalembic._ExcludeFmd)
        with app.app_context():  # added once, never wrapped twice
            assert app.extensions["migrate"].configure_args["include_object"].host is host_filter

        assert watchers(app) == 2
        assert app.test_client().get("/").status_code == 200
        assert watchers(app) == 0  # the first request ends the watch: requests pay nothing for it
    finally:
        app.extensions["fmd"].close(5)
