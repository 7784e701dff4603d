"""SIGTERM without a server's handler (issue 8 item 4): fmd flushes, the signal still ends the process,
and a handler the host installed first is kept and called once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine, func, select

from fmd.store.models import tables_for

pytestmark = pytest.mark.slow

SCRIPT = """
import os, signal, sys, time
from flask import Flask
import fmd
{before_bind}
app = Flask("sigterm")
app.route("/")(lambda: "ok")
fmd.bind(app, database=sys.argv[1], table_prefix=sys.argv[2], flush_interval=30,
         password="not-the-default")  # never writes on its own
client = app.test_client()
for _ in range(50):
    assert client.get("/").status_code == 200
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def run_until_sigterm(url: str, prefix: str, before_bind: str = "") -> tuple[int, str]:
    script = SCRIPT.format(before_bind=textwrap.dedent(before_bind))
    proc = subprocess.Popen([sys.executable, "-c", script, url, prefix], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout.readline().strip() == "ready", proc.stdout.read()
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    return proc.returncode, out


def stored(url: str, prefix: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(tables_for(prefix).request)).scalar())
    finally:
        engine.dispose()


def test_sigterm_flushes_then_ends_the_process_by_sigterm(sqlite_url, prefix) -> None:  # noqa: ANN001
    code, out = run_until_sigterm(sqlite_url, prefix)
    assert code == -signal.SIGTERM, out  # the signal is not swallowed: the supervisor sees SIGTERM
    assert stored(sqlite_url, prefix) == 50, out


def test_the_hosts_own_sigterm_handler_is_kept_and_called_once(sqlite_url, prefix) -> None:  # noqa: ANN001
    code, out = run_until_sigterm(sqlite_url, prefix, before_bind="""
        def own(signum, frame):
            print("host handler", signum, flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, own)
    """)
    assert out.count("host handler") == 1, out
    assert code == 7, out  # the host's handler decided the exit
    assert stored(sqlite_url, prefix) == 50, out


def test_ignored_sigterm_stays_ignored(sqlite_url, prefix) -> None:  # noqa: ANN001
    script = SCRIPT.format(before_bind="signal.signal(signal.SIGTERM, signal.SIG_IGN)")
    proc = subprocess.Popen([sys.executable, "-c", script, sqlite_url, prefix], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.0)  # still running: fmd did not replace SIG_IGN
    finally:
        proc.kill()
        proc.wait(10)


def test_not_installed_outside_the_main_thread() -> None:
    code = textwrap.dedent("""
        import signal, threading
        from fmd.instrument import shutdown
        result = []
        t = threading.Thread(target=lambda: result.append(shutdown.install()))
        t.start(); t.join()
        assert result == [False] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, result
        assert shutdown.install() is True and signal.getsignal(signal.SIGTERM) is shutdown._on_sigterm
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


def test_gunicorns_own_handler_is_left_alone() -> None:
    """gunicorn without --preload loads the app after installing its worker's handlers: fmd keeps out of them."""
    code = textwrap.dedent("""
        import signal
        from gunicorn.workers.base import Worker
        from fmd.instrument import shutdown

        class FakeWorker(Worker):
            def __init__(self):
                pass

        handler = FakeWorker().handle_exit
        signal.signal(signal.SIGTERM, handler)
        assert shutdown.install() is False and signal.getsignal(signal.SIGTERM) == handler
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr
