"""The dashboard's signing secret when SECRET_KEY is not configured: one per database, made once.

Every worker and host that shares the database must validate the same session cookies and CSRF tokens, so
a per-process random secret would log users out at random under gunicorn. The first process to need it
inserts a random value with insert-if-absent; every process then reads back whichever value won.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from sqlalchemy import select

from ..store.writes import insert_ignore

if TYPE_CHECKING:
    from ..store.engine import Store

KEY = "secret_key"


def shared_secret(store: "Store") -> str:
    """The secret kept in the meta table, created on first use (race-free across processes)."""
    meta = store.tables.meta
    with store.read() as conn:
        value = conn.execute(select(meta.c.value).where(meta.c.key == KEY)).scalar()
    if value:
        return value
    with store.write() as conn:
        insert_ignore(conn, meta, [{"key": KEY, "value": secrets.token_hex(32)}], ("key",))
        return conn.execute(select(meta.c.value).where(meta.c.key == KEY)).scalar_one()
