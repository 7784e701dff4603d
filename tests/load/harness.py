"""What the load tests share: a gunicorn subprocess, a bounded loopback load generator, database counts.

Everything here talks to 127.0.0.1 only, and every loop is bounded in count and time.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from sqlalchemy import func, select

from fmd.store.engine import make_engine
from fmd.store.models import tables_for

HERE = Path(__file__).resolve().parent
PATHS = ("/", "/items/7", "/search?q=load", "/quiet")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _has_control_socket() -> bool:
    from gunicorn.config import KNOWN_SETTINGS

    return any(setting.name == "control_socket" for setting in KNOWN_SETTINGS)


class ServerProcess:
    """A server in its own session (subprocess): stop it as a process manager does, read its log."""

    proc: subprocess.Popen
    _log: Any
    log_path: Path
    port: int
    #: Seconds stop() waits for the server to end by default.
    stop_timeout = 30.0
    #: Characters of the log's end that log() returns.
    log_tail = 4000

    def stop(self, timeout: float | None = None, sig: int = signal.SIGTERM) -> int:
        """Stop as a process manager does it: SIGTERM (graceful) or SIGQUIT (quick) to the master, then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the master and its workers only
            self.proc.wait(10)
        self._log.close()

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-self.log_tail:]


def wait_listening(server, name: str, timeout: float) -> None:  # noqa: ANN001
    """Wait until *server* (with .proc, .port, .log(), .kill()) accepts connections; kill it and raise if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.proc.returncode}:\n{server.log()}")
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{name} did not listen within {timeout} s:\n{server.log()}")


class Gunicorn(ServerProcess):
    """``gunicorn hostapp:app`` in a subprocess, configured through FMD_* environment variables."""

    def __init__(self, url: str, prefix: str, log_dir: Path, *, workers: int = 4, preload: bool = False,
                 **fmd_env: str) -> None:
        self.port = free_port()
        self.workers = workers
        env = {k: v for k, v in os.environ.items() if not k.startswith("FMD_")}
        env.update({"FMD_DATABASE": url, "FMD_TABLE_PREFIX": prefix, "FMD_FLUSH_INTERVAL": "0.1",
                    "PYTHONUNBUFFERED": "1"})
        env.update({f"FMD_{k.upper()}": str(v) for k, v in fmd_env.items()})
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        args = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(HERE), "--graceful-timeout", "20", "--timeout", "30", "--log-level", "info",
                "hostapp:app"]
        if _has_control_socket():  # gunicorn >= 24: one per instance (a short path: it is a Unix socket)
            args[-1:-1] = ["--control-socket", f"/tmp/fmd-gunicorn-{self.port}.ctl"]
        if preload:
            args.insert(3, "--preload")
        # An access log line per request with the worker's pid: which workers served an endpoint.
        args[-1:-1] = ["--access-logfile", "-", "--access-logformat", "access %(p)s %(U)s %(s)s"]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_listening(30)

    def _wait_listening(self, timeout: float) -> None:
        """The master binds before it forks the workers: once it accepts, requests wait in the backlog."""
        wait_listening(self, "gunicorn", timeout)

    def served_by(self, path: str) -> dict[int, int]:
        """Worker pid -> requests to *path* it answered, from the access log."""
        if not self._log.closed:
            self._log.flush()
        served: dict[int, int] = {}
        for line in self.log_path.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "access" and parts[2] == path:
                pid = int(parts[1].strip("<>"))
                served[pid] = served.get(pid, 0) + 1
        return served



@dataclass
class LoadResult:
    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    started: list[float] = field(default_factory=list)  # time.monotonic() at each request's start
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return sum(1 for s in self.statuses if s == 200)


def load(port: int, total: int, concurrency: int = 20, paths: Sequence[str] = PATHS,
         on_progress: Callable[[int], None] | None = None, deadline_s: float = 120.0) -> LoadResult:
    """Send exactly *total* GETs over *concurrency* threads (one connection each, as sync workers close)."""
    result = LoadResult()
    lock = threading.Lock()
    issued = [0]
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        while time.monotonic() < stop_at:
            with lock:
                n = issued[0]
                if n >= total:
                    return
                issued[0] += 1
            path = paths[n % len(paths)]
            began = time.monotonic()
            started = time.perf_counter()
            status = 0
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError:
                status = 0
            latency = time.perf_counter() - started
            with lock:
                result.statuses.append(status)
                result.latencies.append(latency)
                result.started.append(began)
                done = len(result.statuses)
            if on_progress is not None:
                on_progress(done)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, name=f"load-{i}") for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(deadline_s + 30)
    result.elapsed = time.perf_counter() - started
    return result


class Counts:
    """Read what fmd stored under one prefix, straight from the database (not through any proxy)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.engine = make_engine(url)
        self.t = tables_for(prefix)

    def totals(self) -> dict[str, int]:
        t = self.t
        with self.engine.connect() as conn:
            def total(stmt) -> int:  # noqa: ANN001
                return int(conn.execute(stmt).scalar() or 0)

            return {"requests": total(select(func.count()).select_from(t.request)),
                    "rollup_hour": total(select(func.sum(t.rollup_hour.c.count))),
                    "histogram_hour": total(select(func.sum(t.histogram_hour.c.count))),
                    "histogram_day": total(select(func.sum(t.histogram_day.c.count)))}

    def requests(self) -> int:
        """Request rows stored so far (0 while the workers have not created the tables yet)."""
        from sqlalchemy.exc import DBAPIError

        try:
            with self.engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(self.t.request)).scalar() or 0)
        except DBAPIError:
            return 0

    def by_endpoint(self) -> dict[str, int]:
        t = self.t
        with self.engine.connect() as conn:
            return dict(conn.execute(select(t.endpoint.c.name, func.count(t.request.c.id))
                                     .join(t.request).group_by(t.endpoint.c.name)).all())

    def rows_per_pid(self, endpoint: str) -> dict[int, int]:
        """Request rows of *endpoint* per worker pid (the host app's group_by)."""
        t = self.t
        with self.engine.connect() as conn:
            return {int(g): n for g, n in conn.execute(
                select(t.request.c.group_by, func.count()).join(t.endpoint)
                .where(t.endpoint.c.name == endpoint).group_by(t.request.c.group_by))}

    def pids_of(self, endpoint: str) -> set[str]:
        """Worker pids (the host app's group_by) that recorded *endpoint*."""
        t = self.t
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.request.c.group_by).join(t.endpoint).distinct()
                                    .where(t.endpoint.c.name == endpoint)).scalars())

    def last_requested(self, endpoint: str):  # noqa: ANN201
        t = self.t
        with self.engine.connect() as conn:
            return conn.execute(select(t.endpoint.c.last_requested).where(t.endpoint.c.name == endpoint)).scalar()

    def processes(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(self.t.process))]

    def wait_for_requests(self, expected: int, timeout: float) -> int:
        """Poll until *expected* request rows are stored (or *timeout*); the count found."""
        deadline = time.monotonic() + timeout
        found = self.requests()
        while found < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            found = self.requests()
        return found

    def close(self) -> None:
        self.engine.dispose()
