"""The Flask-Login side: the dashboard's user object and its loader.

The id kept in the session is ``"<user id>:<fingerprint of the password hash>"``: changing a user's
password (or removing the user) ends that user's other sessions, and an id from anyone else's session
(the host's user 1, say) never matches a dashboard user.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from flask_login import UserMixin

from ..queries.users import user_by_id

if TYPE_CHECKING:
    from ..store.engine import Store


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class DashboardUser(UserMixin):
    """A logged-in dashboard user (admin or viewer)."""

    def __init__(self, row: dict) -> None:
        self.id = int(row["id"])
        self.username: str = row["username"]
        self.is_admin = bool(row["is_admin"])
        self.from_config = bool(row["from_config"])
        self._session_id = f"{self.id}:{_fingerprint(row['password_hash'])}"

    def get_id(self) -> str:
        return self._session_id


def load_user(store: "Store", session_id: str) -> DashboardUser | None:
    """The user a session id names, or None when it is malformed, gone, or its password changed."""
    user_id, _, fingerprint = str(session_id).partition(":")
    if not user_id.isdigit() or not fingerprint or len(user_id) > 18:
        return None
    with store.read() as conn:
        row = user_by_id(conn, store.tables, int(user_id))
    if row is None or _fingerprint(row["password_hash"]) != fingerprint:
        return None
    return DashboardUser(row)
