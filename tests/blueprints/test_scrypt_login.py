"""The production hashing path, end to end: a user created with the CLI is stored with scrypt, and logs in.

Every other dashboard test swaps in cheap pbkdf2 hashes (``fast_password_hashes``); this module does not
import that fixture, so fmd's own default (``fmd.auth.passwords``) hashes and checks here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard_helpers import PREFIX, dashboard, login
from fmd.auth import passwords


def stored_hash(app, username: str) -> str:  # noqa: ANN001
    store = app.extensions["fmd"].store
    u = store.tables.user
    with store.read() as conn:
        return conn.execute(select(u.c.password_hash).where(u.c.username == username)).scalar_one()


@pytest.mark.slow  # scrypt costs ~80 ms a hash; the configured admin, the user and the logins take seconds
def test_a_cli_created_user_is_hashed_with_scrypt_and_logs_in(make_app, sqlite_url) -> None:  # noqa: ANN001
    assert passwords.METHOD == "scrypt"  # the README's promise, and no fixture lowered it in this module
    app = dashboard(make_app, sqlite_url)
    result = app.test_cli_runner().invoke(args=["fmd", "create-user", "erin", "--password", "erin-secret-1"])
    assert result.exit_code == 0, result.output

    erin = stored_hash(app, "erin")
    assert erin.startswith("scrypt:32768:8:1$"), erin  # werkzeug's scrypt parameters (n=2**15, r=8, p=1)
    assert "erin-secret-1" not in erin
    assert stored_hash(app, "admin").startswith("scrypt:")  # the configured first admin too

    client = app.test_client()
    assert login(client, "erin", "wrong-password").status_code == 200
    assert client.get(PREFIX + "/health").status_code == 302  # not logged in
    resp = login(client, "erin", "erin-secret-1")
    assert resp.status_code == 302, resp.text
    assert client.get(PREFIX + "/health").status_code == 200
