"""Custom graphs under gunicorn (issue 11): with 3 workers, each tick of an every-second graph runs the function
once and stores one value: ticks on the epoch grid, claimed in the store before the function runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from fmd.store.engine import make_engine
from fmd.store.models import tables_for

from .harness import Gunicorn, free_port, load, wait_listening

pytestmark = pytest.mark.slow

WORKERS = 3
TICKS = 10

APP = '''
    """A host whose every-second custom graph writes each call (pid, time) to a file before returning its pid."""
    import os
    import time

    from flask import Flask

    import fmd

    CALLS = os.environ["GRAPH_CALLS"]


    def worker_pid():
        with open(CALLS, "a") as out:  # O_APPEND: lines of several processes do not mix
            out.write(f"{os.getpid()} {time.time():.6f}\\n")
        return os.getpid()


    fmd.add_graph("Worker", worker_pid, "interval", seconds=1)  # before bind: goes to the app below
    app = Flask("graphhost")


    @app.route("/")
    def index():
        return "ok"


    fmd.bind(app)
'''


class GraphHost(Gunicorn):
    """Gunicorn serving the app above (written to *log_dir*)."""

    def __init__(self, url: str, prefix: str, log_dir: Path, calls: Path, preload: bool) -> None:
        (log_dir / "graphhost.py").write_text(textwrap.dedent(APP))
        self.port = free_port()
        self.workers = WORKERS
        env = {k: v for k, v in os.environ.items() if not k.startswith("FMD_")}
        env.update({"FMD_DATABASE": url, "FMD_TABLE_PREFIX": prefix, "FMD_FLUSH_INTERVAL": "0.1",
                    "PYTHONUNBUFFERED": "1", "GRAPH_CALLS": str(calls)})
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        args = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(log_dir), "--graceful-timeout", "20", "--timeout", "30",
                "--access-logfile", "-", "--access-logformat", "access %(p)s %(U)s %(s)s", "graphhost:app"]
        if preload:  # the app (and add_graph, and bind) in the master, before the fork
            args.insert(3, "--preload")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_listening(self, "gunicorn", 30)


def stored_ticks(url: str, prefix: str) -> list[tuple[datetime, str, float | None, str]]:
    t = tables_for(prefix)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(t.custom_graph_value.c.tick, t.custom_graph_value.c.outcome, t.custom_graph_value.c.value,
                       t.custom_graph_value.c.claimed_by).order_by(t.custom_graph_value.c.tick))]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database, preload", [("sqlite", False), ("sqlite", True),
                                               ("postgresql", True)])
def test_each_tick_runs_once_across_three_workers(database, preload, tmp_path, prefix) -> None:  # noqa: ANN001
    from conftest import drop_prefix, server_url

    url = f"sqlite:///{tmp_path / 'fmd.db'}" if database == "sqlite" else server_url(database)
    calls = tmp_path / "calls.txt"
    calls.touch()
    host = GraphHost(url, prefix, tmp_path, calls, preload)
    try:
        # The scheduler starts with each worker's writer, at its first request: reach all three.
        for _ in range(20):
            assert load(host.port, 60, concurrency=12, paths=["/"]).ok == 60
            if len(host.served_by("/")) == WORKERS:
                break
        assert len(host.served_by("/")) == WORKERS, host.log()
        started = time.time()
        time.sleep(TICKS + 2.5)
        ended = time.time()
        assert host.stop() == 0, host.log()
        rows = stored_ticks(url, prefix)
    finally:
        host.kill()
        if database != "sqlite":
            drop_prefix(url, prefix)
    epoch = datetime(1970, 1, 1)
    # Every whole second from the first after all workers ran to the last before the stop: one row each.
    window = [r for r in rows if started + 1 <= (r[0] - epoch).total_seconds() <= ended - 1.5]
    seconds = [(r[0] - epoch).total_seconds() for r in window]
    assert len(window) >= TICKS, (rows, host.log())
    assert all(s == int(s) for s in seconds)  # on the grid
    assert seconds == list(range(int(seconds[0]), int(seconds[0]) + len(seconds))), seconds  # no gap, no repeat
    assert all(r[1] == "ok" for r in window), window
    # The function ran exactly once per stored tick, never for a tick another worker took.
    lines = calls.read_text().split()
    call_pids = lines[0::2]
    assert len(call_pids) == len(rows), (len(call_pids), len(rows))
    assert {str(int(r[2])) for r in rows if r[2] is not None} <= set(call_pids)
    master = host.proc.pid
    assert master not in {int(p) for p in call_pids}  # the (preloading) master never runs a graph
    # Each row was claimed by the worker whose pid it stores (the winner ran it).
    for tick, outcome, value, holder in rows:
        if outcome == "ok":
            assert holder.split(":")[1] == str(int(value)), (holder, value)
