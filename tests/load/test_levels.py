"""A level set in the store (as the dashboard does) reaches every gunicorn worker within seconds."""

from __future__ import annotations

import time

import pytest

from fmd.store import writes
from fmd.store.engine import Store

from .harness import load

pytestmark = pytest.mark.slow

SYNC_INTERVAL = 1.0
WORKERS = 4


def _set_level(url: str, prefix: str, endpoint: str, level: int) -> None:
    """What fmd.set_level does, from another process: store the level and bump the shared version."""
    store = Store(url, prefix)
    try:
        with store.write() as conn:
            writes.store_level(conn, store.tables, endpoint, level)
    finally:
        store.dispose()


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_level_change_reaches_every_worker(sqlite_url, prefix, gunicorn, counts) -> None:  # noqa: ANN001
    began = time.perf_counter()
    server = gunicorn(sqlite_url, prefix, workers=WORKERS, sync_interval=SYNC_INTERVAL)
    found = counts(sqlite_url, prefix)
    # Every worker records /quiet (its group_by is the worker's pid), so every writer thread is running.
    warmed = 0
    for _ in range(20):
        assert load(server.port, 40, concurrency=20, paths=["/quiet"]).ok == 40
        warmed += 40
        # A worker writes its access log line just after the response: wait for all of them.
        assert _wait(lambda: sum(server.served_by("/quiet").values()) == warmed, 5)
        if len(server.served_by("/quiet")) == WORKERS:
            break
    assert found.wait_for_requests(warmed, timeout=10) == warmed
    assert len(found.pids_of("quiet")) == WORKERS, server.log()
    recorded = found.by_endpoint()["quiet"]
    warm_s = time.perf_counter() - began

    # Level 0: workers stop recording /quiet rows, but keep moving its last_requested.
    _set_level(sqlite_url, prefix, "quiet", 0)
    # The README promises every worker follows within SYNC_INTERVAL; half of it again covers a slow round trip.
    # (Not 2 x: a worker that synced only every 2 x SYNC_INTERVAL would pass such a wait unnoticed.)
    time.sleep(SYNC_INTERVAL * 1.5)
    seen_before = found.last_requested("quiet")
    served_before = server.served_by("/quiet")
    assert load(server.port, 200, concurrency=20, paths=["/quiet", "/"]).ok == 200
    assert _wait(lambda: found.last_requested("quiet") > seen_before, 5)
    assert _wait(lambda: found.by_endpoint().get("index") == 100, 5)  # the writers are alive and writing
    assert _wait(lambda: sum(server.served_by("/quiet").values()) == warmed + 100, 5)
    served = server.served_by("/quiet")
    at_level_0 = {pid: served[pid] - served_before.get(pid, 0) for pid in served}
    assert len([n for n in at_level_0.values() if n]) == WORKERS, at_level_0  # every worker took part
    assert found.by_endpoint()["quiet"] == recorded

    # Back to level 1: every worker records again.
    _set_level(sqlite_url, prefix, "quiet", 1)
    time.sleep(SYNC_INTERVAL * 1.5)
    assert load(server.port, 200, concurrency=20, paths=["/quiet"]).ok == 200
    assert server.stop() == 0, server.log()
    per_endpoint = found.by_endpoint()
    print(f"\nlevels: {recorded} rows before (warm-up {warm_s:.1f} s), +0 at level 0 "
          f"(requests per worker {sorted(at_level_0.values())}), {per_endpoint['quiet'] - recorded} after level 1 "
          f"again; test {time.perf_counter() - began:.1f} s")
    assert per_endpoint["quiet"] == recorded + 200
    # Per worker: a row for each /quiet it served at level 1, none for those it served at level 0.
    served = server.served_by("/quiet")
    assert found.rows_per_pid("quiet") == {pid: n - at_level_0.get(pid, 0) for pid, n in served.items()}
