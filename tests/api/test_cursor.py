"""The cursor cannot skip a row whose transaction commits after a later one (out of id order): two writers, the
first holding a lower request id and waiting before its commit, the second committing, the API read in between."""

from __future__ import annotations

import threading
import time

import pytest
from dashboard_helpers import PREFIX, dashboard

from fmd.store import writes

TOKEN = "0123456789abcdef-cursor-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _page_all(client, cursor: str) -> tuple[list[int], str]:  # noqa: ANN001
    ids: list[int] = []
    while True:
        body = client.get(f"{PREFIX}/api/v1/requests?limit=2&cursor={cursor}", headers=AUTH).json
        ids += [row["id"] for row in body["requests"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return ids, cursor


def test_a_late_commit_of_lower_ids_is_not_skipped(make_app, db_url, monkeypatch) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url, security_token=TOKEN)
    store = app.extensions["fmd"].store
    t = store.tables
    client = app.test_client()
    now = time.time()
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["first", "second"], {})
    a_inserted, a_go = threading.Event(), threading.Event()
    real_take_next = writes.take_next
    first_thread: list[threading.Thread] = []

    def take_next(conn, tables):  # noqa: ANN001, ANN202
        if threading.current_thread() is first_thread[0]:
            a_inserted.set()  # its outlier's request row is in (uncommitted), with the lowest id
            assert a_go.wait(30)
        return real_take_next(conn, tables)

    monkeypatch.setattr(writes, "take_next", take_next)
    errors: list[BaseException] = []

    def write(name: str, count: int, outlier: bool) -> None:
        try:
            records = [(name, 0.01, now, 200, "", "", [("outlier", {"average": 0.001, "method": "GET", "url": "/"})]
                        if outlier and i == 0 else [])
                       for i in range(count)]
            with store.write() as conn:
                writes.write_batch(conn, t, writes.new_batch_id(), "1.0", records, ids, {name: now}, mixed=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    first = threading.Thread(target=write, args=("first", 3, True))
    first_thread.append(first)
    first.start()
    assert a_inserted.wait(30)
    second = threading.Thread(target=write, args=("second", 3, False))
    second.start()
    second.join(5)
    serialised = second.is_alive()  # SQLite: one writer at a time, the second waits for the first's commit
    assert serialised == (store.engine.dialect.name == "sqlite"), "the second writer should commit first"
    seen, cursor = _page_all(client, "0.0")
    if not serialised:
        with store.read() as conn:
            lowest_pending = conn.execute(t.request.select().with_only_columns(t.request.c.id)).all()
        assert len(seen) == 3 and len(lowest_pending) == 3  # only the second's rows are visible yet
    a_go.set()
    first.join(30)
    second.join(30)
    assert not errors, errors
    later, _ = _page_all(client, cursor)
    with store.read() as conn:
        stored = sorted(row[0] for row in conn.execute(t.request.select().with_only_columns(t.request.c.id)))
    assert len(stored) == 6
    assert sorted(seen + later) == stored and len(set(seen + later)) == 6
    if not serialised:
        # The first writer's outlier row got its id before the second's rows, so "id > the last id read" would
        # have skipped it for ever; the commit sequence serves it after them.
        assert min(later) < max(seen)
