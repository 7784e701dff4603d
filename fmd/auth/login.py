"""The Flask-Login side: the dashboard's user object and its loader.

The id Flask-Login keeps in fmd's session cookie is the login's token (see ``fmd.auth.sessions``): it
opens the dashboard only while its server-side row lives, so logout, a password or role change, removing
the user or SESSION_IDLE_HOURS without a request end it, whatever copies of the cookie exist. An id from
anyone else's session (the host's user 1, say) names no session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask_login import UserMixin

from . import sessions

if TYPE_CHECKING:
    from ..store.engine import Store


class DashboardUser(UserMixin):
    """A logged-in dashboard user (admin or viewer), holding the token of its login session."""

    def __init__(self, row: dict, token: str) -> None:
        self.id = int(row["id"])
        self.username: str = row["username"]
        self.is_admin = bool(row["is_admin"])
        self.from_config = bool(row["from_config"])
        self.token = token

    def get_id(self) -> str:
        return self.token


def log_in(store: "Store", row: dict, idle_hours: float) -> DashboardUser:
    """Open a new login session for the user *row* (pass the result to ``flask_login.login_user``)."""
    return DashboardUser(row, sessions.start(store, int(row["id"]), idle_hours))


def load_user(store: "Store", token: str, idle_hours: float) -> DashboardUser | None:
    """The user of a live session *token*, or None when it is unknown, revoked, idle too long or its user gone."""
    row = sessions.user_for(store, token, idle_hours)
    return DashboardUser(row, token) if row is not None else None
