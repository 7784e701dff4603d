"""Keys that differ only in case or accents stay apart (issue 7, item 6), on SQLite, PostgreSQL and MariaDB,
whose default collations (utf8mb4_general_ci) merged them; fmd's MySQL tables are utf8mb4_bin whatever the
database's default, and the upsert that stands in for INSERT IGNORE never rewrites a stored key."""

from __future__ import annotations

import uuid
from typing import Callable, Iterator

import pytest
from alembic import command
from conftest import drop_prefix, server_url  # the suite's root conftest
from flask import Flask, request
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

import fmd
from fmd.store import schema, writes
from fmd.store.engine import Store, make_engine
from fmd.store.models import tables_for

from .test_migrations import fmd_diff




def endpoint_rows(store: Store) -> set[tuple]:
    e = store.tables.endpoint
    with store.read() as conn:
        return set(conn.execute(select(e.c.id, e.c.name, e.c.monitor_level)).all())


def test_endpoints_differing_only_in_case_get_two_ids_and_keep_their_names(store: Store) -> None:
    t = store.tables
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["user", "User"], {"user": 1, "User": 2})
    assert ids["user"] != ids["User"]
    for names in (["User"], ["user"], ["User", "user"]):  # each later sync, as other workers do it
        with store.write() as conn:
            assert writes.ensure_endpoints(conn, t, names, {}) == {n: ids[n] for n in names}
    with store.write() as conn:  # a worker that lost the race to create it: its insert changes nothing
        writes.insert_ignore(conn, t.endpoint, [{"name": "User", "monitor_level": 3, "time_added": writes.utcnow()}],
                             ("name",))
    assert endpoint_rows(store) == {(ids["user"], "user", 1), (ids["User"], "User", 2)}


@pytest.fixture
def mysql_store(prefix: str) -> Iterator[Store]:
    """ON DUPLICATE KEY UPDATE is MySQL's (SQLite and PostgreSQL do nothing on conflict): MariaDB only."""
    s = Store(server_url("mysql"), prefix)
    s.ensure_schema()
    yield s
    s.dispose()
    drop_prefix(server_url("mysql"), prefix)


def test_the_mysql_upsert_never_rewrites_the_stored_row(mysql_store: Store) -> None:
    store = mysql_store
    t = store.tables
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["orders"], {"orders": 2})
    with store.write() as conn:  # a duplicate of its id under another name: the old upsert renamed the row
        writes.insert_ignore(conn, t.endpoint, [{"id": ids["orders"], "name": "renamed", "monitor_level": 0,
                                                 "time_added": writes.utcnow()}], ("name",))
    assert endpoint_rows(store) == {(ids["orders"], "orders", 2)}


@pytest.fixture
def two_versions(db_url: str, make_app: Callable[..., Flask]) -> tuple[Flask, Flask]:
    """Two apps on one database, at versions 'v1' and 'V1', grouping requests by ?u=."""
    fmd.config.group_by = lambda: request.args.get("u", "")
    return make_app(db_url, app_version="v1"), make_app(db_url, app_version="V1")


def test_group_by_and_versions_differing_in_case_or_accents_stay_separate_rollup_rows(
        two_versions: tuple[Flask, Flask]) -> None:
    for app in two_versions:
        client = app.test_client()
        for user in ("José", "Jose", "José"):
            assert client.get("/", query_string={"u": user}).status_code == 200
    assert fmd.flush(20)
    store = two_versions[0].extensions["fmd"].store
    t = store.tables
    with store.read() as conn:
        hourly = conn.execute(select(t.rollup_hour.c.version, func.sum(t.rollup_hour.c.count))
                              .group_by(t.rollup_hour.c.version)).all()
        per_user = conn.execute(select(t.rollup_group_day.c.version, t.rollup_group_day.c.group_by,
                                       t.rollup_group_day.c.count)).all()
        histogram = conn.execute(select(t.histogram_group_day.c.group_by, func.sum(t.histogram_group_day.c.count))
                                 .group_by(t.histogram_group_day.c.group_by)).all()
        raw = conn.execute(select(t.request.c.version_requested, t.request.c.group_by, func.count())
                           .group_by(t.request.c.version_requested, t.request.c.group_by)).all()
    assert sorted(hourly) == [("V1", 3), ("v1", 3)]
    assert sorted(per_user) == [("V1", "Jose", 1), ("V1", "José", 2), ("v1", "Jose", 1), ("v1", "José", 2)]
    assert sorted(histogram) == [("Jose", 2), ("José", 4)]
    assert sorted(raw) == sorted(per_user)


