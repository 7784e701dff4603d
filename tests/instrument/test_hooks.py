"""The host never sees an fmd failure: responses with fmd broken are those of the app without fmd."""

from __future__ import annotations

import pytest
from flask import Flask

import fmd
from fmd.instrument.handoff import Handoff

PATHS = [("GET", "/"), ("GET", "/tuple"), ("GET", "/boom"), ("GET", "/missing"), ("GET", "/redirect"),
         ("GET", "/no/such/page"), ("POST", "/")]


def responses(app: Flask) -> list[tuple]:
    """What a client gets for every path: status, the headers that matter, body."""
    client = app.test_client()
    out = []
    for method, path in PATHS:
        r = client.open(path, method=method)
        out.append((method, path, r.status_code, r.headers.get("Content-Type"), r.headers.get("Location"),
                    r.headers.get("X-Test"), r.data))
    return out


@pytest.fixture(scope="module")
def bare(new_host_app) -> list[tuple]:  # noqa: ANN001
    return responses(new_host_app())


def test_fmd_changes_no_response(bare: list[tuple], sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    assert responses(app) == bare
    assert fmd.stats(app)["internal_errors"] == 0


def test_failing_submit(bare: list[tuple], sqlite_url: str, make_app,  # noqa: ANN001
                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self, record) -> None:  # noqa: ANN001
        raise RuntimeError("fmd bug")

    monkeypatch.setattr(Handoff, "put", broken)  # before bind: the hook keeps the bound method
    app = make_app(sqlite_url)
    assert responses(app) == bare
    assert app.extensions["fmd"].errors.counts == {"record": len(PATHS)}


def test_failing_group_by(bare: list[tuple], sqlite_url: str, make_app) -> None:  # noqa: ANN001
    fmd.config.group_by = lambda: 1 / 0
    app = make_app(sqlite_url)
    assert responses(app) == bare
    # Every routed request asked for its group (unrouted ones have none); all recorded anyway.
    routed = [p for p in PATHS if p[1] not in ("/no/such/page",) and p != ("POST", "/")]
    assert app.extensions["fmd"].errors.counts == {"group_by": len(routed)}
    assert fmd.flush(10) and fmd.stats(app)["rows_written"] == len(routed)


def test_failing_level_lookup(bare: list[tuple], sqlite_url: str, make_app) -> None:  # noqa: ANN001
    class Broken(dict):
        def get(self, *args):  # noqa: ANN002, ANN202
            raise RuntimeError("fmd bug")

    app = make_app(sqlite_url)
    app.extensions["fmd"].levels.table = Broken()
    assert responses(app) == bare
    assert app.extensions["fmd"].errors.counts == {"hook": len(PATHS) - 2}  # unrouted paths look up no level


def test_full_queue_refuses_the_newest(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, queue_size=100)
    recorder = app.extensions["fmd"].recorder
    recorder.start = lambda: None  # the writer is stuck: nothing leaves the queue
    client = app.test_client()
    statuses = [client.get(f"/?n={i}").status_code for i in range(150)]
    assert statuses == [200] * 150
    assert len(recorder.handoff) == 100 and recorder.handoff.counts() == (150, 50, 100, 0)
    del recorder.start  # the writer comes back
    assert app.extensions["fmd"].flush(10)
    stats = fmd.stats(app)
    assert stats["rows_written"] == 100 and stats["dropped"] == 50 and stats["queue_length"] == 0


def test_database_down(bare: list[tuple], tmp_path, new_host_app) -> None:  # noqa: ANN001
    """An unwritable database: requests answered as ever, records kept in memory, the failure counted."""
    (tmp_path / "not-a-directory").write_text("")  # so the SQLite file cannot be created (even by root)
    app = new_host_app()
    fmd.bind(app, database=f"sqlite:///{tmp_path / 'not-a-directory' / 'fmd.db'}", flush_interval=0.05)
    state = app.extensions["fmd"]
    try:
        assert responses(app) == bare
        assert not state.flush(1.0)
        stats = fmd.stats(app)
        assert stats["failed_writes"] >= 1 and stats["last_error"] and stats["rows_written"] == 0
        assert stats["queue_length"] == len(PATHS) and stats["dropped"] == 0  # all held for a retry
    finally:
        state.close(0.5)
