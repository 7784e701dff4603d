"""Fixtures of the load tests: a PostgreSQL URL (never skipped in CI), gunicorn runs cleaned up after each test.

``tests/load`` is a package so that this file is imported as ``load.conftest`` and never shadows the
top-level ``conftest`` module that other tests import helpers from.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator

import pytest

from fmd.store.engine import make_engine
from fmd.store.models import tables_for

from .harness import Counts, Gunicorn
from .tcpproxy import TcpProxy

POSTGRES_URL = os.environ.get("FMD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _drop(url: str, prefix: str) -> None:
    engine = make_engine(url)
    try:
        tables_for(prefix).metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {prefix}alembic_version")
    finally:
        engine.dispose()


@pytest.fixture
def pg_url(prefix: str) -> Iterator[str]:
    """The PostgreSQL server (skipped when unreachable, failed with CI=true); this test's tables dropped after."""
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        message = f"postgresql at {POSTGRES_URL} is unreachable: {type(exc).__name__}: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    yield POSTGRES_URL
    _drop(POSTGRES_URL, prefix)


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[Callable[..., Gunicorn]]:  # noqa: ANN001
    """Factory: gunicorn(url, prefix, workers=4, preload=False, **FMD_env); any left running is killed."""
    started: list[Gunicorn] = []

    def start(url: str, prefix: str, **kwargs) -> Gunicorn:  # noqa: ANN003
        server = Gunicorn(url, prefix, tmp_path, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def counts() -> Iterator[Callable[[str, str], Counts]]:
    opened: list[Counts] = []

    def open_counts(url: str, prefix: str) -> Counts:
        opened.append(Counts(url, prefix))
        return opened[-1]

    yield open_counts
    for c in opened:
        c.close()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A TcpProxy in front of the PostgreSQL server; ``proxy.url`` reaches the database through it."""
    from sqlalchemy.engine import make_url

    real = make_url(pg_url)
    tcp = TcpProxy((real.host or "127.0.0.1", real.port or 5432)).start()
    tcp.url = real.set(host="127.0.0.1", port=tcp.port).render_as_string(hide_password=False)
    yield tcp
    tcp.cut()
