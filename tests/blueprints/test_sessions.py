"""Server-side login sessions: logout, password and role changes end them; idle ones expire; tokens stay hashed."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

import fmd
from dashboard_helpers import PREFIX, add_user, dashboard, logged_in, post
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.options import ConfigError
from fmd.queries.users import user_by_name
from fmd.store.writes import utcnow


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """A fresh client holding a saved copy of *client*'s dashboard cookie (a second browser, a stolen cookie)."""
    other = app.test_client()
    other.set_cookie("fmd_session", client.get_cookie("fmd_session", path=PREFIX).value, path=PREFIX)
    return other


def opens_pages(client: FlaskClient) -> bool:
    """True when *client* is logged in to the dashboard (a page answers 200, not the way to the login)."""
    resp = client.get(PREFIX + "/health")
    assert resp.status_code in (200, 302), resp.status_code
    if resp.status_code == 302:
        assert resp.headers["Location"].startswith(PREFIX + "/login")
    return resp.status_code == 200


def cookie_session(app: Flask, client: FlaskClient) -> dict:
    """The decoded content of *client*'s dashboard session cookie."""
    dash = app.extensions["fmd"].dashboard.app
    value = client.get_cookie("fmd_session", path=PREFIX).value
    return dash.session_interface.get_signing_serializer(dash).loads(value)


def forged_cookie(app: Flask, user_id: str) -> str:
    """A dashboard cookie correctly signed (as by someone who has the secret) naming *user_id*."""
    dash = app.extensions["fmd"].dashboard.app
    return dash.session_interface.get_signing_serializer(dash).dumps({"_user_id": user_id, "_fresh": True})


def session_rows(app: Flask, username: str | None = None) -> list[dict]:
    store = app.extensions["fmd"].store
    s = store.tables.login_session
    with store.read() as conn:
        stmt = select(s)
        if username is not None:
            stmt = stmt.where(s.c.user_id == user_by_name(conn, store.tables, username)["id"])
        return [dict(r._mapping) for r in conn.execute(stmt)]


def age_sessions(app: Flask, by: timedelta) -> None:
    """Move every session's last request *by* into the past."""
    store = app.extensions["fmd"].store
    s = store.tables.login_session
    with store.write() as conn:
        conn.execute(update(s).values(last_seen=utcnow() - by))


def user_id(app: Flask, username: str) -> int:
    store = app.extensions["fmd"].store
    with store.read() as conn:
        return user_by_name(conn, store.tables, username)["id"]


