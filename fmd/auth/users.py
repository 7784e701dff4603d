"""Changes to the dashboard's users, with the rules that keep the dashboard manageable.

Rules: user names are unique (compared as stored); the last admin can be neither removed nor demoted.
The admin named by USERNAME comes from the configuration, which stays authoritative: its password and role
cannot be changed here, nor can it be removed (every worker re-applies USERNAME/PASSWORD when it builds its
dashboard, so a change here would be undone at random). The admin check runs inside the write transaction
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
from .sessions import end_all

if TYPE_CHECKING:
    from ..store.engine import Store

log = logging.getLogger("fmd")

MAX_NAME = 150
#: Why the configured admin cannot be changed on the Users page.
CONFIGURED = ("{name} comes from the configuration: set PASSWORD in the configuration to change its password "
              "(it is always an admin; change USERNAME to name another one).")


class UserError(ValueError):
    """A change that the rules refuse; the message says why (shown to the user)."""


def name_problem(username: str) -> str | None:
    """Why *username* cannot be a user name, or None."""
    if not username or username.strip() != username:
        return "A user name must not be empty or begin or end with spaces."
    if len(username) > MAX_NAME:
        return f"A user name has at most {MAX_NAME} characters."
    if not _storable(username):
        return "A user name may not contain control characters."
    return None


def _storable(text: str) -> bool:
    """No control characters (PostgreSQL refuses NUL in text) and valid UTF-8 (no lone surrogates)."""
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_user(store: "Store", username: str) -> dict | None:
    """The user called *username*, or None; names no user could have never reach the database."""
    if not username or len(username) > MAX_NAME or not _storable(username):
        return None
    with store.read() as conn:
        return user_by_name(conn, store.tables, username)


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
        user = _changeable(conn, t, user_id)
        if user["is_admin"]:
            _keep_an_admin(conn, t, "remove")
        end_all(conn, t, user_id)  # the foreign key cascades too, but SQLite enforces none without a pragma
        conn.execute(delete(t.user).where(t.user.c.id == user_id))


def set_role(store: "Store", user_id: int, is_admin: bool) -> bool:
    """Make a user an admin or a viewer; True when the role changed (that user's sessions then end).

    UserError for the configured admin or when no admin would be left.
    """
    t = store.tables
    with store.write() as conn:
        user = _changeable(conn, t, user_id)
        if bool(user["is_admin"]) == bool(is_admin):
            return False
        if user["is_admin"]:
            _keep_an_admin(conn, t, "demote")
        conn.execute(update(t.user).where(t.user.c.id == user_id).values(is_admin=bool(is_admin)))
        end_all(conn, t, user_id)
        return True


def set_password(store: "Store", user_id: int, password: str) -> None:
    """Give a user a new password and end all of that user's sessions; never the configured admin."""
    problem = password_problem(password)
    if problem:
        raise UserError(problem)
    hashed = hash_password(password)
    t = store.tables
    with store.write() as conn:
        _changeable(conn, t, user_id)
        conn.execute(update(t.user).where(t.user.c.id == user_id).values(password_hash=hashed))
        end_all(conn, t, user_id)


def sync_config_admin(store: "Store", username: str, password: str) -> None:
    """Make the configured USERNAME an admin with the configured PASSWORD (the config is authoritative).

    Every worker calls this when it builds its dashboard. The password hash is replaced, and that admin's
    login sessions ended, only when PASSWORD no longer matches it, so an unchanged configuration ends no
    session; the role and the ``from_config`` mark are repaired without ending any.
    """
    t = store.tables
    with store.read() as conn:
        user = user_by_name(conn, t, username)
    matches = user is not None and check_password(user["password_hash"], password)
    if user is not None and matches and user["is_admin"] and user["from_config"]:
        return _unmark_others(store, username)
    with store.write() as conn:
        now = user_by_name(conn, t, username)  # again, inside the transaction: another worker may be here too
        if now is None:
            insert_ignore(conn, t.user, [{"username": username, "password_hash": hash_password(password),
                                          "is_admin": True, "from_config": True, "created_at": utcnow()}],
                          ("username",))
        else:
            values: dict = {"is_admin": True, "from_config": True}
            if user is not None and now["password_hash"] == user["password_hash"]:
                still = matches
            else:  # changed since the read above (rare): check the hash now stored
                still = check_password(now["password_hash"], password)
            if not still:
                values["password_hash"] = hash_password(password)
                log.info("fmd: the dashboard admin %r now has the configured password", username)
                end_all(conn, t, now["id"])  # sessions opened with the old password end everywhere
            conn.execute(update(t.user).where(t.user.c.id == now["id"]).values(**values))
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


def _changeable(conn: Connection, t: Tables, user_id: int) -> dict:
    user = _existing(conn, t, user_id)
    if user["from_config"]:
        raise UserError(CONFIGURED.format(name=user["username"]))
    return user


def _keep_an_admin(conn: Connection, t: Tables, verb: str) -> None:
    # Lock every admin row (no-op on SQLite, whose write transaction is already exclusive).
    admins = conn.execute(select(t.user.c.id).where(t.user.c.is_admin.is_(True)).with_for_update()).all()
    if len(admins) <= 1:
        raise UserError(f"You cannot {verb} the last admin; make another user an admin first.")
