"""Many databases in one process (issue 7, item 2): Alembic's ``context``/``op`` are process-global, so the
first-use migrations of several apps must not interleave, and a database stamped at head with tables missing
is repaired (or refused with a message that names the tables and the fix)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from flask import Flask
from sqlalchemy import inspect, text

import fmd
from fmd.store import schema
from fmd.store.engine import make_engine
from fmd.store.models import tables_for

ROUNDS = 20
FILE_APPS = 8
MEMORY_APPS = 4


def complete_with_one_row(app: Flask, prefix: str) -> tuple[set[str], int]:
    """(fmd tables missing from the app's database, request rows), read through the app's own engine.

    The app's own engine: an in-memory database exists only on its one pooled connection.
    """
    store = app.extensions["fmd"].store
    with store.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        missing = set(tables_for(prefix).metadata.tables) - present
        rows = conn.execute(text(f"SELECT COUNT(*) FROM {prefix}request")).scalar() if not missing else -1
    return missing, rows


@pytest.mark.slow
def test_many_apps_with_their_own_databases_migrate_at_once(tmp_path: Path, prefix: str,
                                                           new_host_app: Callable[[], Flask]) -> None:
    for round_ in range(ROUNDS):
        urls = [f"sqlite:///{tmp_path / f'r{round_}_{i}.db'}" for i in range(FILE_APPS)] + ["sqlite://"] * MEMORY_APPS
        apps = []
        for url in urls:
            app = new_host_app()
            fmd.bind(app, database=url, table_prefix=prefix, flush_interval=0.05)
            apps.append(app)
        try:
            for app in apps:  # each request starts that app's writer: their first-use migrations overlap
                assert app.test_client().get("/").status_code == 200
            flushed = fmd.flush(10)
            outcome = [complete_with_one_row(app, prefix) for app in apps]
            health = [(s["failed_writes"], s["last_error"]) for s in (a.extensions["fmd"].stats() for a in apps)]
            assert flushed and outcome == [(set(), 1)] * len(apps), f"round {round_}: {outcome} {health}"
            assert health == [(0, None)] * len(apps)
        finally:
            for app in apps:
                app.extensions["fmd"].close(5)


def stamp_head_then_drop(url: str, prefix: str, dropped: list[str]) -> None:
    """A database at HEAD whose version table says so, but with *dropped* tables gone (the interleaved case)."""
    engine = make_engine(url)
    try:
        schema.ensure_at_head(engine, prefix)
        with engine.begin() as conn:
            for name in dropped:
                conn.execute(text(f"DROP TABLE {prefix}{name}"))
    finally:
        engine.dispose()


def test_a_database_stamped_at_head_with_tables_missing_is_repaired(db_url: str, prefix: str) -> None:
    # Leaf tables (nothing refers to them) plus one that others refer to, dropped with its dependants.
    dropped = ["histogram_day", "rollup_ip_day", "meta", "custom_graph_value", "custom_graph"]
    stamp_head_then_drop(db_url, prefix, dropped)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert schema.missing_tables(conn, prefix) == sorted(f"{prefix}{n}" for n in dropped)
        assert schema.ensure_at_head(engine, prefix) == schema.HEAD
        with engine.connect() as conn:
            assert schema.missing_tables(conn, prefix) == []
            present = set(inspect(conn).get_table_names())
            assert set(tables_for(prefix).metadata.tables) <= present
            conn.execute(text(f"INSERT INTO {prefix}meta (" + ("`key`" if engine.dialect.name == "mysql"
                                                                  else '"key"') + ", value) VALUES ('k', 'v')"))
            conn.rollback()
    finally:
        engine.dispose()


def test_an_incomplete_database_that_cannot_be_repaired_is_refused_with_the_tables_and_the_fix(
        tmp_path: Path, prefix: str) -> None:
    path = tmp_path / "ro.db"
    stamp_head_then_drop(f"sqlite:///{path}", prefix, ["rollup_day", "meta"])
    engine = make_engine(f"sqlite:///file:{path}?mode=ro&uri=true")  # read-only: the CREATEs fail
    try:
        with pytest.raises(schema.SchemaError) as caught:
            schema.ensure_at_head(engine, prefix)
    finally:
        engine.dispose()
    message = str(caught.value)
    assert f"{prefix}meta, {prefix}rollup_day" in message and "flask fmd db upgrade" in message
    assert "readonly" in message.lower()  # the cause, in the driver's words
    assert not caught.value.permanent  # an OperationalError may pass (a read-only mount made writable)