# ----------------------------------------------------------------------------- MariaDB/MySQL only

def collations(engine, prefix: str) -> tuple[set[str], set[tuple[str, str]]]:  # noqa: ANN001
    """The collations of fmd's tables, and the (character set, collation) pairs of their text columns."""
    like = prefix.replace("_", r"\_") + "%"
    version = schema.version_table(prefix)
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text(
            "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME LIKE :like AND TABLE_NAME <> :version"), {"like": like, "version": version})}
        columns = {tuple(r) for r in conn.execute(text(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
            "DATABASE() AND TABLE_NAME LIKE :like AND TABLE_NAME <> :version AND COLLATION_NAME IS NOT NULL"),
            {"like": like, "version": version})}
    return tables, columns


def test_every_fmd_table_and_text_column_is_utf8mb4_bin_on_mariadb(prefix: str) -> None:
    url = server_url("mysql")
    engine = make_engine(url)
    try:
        schema.ensure_at_head(engine, prefix)
        assert collations(engine, prefix) == ({"utf8mb4_bin"}, {("utf8mb4", "utf8mb4_bin")})
        with engine.begin() as conn:  # a table created again by the repair (metadata, not Alembic) too
            conn.execute(text(f"DROP TABLE {prefix}meta"))
        schema.ensure_at_head(engine, prefix)
        assert collations(engine, prefix) == ({"utf8mb4_bin"}, {("utf8mb4", "utf8mb4_bin")})
    finally:
        engine.dispose()
        drop_prefix(url, prefix)


@pytest.fixture
def latin1_url() -> Iterator[str]:
    """A MariaDB database whose default character set is latin1 (dropped afterwards)."""
    url = server_url("mysql")
    name = f"fmd_latin1_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()


def test_a_latin1_database_still_stores_an_emoji_group_by(latin1_url: str, make_app: Callable[..., Flask],
                                                          prefix: str) -> None:
    fmd.config.group_by = lambda: request.args.get("u", "")
    app = make_app(latin1_url)
    assert app.test_client().get("/", query_string={"u": "ana 🐍"}).status_code == 200
    assert fmd.flush(20)
    store = app.extensions["fmd"].store
    t = store.tables
    with store.read() as conn:
        assert conn.execute(select(t.request.c.group_by)).scalars().all() == ["ana 🐍"]
        assert conn.execute(select(t.rollup_group_day.c.group_by)).scalars().all() == ["ana 🐍"]
        assert fmd_diff(conn, prefix) == []  # TEXT stayed TEXT: 0002 MODIFYs columns, never CONVERT TO
    tables, columns = collations(store.engine, prefix)
    assert tables == {"utf8mb4_bin"} and columns == {("utf8mb4", "utf8mb4_bin")}


def test_0002_downgrades_to_the_database_default_and_upgrades_again(latin1_url: str, prefix: str) -> None:
    engine = make_engine(latin1_url)
    try:
        schema.ensure_at_head(engine, prefix)
        with engine.connect() as conn:
            command.downgrade(schema.alembic_config(conn, prefix), "0001")
            conn.commit()
        assert collations(engine, prefix) == ({"latin1_swedish_ci"}, {("latin1", "latin1_swedish_ci")})
        assert schema.ensure_at_head(engine, prefix) == "0001"
        assert collations(engine, prefix) == ({"utf8mb4_bin"}, {("utf8mb4", "utf8mb4_bin")})
        with engine.connect() as conn:
            assert fmd_diff(conn, prefix) == []
    finally:
        engine.dispose()


def test_every_table_created_from_the_metadata_on_mariadb_gets_the_options(latin1_url: str, prefix: str) -> None:
    # The options are given when a table is created on MySQL (a before_create hook), so that declaring the
    # tables never imports the MySQL dialect in a SQLite or PostgreSQL worker (issue 8 item 5).
    engine = make_engine(latin1_url)
    try:
        with engine.begin() as conn:
            tables_for(prefix).metadata.create_all(conn)
        assert collations(engine, prefix) == ({"utf8mb4_bin"}, {("utf8mb4", "utf8mb4_bin")})
    finally:
        engine.dispose()
