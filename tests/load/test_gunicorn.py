"""Real gunicorn workers under loopback load: every monitored request is stored exactly once.

After a graceful stop (SIGTERM to the master, which SIGTERMs its workers) each worker's queue has been
flushed by fmd's exit hook, so the counts are exact without any sleep.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from .harness import PATHS, load

pytestmark = pytest.mark.slow

REQUESTS = 2_000


def _run(url: str, prefix: str, gunicorn, counts, *, preload: bool) -> None:  # noqa: ANN001
    began = time.perf_counter()
    server = gunicorn(url, prefix, workers=4, preload=preload)
    result = load(server.port, REQUESTS, concurrency=20)
    assert result.ok == REQUESTS, f"{REQUESTS - result.ok} requests failed:\n{server.log()}"
    assert server.stop() == 0, server.log()
    found = counts(url, prefix)
    totals = found.totals()
    per_endpoint = found.by_endpoint()
    print(f"\n{url.split(':')[0]} preload={preload}: {REQUESTS} requests in {result.elapsed:.1f} s "
          f"({REQUESTS / result.elapsed:.0f}/s); stored {totals}; test {time.perf_counter() - began:.1f} s")
    assert totals == {"requests": REQUESTS, "rollup_hour": REQUESTS, "histogram_hour": REQUESTS,
                      "histogram_day": REQUESTS}, server.log()
    assert per_endpoint == {"index": REQUESTS // len(PATHS), "item": REQUESTS // len(PATHS),
                            "search": REQUESTS // len(PATHS), "quiet": REQUESTS // len(PATHS)}


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "fork-import"])
def test_sqlite_exact_counts(sqlite_url, prefix, gunicorn, counts, preload) -> None:  # noqa: ANN001
    _run(sqlite_url, prefix, gunicorn, counts, preload=preload)


@pytest.mark.parametrize("preload", [False, True], ids=["fork-import", "preload"])
def test_postgresql_exact_counts(pg_url, prefix, gunicorn, counts, preload) -> None:  # noqa: ANN001
    _run(pg_url, prefix, gunicorn, counts, preload=preload)


def test_two_hosts_one_postgresql(pg_url, prefix, gunicorn, counts) -> None:  # noqa: ANN001
    """Two gunicorn instances ("two hosts") on one database and prefix: rows and rollups stay exact."""
    began = time.perf_counter()
    hosts = [gunicorn(pg_url, prefix, workers=2), gunicorn(pg_url, prefix, workers=2)]
    results: list = [None, None]

    def drive(i: int) -> None:
        results[i] = load(hosts[i].port, REQUESTS // 2, concurrency=10)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert [r.ok for r in results] == [REQUESTS // 2, REQUESTS // 2]
    assert [h.stop() for h in hosts] == [0, 0]
    found = counts(pg_url, prefix)
    totals = found.totals()
    pids = {p["pid"] for p in found.processes()}
    print(f"\ntwo hosts: stored {totals} from {len(pids)} worker processes; test {time.perf_counter() - began:.1f} s")
    assert totals == {"requests": REQUESTS, "rollup_hour": REQUESTS, "histogram_hour": REQUESTS,
                      "histogram_day": REQUESTS}
    assert len(pids) == 4  # every worker of both hosts reported its health


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGQUIT], ids=["graceful", "quick"])
def test_stop_flushes_the_queue(sqlite_url, prefix, gunicorn, counts, sig) -> None:  # noqa: ANN001
    """With a writer that would not wake for 30 s, only the exit hook can have written the rows."""
    server = gunicorn(sqlite_url, prefix, workers=2, flush_interval=30)
    result = load(server.port, 200, concurrency=10)
    assert result.ok == 200
    stopped = time.perf_counter()
    assert server.stop(sig=sig) == 0, server.log()
    stop_s = time.perf_counter() - stopped
    totals = counts(sqlite_url, prefix).totals()
    print(f"\nstop by {sig.name}: {totals['requests']} rows after a {stop_s:.2f} s stop")
    assert totals == {"requests": 200, "rollup_hour": 200, "histogram_hour": 200, "histogram_day": 200}
    assert stop_s < 10
