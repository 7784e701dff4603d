"""Shared fixtures: real databases (SQLite, PostgreSQL, MariaDB), a fresh table prefix per test, apps.

PostgreSQL and MariaDB URLs come from FMD_TEST_POSTGRES_URL / FMD_TEST_MYSQL_URL (default: the local
servers). When one is unreachable its tests are skipped, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Callable, Iterator

import pytest
from flask import Flask, abort, redirect

import fmd
from fmd.store.engine import make_engine

if TYPE_CHECKING:
    from fmd.store.engine import Store

POSTGRES_URL = os.environ.get("FMD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("FMD_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

_reachable: dict[str, str | None] = {}


def server_url(kind: str) -> str:
    """The URL of a database server, checked once; skip (or fail in CI) when it is down."""
    url = {"postgresql": POSTGRES_URL, "mysql": MYSQL_URL}[kind]
    if kind not in _reachable:
        try:
            engine = make_engine(url)
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            engine.dispose()
            _reachable[kind] = None
        except Exception as exc:  # noqa: BLE001
            _reachable[kind] = f"{type(exc).__name__}: {exc}"
    if _reachable[kind]:
        message = f"{kind} at {url} is unreachable: {_reachable[kind]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return url


def drop_prefix(url: str, prefix: str) -> None:
    """Drop every fmd table (and the version table) with *prefix*."""
    from fmd.store.models import tables_for

    engine = make_engine(url)
    try:
        tables_for(prefix).metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}alembic_version")
    finally:
        engine.dispose()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}_"


# The server databases (DDL per test prefix) run in the full suite, not in the quick run (`-m "not slow"`),
# which keeps SQLite: the same code paths, a third of the time. CI runs them all.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow),
                        pytest.param("mysql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path, prefix: str) -> Iterator[str]:  # noqa: ANN001
    """Each of the three databases in turn, cleaned of this test's tables afterwards."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fmd.db'}"
    else:
        url = server_url(request.param)
    yield url
    if request.param != "sqlite":
        drop_prefix(url, prefix)


@pytest.fixture
def store(db_url: str, prefix: str) -> Iterator["Store"]:
    """fmd's store on each database in turn, its schema at head."""
    from fmd.store.engine import Store

    s = Store(db_url, prefix)
    s.ensure_schema()
    yield s
    s.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # noqa: ANN001
    return f"sqlite:///{tmp_path / 'fmd.db'}"


@pytest.fixture(autouse=True)
def _fresh_global_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with an untouched fmd.config and no FMD_* settings from the environment."""
    for name in list(os.environ):
        if name.startswith("FMD_") and not name.startswith("FMD_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(fmd, "config", fmd.Config())
    yield


def host_app() -> Flask:
    """A small host app with one route per status path."""
    app = Flask("host")
    app.config["TESTING"] = False  # unhandled errors reach Flask's own 500 handling, as in production

    @app.route("/")
    def index() -> str:
        return "hello"

    @app.route("/tuple")
    def tuple_view():  # noqa: ANN202
        return "body", {"X-Test": "1"}

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    @app.route("/missing")
    def missing() -> str:
        abort(404)

    @app.route("/redirect")
    def moved():  # noqa: ANN202
        return redirect("/")

    return app


@pytest.fixture(scope="session")
def new_host_app() -> Callable[[], Flask]:
    """host_app, as a fixture: ``from conftest import host_app`` may import another directory's conftest."""
    return host_app


@pytest.fixture
def make_app(prefix: str) -> Iterator[Callable[..., Flask]]:
    """Factory: make_app(url, **fmd_options) -> a bound host app writing fast (small flush interval)."""
    made: list[Flask] = []

    def factory(url: str, app: Flask | None = None, **options) -> Flask:  # noqa: ANN003
        app = app or host_app()
        options.setdefault("table_prefix", prefix)
        options.setdefault("flush_interval", 0.05)
        fmd.bind(app, database=url, **options)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.extensions["fmd"].close(5)