def test_a_saved_cookie_opens_nothing_after_logout(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    browser = logged_in(app)
    saved = copy_of(app, browser)
    assert opens_pages(saved)  # the copy works while the login lives
    assert post(browser, "/logout").status_code == 302
    assert not opens_pages(saved) and not opens_pages(browser)
    assert session_rows(app) == []  # logout deleted the row


def test_a_password_change_ends_every_session_of_that_user(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    vid = add_user(app, "vera", "vera-password")
    vera, vera_phone = logged_in(app, "vera", "vera-password"), logged_in(app, "vera", "vera-password")
    saved, admin = copy_of(app, vera), logged_in(app)
    assert opens_pages(vera) and opens_pages(vera_phone) and opens_pages(saved)
    assert len(session_rows(app, "vera")) == 2
    resp = post(admin, f"/users/{vid}/password", {"password": "vera-new-password"}, htmx=True)
    assert resp.status_code == 200 and "sessions have ended" in resp.text
    assert session_rows(app, "vera") == []
    assert not opens_pages(vera) and not opens_pages(vera_phone) and not opens_pages(saved)
    assert opens_pages(admin)  # nobody else's sessions


def test_changing_ones_own_password_keeps_this_browser_and_ends_the_others(app_sqlite) -> None:  # noqa: ANN001
    app = app_sqlite
    add_user(app, "grace", "grace-password", admin=True)
    here, laptop = logged_in(app, "grace", "grace-password"), logged_in(app, "grace", "grace-password")
    saved = copy_of(app, here)
    old_token = cookie_session(app, here)["_user_id"]
    resp = post(here, f"/users/{user_id(app, 'grace')}/password", {"password": "grace-new-password"}, htmx=True)
    assert resp.status_code == 200 and "Your other sessions have ended; this one goes on." in resp.text
    assert opens_pages(here)  # re-issued a fresh session ...
    assert cookie_session(app, here)["_user_id"] != old_token
    assert not opens_pages(laptop) and not opens_pages(saved)  # ... and every earlier one ended
    assert len(session_rows(app, "grace")) == 1


def test_a_role_change_ends_every_session_of_that_user(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    hid = add_user(app, "hal", "hal-password", admin=True)
    hal, admin = logged_in(app, "hal", "hal-password"), logged_in(app)
    saved = copy_of(app, hal)
    assert hal.get(PREFIX + "/users").status_code == 200
    assert post(admin, f"/users/{hid}/role", {"role": "viewer"}, htmx=True).status_code == 200
    # Not even as a viewer: the sessions opened as an admin are over.
    assert not opens_pages(hal) and not opens_pages(saved)
    assert session_rows(app, "hal") == []
    hal = logged_in(app, "hal", "hal-password")
    assert opens_pages(hal) and hal.get(PREFIX + "/users").status_code == 403
    assert post(admin, f"/users/{hid}/role", {"role": "admin"}, htmx=True).status_code == 200  # and back
    assert not opens_pages(hal)
    # Choosing the role a user already has changes nothing and ends nothing.
    hal = logged_in(app, "hal", "hal-password")
    assert post(admin, f"/users/{hid}/role", {"role": "admin"}, htmx=True).status_code == 200
    assert opens_pages(hal) and hal.get(PREFIX + "/users").status_code == 200


def test_stepping_down_keeps_this_browser_as_a_viewer(app_sqlite) -> None:  # noqa: ANN001
    app = app_sqlite
    add_user(app, "grace", "grace-password", admin=True)
    here, laptop = logged_in(app, "grace", "grace-password"), logged_in(app, "grace", "grace-password")
    resp = post(here, f"/users/{user_id(app, 'grace')}/role", {"role": "viewer"}, htmx=True)
    assert resp.status_code == 204
    assert opens_pages(here) and here.get(PREFIX + "/users").status_code == 403
    assert not opens_pages(laptop)


def test_removing_a_user_removes_their_sessions(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    vid = add_user(app, "vera", "vera-password")
    vera, admin = logged_in(app, "vera", "vera-password"), logged_in(app)
    assert len(session_rows(app)) == 2
    assert post(admin, f"/users/{vid}/delete", htmx=True).status_code == 200
    assert not opens_pages(vera)
    store = app.extensions["fmd"].store
    with store.read() as conn:
        left = conn.execute(select(store.tables.login_session.c.user_id)).scalars().all()
    assert left == [user_id(app, "admin")]


def test_the_configured_password_changed_at_start_ends_the_admins_sessions(make_app, db_url) -> None:  # noqa: ANN001
    first = dashboard(make_app, db_url)
    admin = logged_in(first)
    dashboard(make_app, db_url)  # another worker, same configuration: nothing ends
    assert opens_pages(admin) and len(session_rows(first, "admin")) == 1
    dashboard(make_app, db_url, password="a-new-admin-password")  # restarted with a new PASSWORD
    assert session_rows(first, "admin") == []
    assert not opens_pages(admin)


def test_idle_sessions_end_after_the_default_twelve_hours(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    assert app.extensions["fmd"].settings.session_idle_hours == 12
    client = logged_in(app)
    age_sessions(app, timedelta(hours=11, minutes=50))
    assert opens_pages(client)  # ... which counts as activity
    age_sessions(app, timedelta(hours=12, minutes=5))
    assert not opens_pages(client)
    assert session_rows(app) == []  # the expired row is gone too


def test_session_idle_hours_is_configurable(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, session_idle_hours=0.5)
    client = logged_in(app)
    age_sessions(app, timedelta(minutes=25))
    assert opens_pages(client)
    age_sessions(app, timedelta(minutes=35))
    assert not opens_pages(client)
    for bad in (0, -1, 8761, "soon"):
        with pytest.raises(ConfigError, match="SESSION_IDLE_HOURS"):
            fmd.config.session_idle_hours = bad


def test_last_seen_is_written_at_most_once_a_minute(app_sqlite) -> None:  # noqa: ANN001
    app = app_sqlite
    client = logged_in(app)
    age_sessions(app, timedelta(seconds=30))
    before = session_rows(app)[0]["last_seen"]
    assert opens_pages(client) and opens_pages(client)
    assert session_rows(app)[0]["last_seen"] == before  # seen 30 s ago: not written again
    age_sessions(app, timedelta(seconds=90))
    assert opens_pages(client)
    assert utcnow() - session_rows(app)[0]["last_seen"] < timedelta(seconds=30)


def test_expired_sessions_are_pruned_at_login(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    for _ in range(3):
        logged_in(app)
    age_sessions(app, timedelta(hours=13))
    logged_in(app)
    assert len(session_rows(app)) == 1


def test_forged_and_unknown_tokens_are_refused(app_sqlite) -> None:  # noqa: ANN001
    app = app_sqlite
    client = logged_in(app)
    token = cookie_session(app, client)["_user_id"]
    store = app.extensions["fmd"].store
    with store.read() as conn:
        admin = user_by_name(conn, store.tables, "admin")
    # What the login cookie held before sessions existed: the user id and a fingerprint of the password hash.
    old_style = f"{admin['id']}:{hashlib.sha256(admin['password_hash'].encode()).hexdigest()[:16]}"
    for forged in (old_style, secrets.token_urlsafe(32), str(admin["id"]), token[:-1], token + "x", "",
                   "x" * 10_000, hashlib.sha256(token.encode()).hexdigest()):  # the last: as stored in the DB
        other = app.test_client()
        other.set_cookie("fmd_session", forged_cookie(app, forged), path=PREFIX)
        assert not opens_pages(other), forged
    genuine = app.test_client()
    genuine.set_cookie("fmd_session", forged_cookie(app, token), path=PREFIX)
    assert opens_pages(genuine)  # the check above refuses for the token, not for the way the cookie was made


def test_the_database_holds_no_plaintext_token(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    client = logged_in(app)
    token = cookie_session(app, client)["_user_id"]
    assert len(token) >= 40  # 256 random bits
    (row,) = session_rows(app)
    assert token not in " ".join(str(v) for v in row.values())
    assert row["id"] == hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def app_sqlite(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)
