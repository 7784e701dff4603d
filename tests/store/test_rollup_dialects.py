"""Rollup upserts by dialect name, and hours in UTC whatever the server's local time zone."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from sqlalchemy import select

from conftest import drop_prefix, server_url
from fmd.store import rollups
from fmd.store.engine import Store


def test_hours_are_utc_whatever_the_local_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        rollups._EPOCH_CACHE.clear()
        assert rollups.utc_from_epoch(1_699_920_000) == datetime(2023, 11, 14, 0, 0)
        assert rollups.utc_from_epoch(1_699_923_600) == datetime(2023, 11, 14, 1, 0)
    finally:
        monkeypatch.undo()
        time.tzset()
        rollups._EPOCH_CACHE.clear()


def test_a_mariadb_url_adds_up_like_mysql(prefix: str) -> None:
    """SQLAlchemy names the dialect "mariadb" for a mariadb:// URL: the upsert must add there too."""
    url = server_url("mysql").replace("mysql+pymysql://", "mariadb+pymysql://", 1)
    store = Store(url, prefix)
    try:
        t = store.tables
        with store.write() as conn:
            assert conn.dialect.name == "mariadb"
            from fmd.store import writes

            endpoint_id = writes.ensure_endpoints(conn, t, ["index"], {})["index"]
        for _ in range(2):
            fold = rollups.Fold()
            fold.add(endpoint_id, 1_699_920_000.5, 0.25, "1.0", 200, "u", "10.0.0.1")
            with store.write() as conn:
                fold.apply(conn, t)
        with store.read() as conn:
            row = conn.execute(select(t.rollup_hour.c["count"], t.rollup_hour.c.duration_sum)).one()
        assert tuple(row) == (2, 0.5)
    finally:
        store.dispose()
        drop_prefix(server_url("mysql"), prefix)
