"""One hostile value never stops recording: text is made storable, and a refused record is isolated."""

from __future__ import annotations

import pytest
from flask import request
from sqlalchemy import select, text

import fmd
from fmd.instrument import batches
from fmd.instrument.batches import short_error
from fmd.instrument.storable import storable
from fmd.store.engine import make_engine


@pytest.mark.parametrize(("raw", "limit", "stored"), [
    ("plain", 10, "plain"),
    ("a\x00b", 10, "ab"),  # PostgreSQL: "text fields cannot contain NUL"
    ("x\udc80y", 10, "x?y"),  # a lone surrogate: no UTF-8 encoder takes it
    ("José 😀", 10, "José 😀"),  # kept: fmd's MySQL tables are utf8mb4
    ("abcdefghijkl", 5, "abcde"),
    (None, 5, ""),
    (42, 5, "42"),
])
def test_storable(raw, limit, stored) -> None:  # noqa: ANN001
    assert storable(raw, limit) == stored


def _rows(app) -> list[tuple]:  # noqa: ANN001
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        return list(conn.execute(select(t.request.c.group_by, t.request.c.ip).order_by(t.request.c.id)))


def _group() -> str:
    return (request.get_json(silent=True) or {}).get("u") or request.args.get("u", "")


def test_a_nul_a_surrogate_and_an_emoji_do_not_stop_the_writer(db_url, make_app) -> None:  # noqa: ANN001
    """The issue's reproduction: hostile group_by and IP values, then 200 normal requests: every one is stored."""
    fmd.config.group_by = _group
    app = make_app(db_url, trusted_proxies=1)
    client = app.test_client()
    assert client.get("/?u=a%00b").status_code == 200
    assert client.get("/", json={"u": "lone \udc80 surrogate"}).status_code == 200
    assert client.get("/?u=%F0%9F%98%80", headers={"X-Forwarded-For": "\x00" + "9" * 80}).status_code == 200
    for n in range(200):
        client.get(f"/?u=user{n}")
    assert fmd.flush(20)
    stats = fmd.stats(app)
    assert (stats["rows_written"], stats["rejected"], stats["dropped"], stats["queue_length"]) == (203, 0, 0, 0)
    rows = _rows(app)
    assert rows[0][0] == "ab"
    assert rows[1][0] == "lone ? surrogate"
    assert rows[2] == ("😀", "9" * 44)  # cut to 45 characters on the request path, then the NUL removed
    assert [r[0] for r in rows[3:]] == [f"user{n}" for n in range(200)]


def test_a_record_the_database_refuses_is_isolated_dropped_and_counted(db_url, make_app,  # noqa: ANN001
                                                                       monkeypatch) -> None:
    """Cleaning switched off: the database refuses one record; the other 99 of its batch are written."""
    monkeypatch.setattr(batches, "storable_record", lambda record, *limits: record)  # the backstop alone
    fmd.config.group_by = _group
    app = make_app(db_url, batch_size=100, flush_interval=0.2)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    for n in range(100):
        if n == 37:
            client.get("/", json={"u": "\udc80"})  # no UTF-8 encoder, so no database, takes it
        else:
            client.get("/", query_string={"u": f"user{n}"})
    assert state.flush(20)
    stats = state.stats()
    assert (stats["rejected"], stats["rows_written"], stats["queue_length"]) == (1, 100, 0)
    assert stats["submitted"] == stats["rows_written"] + stats["rejected"] + stats["unrouted"] + stats["skipped"] \
        + stats["dropped"] + stats["queue_length"]
    assert state.errors.counts.get("rejected") == 1
    groups = [r[0] for r in _rows(app)]
    assert groups == [""] + [f"user{n}" for n in range(100) if n != 37]
    # Later records are not held behind the refused one.
    client.get("/", query_string={"u": "after"})
    assert state.flush(10) and _rows(app)[-1][0] == "after"
    state.recorder.report_health()
    t = state.store.tables
    with state.store.read() as conn:
        row = conn.execute(select(t.process.c.rejected, t.process.c.submitted)).one()
    assert tuple(row) == (1, 102)


def test_health_never_shows_sql_parameters(db_url, prefix) -> None:  # noqa: ANN001
    """A driver's error with another visitor's value in it: Health gets the class and a blanked message."""
    engine = make_engine(db_url)
    table = f"{prefix}short"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {table} (s VARCHAR(40) UNIQUE)")
            conn.execute(text(f"INSERT INTO {table} (s) VALUES (:s)"), {"s": "secret-visitor-value"})
        with pytest.raises(Exception) as caught:  # the same value again: every database names it somewhere
            with engine.begin() as conn:
                conn.execute(text(f"INSERT INTO {table} (s) VALUES (:s)"), {"s": "secret-visitor-value"})
        assert "secret-visitor-value" in str(caught.value)  # SQLAlchemy's own message carries the parameters
        shown = short_error(caught.value)
        assert "secret" not in shown and "INSERT" not in shown and "\n" not in shown
        assert shown.startswith(("IntegrityError: ", "UniqueViolation: ")), shown
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()


def test_a_failing_write_still_shows_on_health(db_url, make_app) -> None:  # noqa: ANN001
    """The request table is gone: writes fail, and the process row (its own transaction) says so."""
    app = make_app(db_url)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/")
    assert state.flush(10)
    with state.store.write() as conn:
        conn.exec_driver_sql(f"DROP TABLE {state.store.tables.request.name}")
    client.get("/tuple")
    assert not state.flush(1.5)
    t = state.store.tables
    with state.store.read() as conn:
        row = conn.execute(select(t.process.c.failed_writes, t.process.c.last_error, t.process.c.queue_length)).one()
    assert row.failed_writes >= 1 and row.queue_length == 1
    assert "SELECT" not in row.last_error and "INSERT" not in row.last_error and "[parameters" not in row.last_error
    with state.store.write() as conn:  # put the table back so the fixture's cleanup finds the schema whole
        state.store.tables.request.create(conn)
    assert state.flush(10)


def test_a_batch_of_two_splits_and_every_refusal_is_counted_and_logged(sqlite_url, make_app, monkeypatch,  # noqa: ANN001
                                                                      caplog) -> None:
    """Batches of two: [bad, good] splits into both halves; [bad, bad] rejects both; one clear log line."""
    import logging

    monkeypatch.setattr(batches, "storable_record", lambda record, *limits: record)  # the backstop alone
    fmd.config.group_by = _group
    app = make_app(sqlite_url, batch_size=2, flush_interval=60)  # the writer wakes only for flush()
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/", query_string={"u": "warm"})
    assert state.flush(10)
    caplog.set_level(logging.ERROR, logger="fmd.instrument")
    for body in ({"u": "\udc80"}, {"u": "good"}, {"u": "\udc80"}, {"u": "\udc81"}):
        client.get("/", json=body)
    assert state.flush(10)
    stats = state.stats()
    assert (stats["rejected"], stats["rows_written"], stats["queue_length"]) == (3, 2, 0)
    assert [r[0] for r in _rows(app)] == ["warm", "good"]
    refused = [r for r in caplog.records if "refused a record" in r.getMessage()]
    assert len(refused) == 1 and not refused[0].exc_info  # at most once a minute, without a traceback
    assert refused[0].getMessage().startswith(
        "fmd: the database refused a record (UnicodeEncodeError: '…' codec can't encode character '…' in position 0:"
        " surrogates not allowed); it was dropped, the others are written")


def test_cleaning_keeps_unrouted_requests_and_endpoint_names(sqlite_url, make_app) -> None:  # noqa: ANN001
    """A batch that needs cleaning (one NUL) also holds an unrouted request and routed ones: each stays what it is."""
    fmd.config.group_by = _group
    app = make_app(sqlite_url, flush_interval=60)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/?u=a%00b")
    client.get("/no/such/page")
    client.get("/tuple")
    assert state.flush(10)
    stats = state.stats()
    assert (stats["rows_written"], stats["unrouted"], stats["rejected"]) == (2, 1, 0)
    t = state.store.tables
    with state.store.read() as conn:
        names = list(conn.execute(select(t.endpoint.c.name).join(t.request, t.request.c.endpoint_id == t.endpoint.c.id)
                                  .order_by(t.request.c.id)).scalars())
    assert names == ["index", "tuple_view"]


def test_a_refused_record_does_not_take_level_zero_times_with_it(sqlite_url, make_app, monkeypatch) -> None:  # noqa: ANN001
    """A batch of one refused record plus a level-0 endpoint's last-request time: the time is still stored."""
    monkeypatch.setattr(batches, "storable_record", lambda record, *limits: record)  # the backstop alone
    fmd.config.group_by = _group
    app = make_app(sqlite_url, flush_interval=60)
    state = app.extensions["fmd"]
    client = app.test_client()
    client.get("/", query_string={"u": "warm"})
    assert state.flush(10)
    fmd.set_level("tuple_view", 0, app=app)
    client.get("/tuple")  # level 0: only its last-request time is kept
    client.get("/", json={"u": "\udc80"})  # refused
    assert state.flush(10)
    stats = state.stats()
    assert (stats["rejected"], stats["rows_written"], stats["failed_writes"]) == (1, 1, 0)
    assert state.errors.counts == {"rejected": 1}  # no internal error of the writer on the way
    t = state.store.tables
    with state.store.read() as conn:
        last = conn.execute(select(t.endpoint.c.last_requested).where(t.endpoint.c.name == "tuple_view")).scalar()
    assert last is not None
