"""A database that already holds Flask-MonitoringDashboard's tables under fmd's prefix (issue 7, item 14):
fmd stops with a clear, permanent ConfigError naming them and suggesting another prefix, and touches nothing."""

from __future__ import annotations

from typing import Iterator

import pytest
from sqlalchemy import inspect

import fmd
from fmd.store import schema
from fmd.store.engine import Store, make_engine
from fmd.store.models import tables_for

#: The tables Flask-MonitoringDashboard 3.x creates, after its TABLE_PREFIX (its manual's example: "fmd").
FMD_TABLES = ("Endpoint", "Request", "Outlier", "CodeLine", "StackLine", "CustomGraph", "CustomGraphData", "User")


@pytest.fixture
def old_dashboard(db_url: str, prefix: str) -> Iterator[str]:
    """*db_url* holding Flask-MonitoringDashboard-style tables named ``<base>Endpoint``...; yields <base>.

    <base> is this test's prefix without its underscore: unique, so the servers' databases stay shared.
    """
    base = prefix.rstrip("_")
    engine = make_engine(db_url)
    quote = engine.dialect.identifier_preparer.quote
    names = [quote(base + t) for t in FMD_TABLES]
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(250))")
        conn.exec_driver_sql(f"INSERT INTO {names[0]} (id, name) VALUES (1, 'main.index')")
    try:
        yield base
    finally:
        tables_for(base).metadata.drop_all(engine)  # in case a broken fmd created some of its own
        with engine.begin() as conn:
            for name in names + [quote(schema.version_table(base))]:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        engine.dispose()


def table_names(url: str, base: str) -> set[str]:
    """Tables whose names start with *base*, ignoring case (the servers' databases are shared by other tests)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {n for n in inspect(conn).get_table_names() if n.lower().startswith(base.lower())}
    finally:
        engine.dispose()


def test_flask_monitoringdashboard_tables_under_the_prefix_stop_fmd_with_a_clear_config_error(
        db_url: str, old_dashboard: str) -> None:
    base = old_dashboard
    before = table_names(db_url, base)
    assert before == {base + t for t in FMD_TABLES}
    store = Store(db_url, base)
    try:
        with pytest.raises(fmd.ConfigError) as caught:
            store.ensure_schema()
    finally:
        store.dispose()
    error = caught.value
    assert isinstance(error, schema.ForeignTablesError) and isinstance(error, schema.SchemaError)
    assert error.permanent
    assert error.tables == sorted(base + t for t in FMD_TABLES)
    message = str(error)
    assert f"{base}Endpoint" in message and f"{base}CustomGraphData" in message
    assert "Flask-MonitoringDashboard" in message and message.endswith("set another TABLE_PREFIX, e.g. fmd_")
    assert "'" not in message  # Health blanks quoted text: the names and the advice must not be quoted
    assert table_names(db_url, base) == before  # nothing created: no version table, no fmd table


def test_another_prefix_works_next_to_them_and_leaves_them_alone(db_url: str, old_dashboard: str,
                                                                  prefix: str) -> None:
    engine = make_engine(db_url)
    try:
        assert schema.ensure_at_head(engine, prefix) is None  # prefix = base + "_": fmd's advice works
        with engine.connect() as conn:
            assert schema.missing_tables(conn, prefix) == []
            assert schema.foreign_tables(conn, prefix) == []
            quote = engine.dialect.identifier_preparer.quote
            rows = conn.exec_driver_sql(f"SELECT id, name FROM {quote(old_dashboard + 'Endpoint')}").all()
            assert [tuple(r) for r in rows] == [(1, "main.index")]
    finally:
        engine.dispose()


def test_tables_of_an_fmd_with_a_longer_prefix_are_not_foreign(db_url: str, prefix: str) -> None:
    base = prefix.rstrip("_")
    engine = make_engine(db_url)
    try:
        schema.ensure_at_head(engine, prefix)  # an fmd on "<base>_" ...
        assert schema.ensure_at_head(engine, base) is None  # ... and another on "<base>" share the database
        with engine.connect() as conn:
            assert schema.missing_tables(conn, base) == [] and schema.missing_tables(conn, prefix) == []
    finally:
        tables_for(base).metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema.version_table(base)}")
        engine.dispose()


def test_a_single_case_clash_on_sqlite_is_named(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE TABLE "fmd_Request" (id INTEGER PRIMARY KEY)')  # SQLite: fmd_request
        with pytest.raises(schema.ForeignTablesError, match=r"\(fmd_Request\).*another TABLE_PREFIX, e.g. fmd2_"):
            schema.ensure_at_head(engine, "fmd_")
    finally:
        engine.dispose()
