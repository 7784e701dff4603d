"""Health counts processes, not app instances, and accounts for every submitted record."""

from __future__ import annotations

import os

from sqlalchemy import select

import fmd


def test_many_apps_of_one_process_are_one_process_row(db_url, make_app) -> None:  # noqa: ANN001
    """A test run that binds several apps to one database leaves one process on Health, with their sum."""
    apps = [make_app(db_url) for _ in range(5)]
    for n, app in enumerate(apps):
        client = app.test_client()
        for _ in range(n + 1):
            client.get("/")
        client.get("/no/such/page")  # counted per status, no row of its own
    assert fmd.flush(10)
    apps[0].extensions["fmd"].recorder.report_health()
    state = apps[0].extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(t.process))]
    assert len(rows) == 1 and rows[0]["pid"] == os.getpid()
    row = rows[0]
    assert (row["submitted"], row["rows_written"], row["unrouted"], row["dropped"], row["rejected"]) == \
        (15 + 5, 15, 5, 0, 0)


def test_submitted_is_accounted_for_record_by_record(sqlite_url, make_app) -> None:  # noqa: ANN001
    """submitted = rows written + unrouted + skipped + rejected + dropped + queued, and level 0 submits nothing."""
    app = make_app(sqlite_url, queue_size=100)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    fmd.set_level("moved", 0, app=app)
    for path in ["/", "/tuple", "/nowhere", "/redirect", "/boom"] * 10:
        client.get(path)
    assert state.flush(10)
    stats = state.stats()
    assert stats["submitted"] == 1 + 40 and stats["rows_written"] == 1 + 30 and stats["unrouted"] == 10
    assert stats["submitted"] == sum(stats[k] for k in ("rows_written", "unrouted", "skipped", "rejected",
                                                        "dropped", "queue_length"))
    page = fmd.stats(app)
    assert page["enabled"] is True and page["writer_running"] is True

