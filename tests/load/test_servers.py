"""The server matrix (issue 8 item 6): 1,000 requests at concurrency 20 under each server, a graceful stop,
then every request is stored exactly once.

Rows of the request table are compared with the requests sent; ``/_stats`` (outside Flask) and the warm-up
request of ``matrixapp`` are never counted. Two workers each, SQLite in tmp_path, so the matrix stays short.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from .harness import PATHS, load
from .matrix import Server, gunicorn_args, uwsgi_args, waitress_args

pytestmark = pytest.mark.slow

REQUESTS = 1_000


@pytest.fixture
def serve(tmp_path):  # noqa: ANN001, ANN201
    """Factory: serve(name, args, url, prefix, **env) -> a running Server; any left running is killed."""
    started: list[Server] = []

    def start(name: str, args: list[str], url: str, prefix: str, **env: str) -> Server:
        server = Server(name, args, url, prefix, tmp_path, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def stored_load_rows(counts, url: str, prefix: str) -> dict[str, int]:  # noqa: ANN001
    """Request rows per endpoint, the warm-up request left out."""
    per_endpoint = counts(url, prefix).by_endpoint()
    per_endpoint.pop("warm", None)
    return per_endpoint


def run_and_count(server: Server, url: str, prefix: str, counts, *, sig: int = signal.SIGTERM,  # noqa: ANN001
                  expected_exit: tuple[int, ...] = (0,)) -> int:
    """Load, stop with *sig*, and check that every request is stored exactly once; the rows stored."""
    began = time.perf_counter()
    result = load(server.port, REQUESTS, concurrency=20)
    assert result.ok == REQUESTS, f"{REQUESTS - result.ok} requests failed:\n{server.log()}"
    code = server.stop(sig=sig)
    per_endpoint = stored_load_rows(counts, url, prefix)
    stored = sum(per_endpoint.values())
    print(f"\n{server.name}: {stored}/{REQUESTS} stored; exit {code}; load {result.elapsed:.1f} s, "
          f"test {time.perf_counter() - began:.1f} s")
    assert stored == REQUESTS, f"{stored} of {REQUESTS} stored:\n{server.log()}"
    assert per_endpoint == {name: REQUESTS // len(PATHS) for name in ("index", "item", "search", "quiet")}
    assert code in expected_exit, server.log()
    return stored


GUNICORN = {
    "sync": dict(worker_class="sync"),
    "gthread": dict(worker_class="gthread", threads=4),
    "gevent": dict(worker_class="gevent"),
    "gevent-preload": dict(worker_class="gevent", preload=True),
}


@pytest.mark.parametrize("kind", list(GUNICORN))
def test_gunicorn_sqlite(kind, sqlite_url, prefix, serve, counts) -> None:  # noqa: ANN001
    server = serve(f"gunicorn-{kind}", gunicorn_args(**GUNICORN[kind]), sqlite_url, prefix)
    run_and_count(server, sqlite_url, prefix, counts)


@pytest.mark.parametrize("kind", ["gevent", "gevent-preload"])
def test_gunicorn_gevent_postgresql(kind, pg_url, prefix, serve, counts) -> None:  # noqa: ANN001
    server = serve(f"gunicorn-{kind}-pg", gunicorn_args(**GUNICORN[kind]), pg_url, prefix)
    run_and_count(server, pg_url, prefix, counts)


def test_gevent_postgresql_writer_keeps_up_under_sustained_load(pg_url, prefix, serve, counts) -> None:  # noqa: ANN001
    """~10 s of load at concurrency 20: the queue stays far below QUEUE_SIZE and rows are written meanwhile."""
    queue_size = 100_000  # the default QUEUE_SIZE (issue 8 saw 12,011 queued and growing, nothing written)
    server = serve("gunicorn-gevent-pg-sustained", gunicorn_args("gevent", preload=True), pg_url, prefix,
                   FMD_QUEUE_SIZE=str(queue_size))
    found = counts(pg_url, prefix)
    samples: list[tuple[float, int, int]] = []  # (seconds into the load, a worker's queue_length, rows stored)
    loading = threading.Event()
    loading.set()
    began = time.monotonic()

    def sample() -> None:
        while loading.is_set():
            try:
                queue = int(server.stats()["queue_length"])
            except OSError:
                queue = -1
            samples.append((time.monotonic() - began, queue, found.requests()))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = load(server.port, 10**6, concurrency=20, deadline_s=10)
    finally:
        loading.clear()
        sampler.join(30)
    stored_at_end_of_load = found.requests()
    sent = len(result.statuses)
    assert result.ok == sent, server.log()
    assert server.stop() == 0, server.log()
    stored = sum(stored_load_rows(counts, pg_url, prefix).values())
    queues = [q for _, q, _ in samples if q >= 0]
    print(f"\ngevent+PostgreSQL sustained: {sent} requests in {result.elapsed:.1f} s; queue samples max "
          f"{max(queues, default=-1)}; stored {stored_at_end_of_load} at the end of the load, {stored} after stop; "
          f"samples {samples[::4]}")
    assert stored == sent
    assert len(queues) >= 10, samples
    assert max(queues) < queue_size // 20, samples  # bounded far below QUEUE_SIZE, even while tables are created
    # Once writing (from the sample after the first rows appeared: that one still holds what queued while the
    # tables were created), a few batches at most: it keeps up.
    first = next((i for i, (_, _, rows) in enumerate(samples) if rows > 0), len(samples))
    writing = [q for _, q, _ in samples[first + 1:] if q >= 0]
    assert writing and max(writing) < 2_000, samples
    mid = [rows for t, _, rows in samples if 4.0 <= t <= 6.0]
    assert mid and mid[-1] > 0, samples  # rows are written while the load runs, not only at stop
    assert stored_at_end_of_load >= sent * 0.8, samples


@pytest.mark.parametrize("lazy_apps", [True, False], ids=["lazy-apps", "no-lazy-apps"])
def test_uwsgi_sqlite(lazy_apps, sqlite_url, prefix, serve, counts) -> None:  # noqa: ANN001
    server = serve(f"uwsgi-{'lazy' if lazy_apps else 'prefork'}", uwsgi_args(lazy_apps=lazy_apps), sqlite_url, prefix)
    assert server.stats()["enabled"] is True  # the worker answers before any load (the stats route records nothing)
    run_and_count(server, sqlite_url, prefix, counts, expected_exit=(0, 30))
    processes = counts(sqlite_url, prefix).processes()
    assert len({p["pid"] for p in processes}) >= 2, processes  # one health row per worker, not one shared


def test_uwsgi_app_serving_a_request_at_import(sqlite_url, prefix, serve, counts) -> None:  # noqa: ANN001
    """The master serves /warm while importing the app, before forking: its workers must still record."""
    server = serve("uwsgi-prefork-warm", uwsgi_args(lazy_apps=False), sqlite_url, prefix, FMD_TEST_WARM="1")
    run_and_count(server, sqlite_url, prefix, counts, expected_exit=(0, 30))


def test_waitress_sigterm_right_after_the_load(sqlite_url, prefix, serve, counts) -> None:  # noqa: ANN001
    """waitress installs no SIGTERM handler: fmd's flushes, then the process dies of SIGTERM as it would."""
    server = serve("waitress", waitress_args(), sqlite_url, prefix, FMD_FLUSH_INTERVAL="5")
    run_and_count(server, sqlite_url, prefix, counts, expected_exit=(-signal.SIGTERM,))


EVENTLET_SERVER = """
import eventlet
eventlet.monkey_patch()
import sys
import eventlet.wsgi
import matrixapp
eventlet.wsgi.server(eventlet.listen(("127.0.0.1", int(sys.argv[1]))), matrixapp.app, log_output=False)
"""


def test_eventlet_is_warned_about_and_never_hangs(sqlite_url, prefix, serve, counts) -> None:  # noqa: ANN001
    """eventlet is unsupported: one warning naming the alternative; requests are served; the stop ends."""
    import sys

    server = serve("eventlet", [sys.executable, "-c", EVENTLET_SERVER, "{port}"], sqlite_url, prefix)
    began = time.perf_counter()
    result = load(server.port, 200, concurrency=20, deadline_s=60)
    assert result.ok == 200, server.log()
    assert server.stop(timeout=20, sig=signal.SIGTERM) in (-signal.SIGTERM, 0, 1), server.log()  # ends: no hang
    log = server.log()
    stored = counts(sqlite_url, prefix).requests()  # 0 when the tables were never created
    print(f"\neventlet: 200 served in {time.perf_counter() - began:.1f} s, {stored} stored (unsupported)")
    assert log.count("fmd does not support eventlet") == 1, log
    assert "gunicorn -k gevent" in log
