"""An in-memory database (a TESTING app's default) is one shared connection: its users take turns, nothing is lost."""

from __future__ import annotations

import threading
import time

from flask import Flask
from sqlalchemy import func, select

import fmd
from fmd.store.engine import _is_memory


def test_memory_urls_are_recognised() -> None:
    assert _is_memory("sqlite://") and _is_memory("sqlite:///:memory:") and _is_memory("sqlite+pysqlite://")
    assert not _is_memory("sqlite:////tmp/fmd.db") and not _is_memory("sqlite:///fmd.db")
    assert not _is_memory("postgresql://u@h/db")


def test_reads_while_writing_lose_no_record() -> None:
    """The dashboard reading while the writer writes: every request is stored once (reads used to roll back
    the writer's transaction on the shared connection, and a quarter of the rows went missing)."""
    app = Flask("memory")
    app.config["TESTING"] = True

    @app.route("/")
    def index() -> str:
        return "x"

    state = fmd.bind(app, flush_interval=0.01)
    try:
        client = app.test_client()
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                with state.store.read() as conn:
                    conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar()

        thread = threading.Thread(target=reader)
        thread.start()
        sent = 0
        until = time.monotonic() + 2
        while time.monotonic() < until:
            client.get("/")
            sent += 1
        stop.set()
        thread.join(10)
        assert fmd.flush(20)
        with state.store.read() as conn:
            stored = conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar()
        stats = fmd.stats(app)
        assert stored == stats["rows_written"] == sent and stats["failed_writes"] == 0
    finally:
        state.close(5)
