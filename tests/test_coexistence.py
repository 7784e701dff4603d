"""A host with its own Flask-SQLAlchemy, Flask-Login and CSRFProtect keeps its tables, rows, extensions and logins
whether fmd is bound before or after the host's ``init_app``, on its own database file or on fmd's."""

from __future__ import annotations

import sqlite3
from typing import Callable, NamedTuple

import pytest
from dashboard_helpers import login as dashboard_login
from flask import Flask, redirect, request, url_for
from flask.testing import FlaskClient
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect, generate_csrf
from sqlalchemy import func, select

from fmd.store.models import tables_for

DASHBOARD_PASSWORD = "dash-pw-123"


class Host(NamedTuple):
    app: Flask
    db: SQLAlchemy
    login_manager: LoginManager
    hits: list[str]  # the host's own requests, in order


def build_host(host_url: str, bind: Callable[[Flask], None], fmd_first: bool) -> Host:
    """A host app as real ones are written: models, a user loader, a login view, a gate for anonymous users."""
    app = Flask("coexisting_host")
    app.config.update(SECRET_KEY="the-host-secret", SQLALCHEMY_DATABASE_URI=host_url, TESTING=False)
    db = SQLAlchemy()
    login_manager = LoginManager()
    csrf = CSRFProtect()
    hits: list[str] = []

    class User(db.Model, UserMixin):
        __tablename__ = "host_user"
        id = db.Column(db.Integer, primary_key=True)
        name = db.Column(db.String(50), nullable=False)

    @login_manager.user_loader
    def load_user(user_id: str):  # noqa: ANN202
        return db.session.get(User, int(user_id))

    @app.before_request
    def gate():  # noqa: ANN202
        hits.append(request.path)
        if not current_user.is_authenticated and request.endpoint not in ("host_login", "static"):
            return redirect(url_for("host_login"))  # would lock the dashboard out, were it the host's blueprint
        return None

    @app.post("/login")
    @csrf.exempt
    def host_login():  # noqa: ANN202
        user = db.session.execute(db.select(User).filter_by(name=request.form["name"])).scalar_one()
        login_user(user)
        return redirect("/private")

    @app.get("/private")
    @login_required
    def private() -> str:
        return f"hello {current_user.name}"

    @app.get("/token")
    def host_token() -> str:
        return generate_csrf()

    @app.post("/logout")
    def host_logout():  # noqa: ANN202
        logout_user()
        return redirect("/login")

    if fmd_first:
        bind(app)
    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    if not fmd_first:
        bind(app)
    with app.app_context():
        db.create_all()
        db.session.add(User(id=1, name="alice"))
        db.session.commit()
    return Host(app, db, login_manager, hits)


def host_session_user(app: Flask, client: FlaskClient) -> str | None:
    """The user id in the host's own session cookie (Flask-Login's key), read with the host's session interface."""
    with client.session_transaction() as sess:
        return sess.get("_user_id")


def set_cookies(response) -> set[str]:  # noqa: ANN001
    return {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}


@pytest.mark.parametrize("fmd_first", [True, False], ids=["fmd-bound-first", "fmd-bound-after"])
@pytest.mark.parametrize("same_database", [False, True], ids=["own-db-file", "same-db-as-fmd"])
def test_host_keeps_its_tables_extensions_and_logins(tmp_path, make_app, prefix: str, fmd_first: bool,  # noqa: ANN001
                                                     same_database: bool) -> None:
    fmd_file = tmp_path / "fmd.db"
    host_file = fmd_file if same_database else tmp_path / "host.db"
    host = build_host(f"sqlite:///{host_file}", fmd_first=fmd_first,
                      bind=lambda app: make_app(f"sqlite:///{fmd_file}", app=app, username="admin",
                                                password=DASHBOARD_PASSWORD))
    app = host.app
    assert app.extensions["sqlalchemy"] is host.db and app.login_manager is host.login_manager
    assert set(host.db.metadata.tables) == {"host_user"}  # fmd put none of its tables into the host's models

    client = app.test_client()
    # The dashboard is fmd's own app: the host's gate does not send its visitors to the host's login page,
    # and its responses never set the host's session cookie.
    for path, status in (("/dashboard/login", 200), ("/dashboard/", 302)):
        resp = client.get(path)
        assert resp.status_code == status, (path, resp.status_code)
        if status == 302:  # the dashboard's start page sends an anonymous visitor to the dashboard's own login
            assert resp.location.startswith("/dashboard/"), resp.location
        assert "session" not in set_cookies(resp) and "remember_token" not in set_cookies(resp)
    anonymous = client.get("/dashboard/health")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/dashboard/login")

    # The host's own login and logout work as before, and give nothing in the dashboard.
    assert client.get("/private").location.endswith("/login")
    assert client.post("/login", data={"name": "alice"}).status_code == 302
    assert client.get("/private").get_data(as_text=True) == "hello alice"
    assert host_session_user(app, client) == "1"
    still_out = client.get("/dashboard/health")
    assert still_out.status_code == 302 and still_out.location.startswith("/dashboard/login")
    assert client.post("/logout").status_code == 400  # the host's CSRFProtect still guards the host
    token = client.get("/token").get_data(as_text=True)
    assert client.post("/logout", headers={"X-CSRFToken": token}).status_code == 302
    assert client.get("/private").status_code == 302 and host_session_user(app, client) is None

    # A dashboard login (fmd's own form and CSRF token; the host's CSRFProtect never sees it) logs no one
    # into the host.
    done = dashboard_login(client, "admin", DASHBOARD_PASSWORD)
    assert done.status_code == 302 and "session" not in set_cookies(done), done.get_data(as_text=True)[:500]
    assert client.get("/dashboard/health").status_code == 200
    assert host_session_user(app, client) is None
    assert client.get("/private").location.endswith("/login")

    # Every host request was recorded, and none of the dashboard's.
    state = app.extensions["fmd"]
    assert state.flush(10)
    with state.store.read() as conn:
        recorded = conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar_one()
    assert recorded == len(host.hits) and not any(p.startswith("/dashboard") for p in host.hits)

    # The host's tables and rows are untouched; fmd only added <prefix>* tables, to its own database.
    fmd_tables = set(tables_for(prefix).metadata.tables) | {f"{prefix}alembic_version"}
    with sqlite3.connect(host_file) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert conn.execute("SELECT id, name FROM host_user").fetchall() == [(1, "alice")]
    assert names == ({"host_user"} | fmd_tables if same_database else {"host_user"})
    if not same_database:
        with sqlite3.connect(fmd_file) as conn:
            assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} == fmd_tables
