"""Log in and out of the dashboard: a Flask-WTF form, throttled failures, ``next`` kept inside the dashboard."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, Response, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..auth import throttle
from ..auth.login import DashboardUser
from ..auth.passwords import check_password
from ..instrument.clientip import client_ip_reader
from ..queries.users import user_by_name
from ._access import current_role, get_state

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=150)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def safe_next(target: str | None) -> str:
    """*target* when it is a path inside the dashboard, otherwise the dashboard's start page."""
    root = request.script_root
    if target and not any(ch in target for ch in "\\\r\n\t") and target.isprintable():
        parts = urlsplit(target)
        # Only a plain absolute path: no scheme, no host ("//evil.example" has a netloc), inside the mount.
        if (not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//")
                and (parts.path == root or parts.path.startswith(root + "/"))):
            return target
    return url_for(current_app.config["FMD_HOME"])


def client_ip() -> str:
    """The client address, trusting X-Forwarded-For only behind TRUSTED_PROXIES proxies."""
    return client_ip_reader(get_state().settings.trusted_proxies)(request.environ)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """Show the login form; on a valid POST log in and go to ``next`` (a dashboard URL only)."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET" and current_role() is not None:
        return redirect(target)
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        state = get_state()
        ip, name = client_ip(), form.username.data
        wait = throttle.retry_after(state.store, ip, name)
        if wait:
            raise TooManyRequests(f"Too many failed logins for this user name from your address. "
                                  f"Try again in {wait} seconds.", retry_after=wait)
        with state.store.read() as conn:
            row = user_by_name(conn, state.store.tables, name)
        if check_password(row["password_hash"] if row else None, form.password.data):
            throttle.record_success(state.store, ip, name)
            session.clear()  # a fresh session (and CSRF token) for the logged-in user
            login_user(DashboardUser(row))
            return redirect(target)
        throttle.record_failure(state.store, ip, name)
        error = "Wrong user name or password."
    return render_template("fmd/login.html", form=form, next=target, error=error)


@bp.post("/logout")
def logout() -> Response:
    """Log out (POST with the CSRF token, so no other site can log a user out)."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
