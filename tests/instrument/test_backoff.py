"""With the database down, flush() waits for the writer's backoff; at exit, one attempt, then the loss is logged."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

import fmd


@pytest.mark.slow
def test_flush_never_hurries_the_backoff(tmp_path, new_host_app) -> None:  # noqa: ANN001
    """The issue's figure: fmd.flush(3) made 26,260 write attempts. Backoff 0.5, 1, 2 s: at most 4 in 3 s."""
    (tmp_path / "not-a-directory").write_text("")  # the SQLite file cannot be created, even by root
    app = new_host_app()
    fmd.bind(app, database=f"sqlite:///{tmp_path / 'not-a-directory' / 'fmd.db'}", flush_interval=0.05)
    state = app.extensions["fmd"]
    try:
        app.test_client().get("/")
        cpu = time.process_time()
        started = time.monotonic()
        assert fmd.flush(3) is False
        assert 2.9 < time.monotonic() - started < 4
        attempts = state.stats()["failed_writes"]
        assert 1 <= attempts <= 4, attempts
        assert time.process_time() - cpu < 0.5  # it waited; it did not spin
    finally:
        state.close(0.5)


_EXIT_SCRIPT = textwrap.dedent("""
    import logging, sys, time
    from flask import Flask
    import fmd
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = Flask("exiting")
    @app.route("/")
    def index():
        return "hi"
    fmd.bind(app, database=sys.argv[1], flush_interval=0.05)
    client = app.test_client()
    for _ in range(7):
        client.get("/")
    time.sleep(1.2)  # the writer has failed and is backing off
    print("exiting", flush=True)
""")


@pytest.mark.slow
def test_exit_with_the_database_down_gives_up_after_one_attempt(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "not-a-directory").write_text("")
    url = f"sqlite:///{tmp_path / 'not-a-directory' / 'fmd.db'}"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT, url], capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "exiting" in done.stdout
    assert "7 records could not be written before exit" in done.stderr
    assert elapsed < 6, elapsed  # not the 10 s a flush would wait, let alone 10 s of retries
