"""Fixtures of the load tests: a PostgreSQL URL (never skipped in CI), gunicorn runs cleaned up after each test.

``tests/load`` is a package so that this file is imported as ``load.conftest`` and never shadows the
top-level ``conftest`` module that other tests import helpers from.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from conftest import drop_prefix, server_url  # the suite's root conftest: one definition of both

from .harness import Counts, Gunicorn
from .tcpproxy import TcpProxy

@pytest.fixture
def pg_url(prefix: str) -> Iterator[str]:
    """The PostgreSQL server (skipped when unreachable, failed with CI=true); this test's tables dropped after."""
    url = server_url("postgresql")
    yield url
    drop_prefix(url, prefix)


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
