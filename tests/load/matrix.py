"""Any WSGI server in a subprocess for the server matrix: gunicorn with any worker class, uWSGI, waitress, a script.

Each server serves ``matrixapp`` (hostapp plus a ``/_stats`` route) from this directory, configured through
FMD_* environment variables only, and is stopped the way its process manager stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

from .harness import HERE, ServerProcess, free_port, wait_listening


class Server(ServerProcess):
    """A server command line in its own session; its output in ``log_dir``."""

    stop_timeout = 40.0
    log_tail = 6000

    def __init__(self, name: str, args: list[str], url: str, prefix: str, log_dir: Path, *,
                 env: dict[str, str] | None = None, listen_timeout: float = 30.0) -> None:
        self.name = name
        self.port = free_port()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("FMD_")}
        full_env.update({"FMD_DATABASE": url, "FMD_TABLE_PREFIX": prefix, "FMD_FLUSH_INTERVAL": "0.1",
                         "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(HERE)})
        full_env.update(env or {})
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()/kill()
        args = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = subprocess.Popen(args, env=full_env, cwd=HERE, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_listening(listen_timeout)

    def _wait_listening(self, timeout: float) -> None:
        wait_listening(self, self.name, timeout)

    def stats(self) -> dict:
        """fmd.stats() of whichever worker answers."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_stats", timeout=10) as response:
            return json.loads(response.read())


def gunicorn_args(worker_class: str, *, workers: int = 2, preload: bool = False, threads: int = 1) -> list[str]:
    args = [sys.executable, "-m", "gunicorn", "-k", worker_class, "--workers", str(workers), "--threads",
            str(threads), "--bind", "127.0.0.1:{port}", "--graceful-timeout", "20", "--timeout", "30",
            "--log-level", "info"]
    from .harness import _has_control_socket

    if _has_control_socket():  # gunicorn >= 24: one per instance, a short Unix socket path
        args += ["--control-socket", "/tmp/fmd-gunicorn-{port}.ctl"]
    if preload:
        args.append("--preload")
    return args + ["matrixapp:app"]


def uwsgi_binary() -> str | None:
    """uWSGI's command (the pyuwsgi wheel installs ``uwsgi`` next to this Python)."""
    here = Path(sys.executable).with_name("uwsgi")
    return str(here) if here.exists() else shutil.which("uwsgi")


def uwsgi_args(*, lazy_apps: bool, processes: int = 2, extra: tuple[str, ...] = ()) -> list[str]:
    binary = uwsgi_binary()
    assert binary, "uWSGI is not installed (pip install pyuwsgi)"
    args = [binary, "--http-socket", "127.0.0.1:{port}", "--master", "--processes", str(processes),
            "--pythonpath", str(HERE), "--module", "matrixapp:app", "--need-app", "--disable-logging",
            # SIGTERM stops the instance gracefully, as the uWSGI docs advise for process managers (in 2.0
            # SIGTERM alone means "brutal reload").
            "--hook-master-start", "unix_signal:15 gracefully_kill_them_all", "--worker-reload-mercy", "20"]
    if lazy_apps:
        args.append("--lazy-apps")
    return args + list(extra)


def waitress_args(threads: int = 8) -> list[str]:
    return [sys.executable, "-c", "import waitress, matrixapp, sys; "
            f"waitress.serve(matrixapp.app, host='127.0.0.1', port=int(sys.argv[1]), threads={threads})", "{port}"]
