"""Changes to the dashboard's users, with the rules that keep the dashboard manageable.

Rules: user names are unique (compared as stored); the last admin can be neither removed nor demoted.
The admin named by USERNAME comes from the configuration, which stays authoritative: it is managed here
like any user, but the next dashboard start re-applies USERNAME/PASSWORD (re-creating, re-promoting and
resetting its password), and the Users page says so. The admin check runs inside the write transaction
with the admin rows locked, so two concurrent demotions cannot leave zero admins.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, func, insert, select, update

from ..queries.users import user_by_id, user_by_name
from ..store.models import Tables
from ..store.writes import insert_ignore, utcnow
from .passwords import check_password, hash_password, password_problem

if TYPE_CHECKING:
    from ..store.engine import Store

log = logging.getLogger("fmd")

MAX_NAME = 150


class UserError(ValueError):
    """A change that the rules refuse; the message says why (shown to the user)."""


def name_problem(username: str) -> str | None:
    """Why *username* cannot be a user name, or None."""
    if not username or username.strip() != username:
        return "A user name must not be empty or begin or end with spaces."
    if len(username) > MAX_NAME:
        return f"A user name has at most {MAX_NAME} characters."
    if any(ord(ch) < 32 for ch in username):
        return "A user name may not contain control characters."
    return None


def create_user(store: "Store", username: str, password: str, is_admin: bool = False) -> int:
    """Add a user; return its id. UserError when the name is taken or the input is not acceptable."""
    problem = name_problem(username) or password_problem(password)
    if problem:
        raise UserError(problem)
    hashed = hash_password(password)
    t = store.tables
    with store.write() as conn:
        if user_by_name(conn, t, username) is not None:
            raise UserError(f"There is already a user called {username!r}.")
        result = conn.execute(insert(t.user).values(username=username, password_hash=hashed,
                                                    is_admin=bool(is_admin), from_config=False,
                                                    created_at=utcnow()))
        return int(result.inserted_primary_key[0])


def delete_user(store: "Store", user_id: int) -> None:
    """Remove a user; UserError for the last admin or the configured one."""
    t = store.tables
    with store.write() as conn:
        user = _existing(conn, t, user_id)
        if user["is_admin"]:
            _keep_an_admin(conn, t, "remove")
        conn.execute(delete(t.user).where(t.user.c.id == user_id))


def set_role(store: "Store", user_id: int, is_admin: bool) -> None:
    """Make a user an admin or a viewer; UserError when that would leave no admin."""
    t = store.tables
    with store.write() as conn:
        user = _existing(conn, t, user_id)
        if user["is_admin"] and not is_admin:
            _keep_an_admin(conn, t, "demote")
        conn.execute(update(t.user).where(t.user.c.id == user_id).values(is_admin=bool(is_admin)))


def set_password(store: "Store", user_id: int, password: str) -> None:
    """Give a user a new password (this logs out that user's other sessions)."""
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    hashed = hash_password(password)
    t = store.tables
    with store.write() as conn:
        _existing(conn, t, user_id)
        conn.execute(update(t.user).where(t.user.c.id == user_id).values(password_hash=hashed))


def sync_config_admin(store: "Store", username: str, password: str) -> None:
    """Make the configured USERNAME an admin with the configured PASSWORD (the config is authoritative)."""
    t = store.tables
    with store.read() as conn:
        user = user_by_name(conn, t, username)
    if user and user["is_admin"] and user["from_config"] and check_password(user["password_hash"], password):
        return _unmark_others(store, username)
    hashed = hash_password(password)
    with store.write() as conn:
        insert_ignore(conn, t.user, [{"username": username, "password_hash": hashed, "is_admin": True,
                                      "from_config": True, "created_at": utcnow()}], ("username",))
        conn.execute(update(t.user).where(t.user.c.username == username)
                     .values(password_hash=hashed, is_admin=True, from_config=True))
    if user is not None:
        log.info("fmd: the dashboard admin %r now has the configured password and role", username)
    _unmark_others(store, username)


def _unmark_others(store: "Store", username: str) -> None:
    """A renamed USERNAME leaves the former configured admin as an ordinary admin (never deleted)."""
    t = store.tables
    with store.read() as conn:
        stale = conn.execute(select(func.count()).select_from(t.user)
                             .where(t.user.c.from_config.is_(True), t.user.c.username != username)).scalar_one()
    if stale:
        with store.write() as conn:
            conn.execute(update(t.user).where(t.user.c.from_config.is_(True), t.user.c.username != username)
                         .values(from_config=False))


def _existing(conn: Connection, t: Tables, user_id: int) -> dict:
    user = user_by_id(conn, t, user_id)
    if user is None:
        raise UserError("There is no such user (it may have been removed meanwhile).")
    return user


def _keep_an_admin(conn: Connection, t: Tables, verb: str) -> None:
    # Lock every admin row (no-op on SQLite, whose write transaction is already exclusive).
    admins = conn.execute(select(t.user.c.id).where(t.user.c.is_admin.is_(True)).with_for_update()).all()
    if len(admins) <= 1:
        raise UserError(f"You cannot {verb} the last admin; make another user an admin first.")
