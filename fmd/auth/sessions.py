"""Server-side login sessions: one row in ``fmd_login_session`` per dashboard login.

A login gets a random token (256 bits); the session cookie carries the token and the table only its
SHA-256, so a copy of the database opens no session. A request is logged in while its token's row exists,
its user exists, and the row was seen within SESSION_IDLE_HOURS. Revoking deletes rows: logout deletes the
one, a password or role change (and removing the user) deletes all of that user's. ``last_seen`` is written
at most once per TOUCH_INTERVAL, so a busy dashboard does not write on every request; the idle limit is
therefore exact to within that interval. Expired rows are pruned at each login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, insert, select, update

from ..store.models import Tables
from ..store.writes import utcnow

if TYPE_CHECKING:
    from ..store.engine import Store

#: How stale ``last_seen`` may get before a request writes it again.
TOUCH_INTERVAL = timedelta(seconds=60)
#: Longest token accepted from a cookie (ours are 43 characters); anything longer is not looked up.
MAX_TOKEN = 100


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(store: "Store", user_id: int, idle_hours: float, now: datetime | None = None) -> str:
    """Open a session for *user_id*; return its token (for the cookie). Prunes expired sessions first."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    s = store.tables.login_session
    with store.write() as conn:
        conn.execute(delete(s).where(s.c.last_seen < now - timedelta(hours=idle_hours)))
        conn.execute(insert(s).values(id=_digest(token), user_id=user_id, created_at=now, last_seen=now))
    return token


def user_for(store: "Store", token: str, idle_hours: float, now: datetime | None = None) -> dict | None:
    """The user row of a live session *token*, or None (unknown, revoked, idle too long, user gone)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        return None
    now = now or utcnow()
    digest = _digest(token)
    s, u = store.tables.login_session, store.tables.user
    with store.read() as conn:
        row = conn.execute(select(u, s.c.id.label("session_id"), s.c.last_seen.label("session_seen"))
                           .join(s, s.c.user_id == u.c.id).where(s.c.id == digest)).first()
    # The lookup is by the hash, which an attacker cannot steer; compare in constant time all the same.
    if row is None or not hmac.compare_digest(row.session_id, digest):
        return None
    if row.session_seen < now - timedelta(hours=idle_hours):
        end(store, token)
        return None
    if now - row.session_seen >= TOUCH_INTERVAL:
        with store.write() as conn:
            conn.execute(update(s).where(s.c.id == digest).values(last_seen=now))
    user = dict(row._mapping)
    del user["session_id"], user["session_seen"]
    return user


def end(store: "Store", token: str) -> None:
    """Revoke one session (logout); an unknown token is a no-op."""
    s = store.tables.login_session
    with store.write() as conn:
        conn.execute(delete(s).where(s.c.id == _digest(token)))


def end_all(conn: Connection, t: Tables, user_id: int) -> None:
    """Revoke every session of *user_id*, inside the caller's write transaction (password or role change)."""
    conn.execute(delete(t.login_session).where(t.login_session.c.user_id == user_id))

