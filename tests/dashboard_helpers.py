"""Helpers for dashboard tests (imported by test modules; pytest does not collect this file).

``dashboard(make_app, url)`` binds a host app, ``login(client, ...)`` logs a test client in through the
real form (CSRF token included), ``csrf(client)`` reads the page's token, ``add_user`` adds a user.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

PREFIX = "/dashboard"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's dashboard session (read from a page's meta tag)."""
    resp = client.get(PREFIX + path, follow_redirects=True)  # /login sends a logged-in user on
    match = _META.search(resp.get_data(as_text=True))
    assert match, f"no csrf meta tag on {path} ({resp.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str = "admin", password: str = "admin", next: str | None = None,
          **environ: Any):  # noqa: A002, ANN201
    """POST the login form (with a fresh CSRF token); returns the response (302 on success)."""
    data = {"csrf_token": csrf(client), "username": username, "password": password}
    if next is not None:
        data["next"] = next
    return client.post(PREFIX + "/login", data=data, environ_base=environ)


def post(client: FlaskClient, path: str, data: dict | None = None, htmx: bool = False, token: bool = True):  # noqa: ANN201
    """POST to a dashboard path, with the session's CSRF token in the X-CSRFToken header (as htmx sends it)."""
    headers = {}
    if token:
        headers["X-CSRFToken"] = csrf(client, "/login")
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(PREFIX + path, data=data or {}, headers=headers)


def dashboard(make_app: Any, url: str, **options: Any) -> Flask:
    """A host app bound to *url*; the dashboard app is built (first-admin sync, secret) right away."""
    app = make_app(url, **options)
    state = app.extensions["fmd"]
    state.store.ensure_schema()
    _ = state.dashboard.app
    return app


def add_user(app: Flask, username: str, password: str = "password-1", admin: bool = False) -> int:
    """Add a dashboard user straight through the user store; returns its id."""
    from fmd.auth.users import create_user

    return create_user(app.extensions["fmd"].store, username, password, is_admin=admin)


def logged_in(app: Flask, username: str = "admin", password: str = "admin") -> FlaskClient:
    """A fresh test client of *app*, logged in to the dashboard."""
    client = app.test_client()
    resp = login(client, username, password)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def home(app: Flask) -> str:
    """The URL of the dashboard's start page (where a login without a usable ``next`` lands)."""
    from flask import url_for

    dash = app.extensions["fmd"].dashboard.app
    with dash.test_request_context("/", base_url="http://localhost" + PREFIX):
        return url_for(dash.config["FMD_HOME"])


#: The production hash method, before ``fast_password_hashes`` lowers the cost for a test.
from fmd.auth import passwords as _passwords  # noqa: E402

PRODUCTION_HASH_METHOD = _passwords.METHOD


@pytest.fixture(autouse=True)
def fast_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap hashes for new passwords in tests (scrypt costs ~80 ms a hash here; tests make hundreds).

    Only the cost changes: werkzeug still salts and checks every hash; ``test_auth`` checks that
    production hashes are scrypt. Import this fixture into a test module to use it there.
    """
    monkeypatch.setattr(_passwords, "METHOD", "pbkdf2:sha256:1000")
    monkeypatch.setattr(_passwords, "_dummy_hash", lambda: _passwords.generate_password_hash(
        "fmd-no-such-user", method="pbkdf2:sha256:1000"))
