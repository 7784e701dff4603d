"""Login throttling shared by every worker and host: failed logins are counted in ``fmd_login_attempt``.

A login is refused (HTTP 429) while, within the last WINDOW seconds, there were LIMIT failures for the
same client address and user name, or IP_LIMIT failures from that address for any names (password
spraying). Keys are hashed, so the table holds no user names or addresses in clear.

Count first, then check (``admit``): every attempt is recorded before its password is looked at, and only
an attempt that finds at most LIMIT (and IP_LIMIT) rows, its own included, is evaluated. Concurrent
attempts therefore cannot all pass the check before any of them counts: of any number racing, at most
LIMIT are evaluated. A refused attempt removes its rows again (hammering does not extend the lockout); a
successful login removes its own rows and clears its (address, name) count. Rows older than the window
are deleted on every failure, so the table stays as small as the recent failures.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Sequence

from sqlalchemy import and_, delete, func, insert, select

from ..store.writes import utcnow

if TYPE_CHECKING:
    from ..store.engine import Store

#: Failed logins allowed per (address, user name) within WINDOW.
LIMIT = 5
#: Failed logins allowed per address, whatever the user names, within WINDOW.
IP_LIMIT = 20
#: The counting window, in seconds.
WINDOW = 60


def _key(kind: str, *parts: str) -> str:
    raw = "\x00".join((kind, *parts)).encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).hexdigest()


def _keys(ip: str, username: str) -> tuple[str, str]:
    return _key("pair", ip, username.casefold()), _key("ip", ip)


def retry_after(store: "Store", ip: str, username: str, now: datetime | None = None) -> int:
    """Seconds until this address may try this user name again; 0 when it may try now."""
    now = now or utcnow()
    since = now - timedelta(seconds=WINDOW)
    pair, addr = _keys(ip, username)
    a = store.tables.login_attempt
    wait = 0
    with store.read() as conn:
        for key, limit in ((pair, LIMIT), (addr, IP_LIMIT)):
            times = conn.execute(select(a.c.time).where(a.c.key == key, a.c.time > since)
                                 .order_by(a.c.time.desc()).limit(limit)).scalars().all()
            if len(times) >= limit:
                # Allowed again when the oldest of the last *limit* failures leaves the window.
                wait = max(wait, int((times[-1] + timedelta(seconds=WINDOW) - now).total_seconds()) + 1)
    return wait


def admit(store: "Store", ip: str, username: str, now: datetime | None = None) -> tuple[list[int], int]:
    """Record one login attempt, then check it: (its row ids, 0) to evaluate it, ([], seconds) when refused."""
    now = now or utcnow()
    since = now - timedelta(seconds=WINDOW)
    a = store.tables.login_attempt
    keys = _keys(ip, username)
    # The rows are committed before counting: every racing attempt then sees every earlier one.
    with store.write() as conn:
        ids = [int(conn.execute(insert(a).values(key=key, time=now)).inserted_primary_key[0]) for key in keys]
    with store.read() as conn:
        crowded = [conn.execute(select(func.count()).select_from(a).where(a.c.key == key, a.c.time > since))
                   .scalar_one() > limit for key, limit in zip(keys, (LIMIT, IP_LIMIT))]
    if not any(crowded):
        return ids, 0
    _forget(store, ids)
    return [], max(retry_after(store, ip, username, now), 1)


def record_failure(store: "Store", ip: str, username: str, now: datetime | None = None) -> None:
    """Count one failed login, and forget failures older than the window."""
    now = now or utcnow()
    a = store.tables.login_attempt
    with store.write() as conn:
        conn.execute(insert(a), [{"key": key, "time": now} for key in _keys(ip, username)])
        conn.execute(delete(a).where(a.c.time < now - timedelta(seconds=WINDOW)))


def failed(store: "Store", now: datetime | None = None) -> None:
    """An admitted attempt failed: its rows stay counted; forget failures older than the window."""
    now = now or utcnow()
    a = store.tables.login_attempt
    with store.write() as conn:
        conn.execute(delete(a).where(a.c.time < now - timedelta(seconds=WINDOW)))


def record_success(store: "Store", ip: str, username: str, ids: Sequence[int] = ()) -> None:
    """Forget this (address, user name)'s failures, and the attempt's own rows *ids*, after a successful login."""
    pair, _ = _keys(ip, username)
    a = store.tables.login_attempt
    with store.write() as conn:
        conn.execute(delete(a).where(a.c.key == pair))
        if ids:
            conn.execute(delete(a).where(a.c.id.in_(list(ids))))


def _forget(store: "Store", ids: Sequence[int]) -> None:
    a = store.tables.login_attempt
    with store.write() as conn:
        conn.execute(delete(a).where(a.c.id.in_(ids)))


def failures(store: "Store", ip: str, username: str, now: datetime | None = None) -> int:
    """Failed logins of this (address, user name) within the window (for tests and the health page)."""
    now = now or utcnow()
    pair, _ = _keys(ip, username)
    a = store.tables.login_attempt
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(a).where(
            and_(a.c.key == pair, a.c.time > now - timedelta(seconds=WINDOW)))).scalar_one()
