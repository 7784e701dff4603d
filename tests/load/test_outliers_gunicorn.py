"""Level 2 under gunicorn (issue 9): with 4 workers, every slow request is stored exactly once as an outlier,
each with the stack its worker's watchdog took while the request slept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from .harness import Gunicorn, free_port, load, wait_listening

pytestmark = pytest.mark.slow

WORKERS = 4
SLOW = 20
SLEEP_S = 0.3

APP = '''
    """A host with one endpoint that is fast unless asked to sleep in a named function; level 2 from FMD_*."""
    import os
    import time

    from flask import Flask, request

    import fmd

    app = Flask("outlierhost")


    def stuck_in_the_database(seconds):
        time.sleep(seconds)


    @app.route("/sometimes")
    def sometimes():
        if request.args.get("slow"):
            stuck_in_the_database(float(request.args["slow"]))
        return "ok"


    fmd.config.group_by = lambda: str(os.getpid())
    fmd.bind(app)
'''


class OutlierHost(Gunicorn):
    """Gunicorn serving the app above (written to *log_dir*) instead of the shared hostapp."""

    def __init__(self, url: str, prefix: str, log_dir: Path, *, workers: int = WORKERS, **fmd_env: str) -> None:
        (log_dir / "outlierhost.py").write_text(textwrap.dedent(APP))
        self.port = free_port()
        self.workers = workers
        env = {k: v for k, v in os.environ.items() if not k.startswith("FMD_")}
        env.update({"FMD_DATABASE": url, "FMD_TABLE_PREFIX": prefix, "FMD_FLUSH_INTERVAL": "0.1",
                    "PYTHONUNBUFFERED": "1", **{f"FMD_{k.upper()}": str(v) for k, v in fmd_env.items()}})
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(log_dir), "--graceful-timeout", "20", "--timeout", "30",
                "--access-logfile", "-", "--access-logformat", "access %(p)s %(U)s %(s)s", "outlierhost:app"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_listening(self, "gunicorn", 30)


@pytest.fixture
def host(tmp_path, sqlite_url, prefix):  # noqa: ANN001, ANN201
    server = OutlierHost(sqlite_url, prefix, tmp_path, monitor_level=2, sync_interval=0.5)
    yield server
    server.kill()


def _outliers(counts) -> list[dict]:  # noqa: ANN001
    t = counts.t
    with counts.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            select(t.outlier.c.request_id, t.outlier.c.duration, t.outlier.c.stack_at, t.outlier.c.stacktrace,
                   t.outlier.c.url, t.request.c.group_by)
            .join(t.request, t.request.c.id == t.outlier.c.request_id)).mappings()]


def _wait(predicate, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_every_slow_request_is_one_outlier_with_its_stack(host, sqlite_url, prefix, counts) -> None:  # noqa: ANN001
    found = counts(sqlite_url, prefix)
    # Warm-up: enough fast requests that every worker has far more than MIN_SAMPLES of its own (its writer
    # observes them as it writes them), so a few slow ones barely move its mean.
    warmed = 0
    for _ in range(10):
        assert load(host.port, 200, concurrency=16, paths=["/sometimes"]).ok == 200
        warmed += 200
        assert _wait(lambda: sum(host.served_by("/sometimes").values()) == warmed, 5)
        served = host.served_by("/sometimes")
        if len(served) == WORKERS and min(served.values()) >= 50:
            break
    served = host.served_by("/sometimes")
    assert len(served) == WORKERS and min(served.values()) >= 50, served
    assert found.wait_for_requests(warmed, timeout=15) == warmed
    time.sleep(1.0)  # every writer has taken its records (FLUSH_INTERVAL 0.1) and synced (SYNC_INTERVAL 0.5)
    assert _outliers(found) == []  # nothing fast was one

    result = load(host.port, SLOW, concurrency=8, paths=[f"/sometimes?slow={SLEEP_S}"])
    assert result.ok == SLOW
    assert found.wait_for_requests(warmed + SLOW, timeout=15) == warmed + SLOW
    assert _wait(lambda: len(_outliers(found)) >= SLOW, 10), host.log()
    assert host.stop() == 0  # a graceful stop flushes every worker: nothing more may turn up
    rows = _outliers(found)
    assert len(rows) == SLOW and len({r["request_id"] for r in rows}) == SLOW, host.log()
    for row in rows:
        assert row["duration"] >= SLEEP_S and "slow=" in row["url"]
        assert row["stack_at"] is not None and 0 < row["stack_at"] < row["duration"]
        stack = json.loads(row["stacktrace"])
        assert stack[-1]["function"] == "stuck_in_the_database" and stack[-1]["app"] is True, stack
    assert {r["group_by"] for r in rows} <= set(map(str, served))
    with found.engine.connect() as conn:
        slow_rows = conn.execute(select(func.count()).select_from(found.t.request)
                                 .where(found.t.request.c.duration >= SLEEP_S)).scalar()
    assert slow_rows == SLOW
