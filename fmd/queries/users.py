"""Reads of the dashboard's users (``fmd_user``). Writes live in ``fmd.auth.users``."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from ..store.models import Tables

#: The columns a page may show (never the password hash).
_PUBLIC = ("id", "username", "is_admin", "from_config", "created_at")


def list_users(conn: Connection, t: Tables) -> list[dict]:
    """Every user, admins first, then by name; without password hashes."""
    u = t.user
    stmt = select(*(u.c[name] for name in _PUBLIC)).order_by(u.c.is_admin.desc(), u.c.username)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def user_by_name(conn: Connection, t: Tables, username: str) -> dict | None:
    """The user called *username* (with its password hash), or None."""
    row = conn.execute(select(t.user).where(t.user.c.username == username)).first()
    return dict(row._mapping) if row else None


def user_by_id(conn: Connection, t: Tables, user_id: int) -> dict | None:
    """The user with *user_id* (with its password hash), or None."""
    row = conn.execute(select(t.user).where(t.user.c.id == user_id)).first()
    return dict(row._mapping) if row else None


def count_admins(conn: Connection, t: Tables) -> int:
    """How many admins there are."""
    return conn.execute(select(func.count()).select_from(t.user).where(t.user.c.is_admin.is_(True))).scalar_one()
