"""Log in and out of the dashboard: a Flask-WTF form, throttled failures, ``next`` kept inside the dashboard.

Each login opens a server-side session (``fmd.auth.sessions``); logging out deletes it, so a saved copy of
the cookie opens nothing afterwards.
"""

from __future__ import annotations

import posixpath
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from flask import Blueprint, current_app, Response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..auth import sessions, throttle
from ..auth.login import log_in
from ..auth.passwords import check_password
from ..auth.users import MAX_NAME, find_user
from ..instrument.clientip import client_ip_reader
from ._access import current_role, get_state

bp = Blueprint("auth", __name__)


def _no_control_characters(form: FlaskForm, field: StringField) -> None:
    """Names no user can have (control characters, NUL) are a form error, never a database query."""
    if field.data and any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in field.data):
        raise ValidationError("contains control characters.")


class LoginForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=MAX_NAME), _no_control_characters])
    # Passwords never reach a query (only their hash is compared): any character is allowed.
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


#: Characters kept as they are when the normalised path is quoted again.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def safe_next(target: str | None) -> str:
    """*target*, normalised, when it is a path inside the dashboard, otherwise the dashboard's start page."""
    home = url_for(current_app.config["FMD_HOME"])
    if not target or not target.isprintable() or not target.startswith("/") or target.startswith("//"):
        return home
    parts = urlsplit(target)
    # Browsers read a backslash as "/" and resolve "..", "%2e%2e" and "//" in paths: refuse the first, and
    # check the path a browser would go to.
    path = unquote(parts.path)
    if parts.scheme or parts.netloc or "\\" in target or "\\" in path or not path.isprintable():
        return home
    normal = posixpath.normpath(path)
    if normal.startswith("//"):  # POSIX keeps a leading "//": that would be a host
        return home
    if path.endswith("/") and normal != "/":
        normal += "/"
    root = request.script_root
    if normal != root and not normal.startswith(root + "/"):
        return home
    return urlunsplit(("", "", quote(normal, safe=_PATH_SAFE), parts.query, parts.fragment))


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
        # Count first, then check: racing attempts cannot all slip past the limit.
        attempt, wait = throttle.admit(state.store, ip, name)
        if wait:
            raise TooManyRequests(f"Too many failed logins for this user name from your address. "
                                  f"Try again in {wait} seconds.", retry_after=wait)
        row = find_user(state.store, name)
        if check_password(row["password_hash"] if row else None, form.password.data):
            throttle.record_success(state.store, ip, name, attempt)
            session.clear()  # a fresh session (and CSRF token) for the logged-in user
            login_user(log_in(state.store, row, state.settings.session_idle_hours))
            return redirect(target)
        throttle.failed(state.store)
        error = "Wrong user name or password."
    return render_template("fmd/login.html", form=form, next=target, error=error)


@bp.post("/logout")
def logout() -> Response:
    """Log out (POST with the CSRF token, so no other site can log a user out); the login session ends."""
    if current_user.is_authenticated:
        sessions.end(get_state().store, current_user.token)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
