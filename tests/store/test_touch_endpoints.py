"""An endpoint's ``last_requested`` only moves forward and ``first_requested`` is set once, on every database.

Writers in several processes flush batches in any order: a batch holding older requests may commit after a
newer one, so the update itself must refuse to move ``last_requested`` back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from fmd.store import writes
from fmd.store.engine import Store

#: 2024-03-01 12:00:00 UTC
NOON = 1_709_294_400


def stored(store: Store, endpoint_id: int) -> tuple[datetime | None, datetime | None]:
    e = store.tables.endpoint
    with store.read() as conn:
        row = conn.execute(select(e.c.first_requested, e.c.last_requested).where(e.c.id == endpoint_id)).one()
    return row[0], row[1]


def test_last_requested_never_moves_back(db_url: str, prefix: str) -> None:
    store = Store(db_url, prefix)
    try:
        with store.write() as conn:
            ids = writes.ensure_endpoints(conn, store.tables, ["index", "other"], {})
        index, other = ids["index"], ids["other"]
        assert stored(store, index) == (None, None)

        with store.write() as conn:  # a batch of requests around noon
            writes.touch_endpoints(conn, store.tables, {index: NOON + 60.5, other: NOON}, {index: NOON})
        assert stored(store, index) == (datetime(2024, 3, 1, 12, 0), datetime(2024, 3, 1, 12, 1, 0, 500000))

        with store.write() as conn:  # a batch of older requests, committed later (another worker, a retry)
            writes.touch_endpoints(conn, store.tables, {index: NOON + 10, other: NOON - 3600},
                                   {index: NOON - 7200, other: NOON - 7200})
        assert stored(store, index) == (datetime(2024, 3, 1, 12, 0), datetime(2024, 3, 1, 12, 1, 0, 500000))
        # An endpoint without a first_requested of its own gets the last time as its first.
        assert stored(store, other) == (datetime(2024, 3, 1, 12, 0), datetime(2024, 3, 1, 12, 0))

        with store.write() as conn:  # newer requests move it forward again
            writes.touch_endpoints(conn, store.tables, {index: NOON + 120}, {index: NOON + 100})
        assert stored(store, index) == (datetime(2024, 3, 1, 12, 0), datetime(2024, 3, 1, 12, 2))
    finally:
        store.dispose()
