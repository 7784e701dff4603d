"""fmd next to a host that uses Flask-Login, Flask-WTF's global CSRFProtect and a login-redirect hook.

Each point of issue 3 item 3 is proven here: the host behaves exactly as without fmd; the dashboard stays
reachable through its own login; a dashboard login authenticates nobody in the host and a host login
nobody in the dashboard, with user id 1 in both user tables, with SESSION_COOKIE_SECURE, and with a
server-side session interface. Also: ``fmd.config.authorize`` lets the host's own login open the dashboard,
and binding fmd imports nothing of the dashboard.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from typing import Any

import pytest
from flask import Flask, redirect, render_template_string, request, url_for
from flask.sessions import SessionInterface, SessionMixin
from flask.testing import FlaskClient
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import BadSignature
from werkzeug.datastructures import CallbackDict

import fmd
from dashboard_helpers import PREFIX, csrf, dashboard, login, post
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)

MODES = ["plain", "secure_cookie", "server_side_session"]


class HostUser(UserMixin):
    def __init__(self, user_id: int, name: str) -> None:
        self.id = user_id
        self.name = name


HOST_USERS = {1: HostUser(1, "alice")}


class ServerSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict | None = None, sid: str | None = None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid or uuid.uuid4().hex
        self.modified = False


class ServerSideSessions(SessionInterface):
    """A Flask-Session-like interface: the cookie holds only an id; the data stays on the server."""

    cookie = "host_sid"

    def __init__(self) -> None:
        self.data: dict[str, dict] = {}

    def open_session(self, app: Flask, request) -> ServerSession:  # noqa: ANN001
        sid = request.cookies.get(self.cookie)
        if sid and sid in self.data:
            return ServerSession(dict(self.data[sid]), sid)
        return ServerSession()

    def save_session(self, app: Flask, session: ServerSession, response) -> None:  # noqa: ANN001
        if not session and not session.modified:
            return
        self.data[session.sid] = dict(session)
        response.set_cookie(self.cookie, session.sid, httponly=True, path="/",
                            secure=self.get_cookie_secure(app), samesite="Lax")


LOGIN_FORM = """<form method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input name="name"><button>go</button></form>"""


def make_host(mode: str) -> Flask:
    """The host: its own users (alice has id 1), login manager, global CSRF and a login-redirect hook."""
    app = Flask("coexisting_host")
    app.config.update(SECRET_KEY="host-secret-key", TESTING=False)
    if mode == "secure_cookie":
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
    if mode == "server_side_session":
        app.session_interface = ServerSideSessions()
    CSRFProtect(app)
    manager = LoginManager(app)
    manager.login_view = "login"
    manager.user_loader(lambda user_id: HOST_USERS.get(int(user_id)))

    @app.before_request
    def everyone_logs_in_first():  # noqa: ANN202
        if request.endpoint not in ("login", "static") and not current_user.is_authenticated:
            return redirect(url_for("login", next=request.path))
        return None

    @app.route("/login", methods=["GET", "POST"])
    def login():  # noqa: ANN202
        if request.method == "POST":
            user = next((u for u in HOST_USERS.values() if u.name == request.form.get("name")), None)
            if user is None:
                return "no such user", 401
            login_user(user, remember=True)
            return redirect(url_for("secret"))
        return render_template_string(LOGIN_FORM)

    @app.route("/secret")
    @login_required
    def secret() -> str:
        return f"secret of {current_user.name} (id {current_user.id})"

    @app.post("/change")
    @login_required
    def change() -> str:
        return "changed"

    @app.post("/logout")
    def logout():  # noqa: ANN202
        logout_user()
        return redirect(url_for("login"))

    @app.errorhandler(404)
    def not_found(_):  # noqa: ANN001, ANN202
        return "host 404", 404

    return app


class HttpsClient(FlaskClient):
    """A test client whose requests arrive over HTTPS (where Secure cookies belong), with a same-origin
    Referer as browsers send (Flask-WTF checks it over HTTPS)."""

    def open(self, *args: Any, **kwargs: Any):  # noqa: ANN204
        kwargs.setdefault("base_url", "https://localhost")
        kwargs["headers"] = {"Referer": "https://localhost/", **(kwargs.get("headers") or {})}
        return super().open(*args, **kwargs)


def client_for(app: Flask, mode: str) -> FlaskClient:
    if mode == "secure_cookie":
        return HttpsClient(app, app.response_class, use_cookies=True)
    return app.test_client()


def host_token(client: FlaskClient) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def host_login(client: FlaskClient) -> None:
    resp = client.post("/login", data={"name": "alice", "csrf_token": host_token(client)})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def host_is_logged_in(client: FlaskClient) -> bool:
    resp = client.get("/secret")
    if resp.status_code == 200:
        assert resp.get_data(as_text=True) == "secret of alice (id 1)"
        return True
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    return False


def dashboard_is_logged_in(client: FlaskClient) -> bool:
    resp = client.get(PREFIX + "/health")
    assert resp.status_code in (200, 302)
    if resp.status_code == 302:
        assert resp.headers["Location"].startswith(PREFIX + "/login")
    return resp.status_code == 200


def run_host_script(app: Flask, mode: str) -> list[tuple]:
    """What a visitor of the host experiences, normalised (tokens and session ids removed)."""
    client = client_for(app, mode)
    seen = []

    def note(resp) -> None:  # noqa: ANN001
        body = re.sub(r'value="[^"]+"', 'value="TOKEN"', resp.get_data(as_text=True))
        cookies = sorted(c.split("=")[0] + ";" + ";".join(sorted(p.strip().split("=")[0] for p in c.split(";")[1:]))
                         for c in resp.headers.getlist("Set-Cookie"))
        seen.append((resp.status_code, resp.headers.get("Location"), body, cookies))

    note(client.get("/secret"))
    note(client.post("/change"))  # no CSRF token: the host's CSRFProtect refuses it
    note(client.get("/login"))
    note(client.post("/login", data={"name": "alice"}))
    note(client.post("/login", data={"name": "alice", "csrf_token": host_token(client)}))
    note(client.get("/secret"))
    note(client.post("/change", data={"csrf_token": host_token(client)}))
    note(client.get("/no-such-page"))
    note(client.get("/dashboardx"))
    note(client.post("/logout", data={"csrf_token": host_token(client)}))
    note(client.get("/secret"))
    return seen


@pytest.fixture
def bound(make_app, sqlite_url):  # noqa: ANN001, ANN201
    def bind(mode: str) -> Flask:
        return dashboard(make_app, sqlite_url, app=make_host(mode))
    return bind


@pytest.mark.parametrize("mode", MODES)
def test_the_host_works_exactly_as_before(bound, mode: str) -> None:  # noqa: ANN001
    assert run_host_script(bound(mode), mode) == run_host_script(make_host(mode), mode)


@pytest.mark.parametrize("mode", MODES)
def test_dashboard_login_authenticates_nobody_in_the_host(bound, mode: str) -> None:  # noqa: ANN001
    app = bound(mode)
    client = client_for(app, mode)
    assert client.get(PREFIX + "/login").status_code == 200  # the host's login hook does not reach it
    resp = login(client)
    assert resp.status_code == 302 and resp.headers["Location"].startswith(PREFIX)
    assert dashboard_is_logged_in(client)
    assert not host_is_logged_in(client)
    assert client.post("/change", data={"csrf_token": csrf(client)}).status_code == 400  # our token is not theirs
    # Both user tables have a user with id 1, and the ids are never confused.
    store = app.extensions["fmd"].store
    with store.read() as conn:
        assert conn.execute(store.tables.user.select().where(store.tables.user.c.id == 1)).one().username == "admin"
    cookie = client.get_cookie("fmd_session", path=PREFIX)
    assert cookie is not None and cookie.path == PREFIX and cookie.http_only
    if mode == "secure_cookie":
        assert cookie.secure  # over HTTPS the dashboard's cookie is Secure too


@pytest.mark.parametrize("mode", MODES)
def test_host_login_authenticates_nobody_in_the_dashboard(bound, mode: str) -> None:  # noqa: ANN001
    app = bound(mode)
    client = client_for(app, mode)
    host_login(client)
    assert host_is_logged_in(client)
    assert not dashboard_is_logged_in(client)
    assert client.post(PREFIX + "/logout", data={"csrf_token": host_token(client)}).status_code == 400
    # Only the host's remember-me cookie left: it logs alice back into the host, never into the dashboard.
    session_cookie = "host_sid" if mode == "server_side_session" else "session"
    client.delete_cookie(session_cookie)
    assert client.get_cookie("remember_token") is not None
    assert host_is_logged_in(client)
    assert not dashboard_is_logged_in(client)


@pytest.mark.parametrize("mode", MODES)
def test_both_logins_live_side_by_side(bound, mode: str) -> None:  # noqa: ANN001
    client = client_for(bound(mode), mode)
    host_login(client)
    assert login(client).status_code == 302
    assert host_is_logged_in(client) and dashboard_is_logged_in(client)
    assert post(client, "/logout").status_code == 302  # leaving the dashboard ...
    assert host_is_logged_in(client) and not dashboard_is_logged_in(client)  # ... keeps the host session
    assert login(client).status_code == 302
    assert client.post("/logout", data={"csrf_token": host_token(client)}).status_code == 302  # and the reverse
    client.delete_cookie("remember_token")
    assert not host_is_logged_in(client) and dashboard_is_logged_in(client)


def test_a_host_cookie_is_no_dashboard_session_even_with_the_same_secret(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, app=make_host("plain"), secret_key="host-secret-key")
    client = app.test_client()
    host_login(client)
    host_session = client.get_cookie("session").value  # signed with the same key, holds _user_id "1"
    client.set_cookie("fmd_session", host_session, path=PREFIX)
    assert not dashboard_is_logged_in(client)
    # Refused at the signature already (fmd's own salt), not only because the user id has fmd's form.
    dash = app.extensions["fmd"].dashboard.app
    with pytest.raises(BadSignature):
        dash.session_interface.get_signing_serializer(dash).loads(host_session)
    # The host's remember-me cookie (same key, path /) is not the dashboard's either.
    client.delete_cookie("fmd_session", path=PREFIX)
    client.delete_cookie("session")
    assert client.get_cookie("remember_token") is not None and dash.config["REMEMBER_COOKIE_NAME"] == "fmd_remember"
    assert host_is_logged_in(client) and not dashboard_is_logged_in(client)


def test_host_error_handlers_and_hooks_do_not_reach_the_dashboard(bound) -> None:  # noqa: ANN001
    client = bound("plain").test_client()
    resp = client.get(PREFIX + "/no-such-page")
    assert resp.status_code == 404 and "host 404" not in resp.get_data(as_text=True)
    assert client.get(PREFIX + "/static/fmd/fmd.css").status_code == 200


def test_authorize_lets_the_hosts_own_login_in(make_app, sqlite_url, monkeypatch) -> None:  # noqa: ANN001
    seen = []

    def authorize() -> bool:
        seen.append(request.path)
        return current_user.is_authenticated and current_user.name == "alice"  # the host's current_user

    fmd.config.authorize = authorize
    app = dashboard(make_app, sqlite_url, app=make_host("plain"))
    client = app.test_client()
    assert not dashboard_is_logged_in(client)
    host_login(client)
    assert dashboard_is_logged_in(client)
    assert client.get(PREFIX + "/settings").status_code == 200  # treated as an admin
    assert post(client, "/users", {"username": "zed", "password": "zed-password", "role": "viewer"}).status_code == 302
    assert PREFIX + "/health" in seen  # the host saw the path as it arrived


def test_a_failing_authorize_denies_without_breaking(make_app, sqlite_url) -> None:  # noqa: ANN001
    def authorize() -> bool:
        raise RuntimeError("host bug")

    fmd.config.authorize = authorize
    app = dashboard(make_app, sqlite_url, app=make_host("plain"))
    client = app.test_client()
    assert not dashboard_is_logged_in(client)
    assert login(client).status_code == 302 and dashboard_is_logged_in(client)  # its own login still works


def test_binding_imports_nothing_of_the_dashboard() -> None:
    code = ("import sys, flask, fmd; app = flask.Flask('x'); fmd.bind(app, database='sqlite://'); "
            "print(sorted(m for m in sys.modules if m.startswith(('fmd.blueprints', 'fmd.auth', 'flask_login', "
            "'flask_wtf', 'altair'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout
