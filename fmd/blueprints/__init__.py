"""The dashboard: fmd's own Flask app, mounted at /<CUSTOM_LINK> in front of the host (see fmd.mount).

Being a separate app is what keeps it apart from the host: its own secret, session cookie (``fmd_session``,
path = the mount prefix, its own signing salt), CSRFProtect and Flask-Login manager, none of which the
host's hooks, error handlers or session interface ever see. ``create_dashboard_app`` is called on the
first dashboard request of each process, so ``fmd.bind`` imports nothing from here.
"""

from __future__ import annotations

import importlib
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Flask, Response, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect, generate_csrf
from werkzeug.exceptions import HTTPException

from . import _unavailable

if TYPE_CHECKING:
    from ..state import State

log = logging.getLogger("fmd")

#: Blueprint modules, each a ``fmd.blueprints.<name>`` exposing ``bp``; registered in this order.
BLUEPRINTS = ["auth", "users", "health", "settings", "overview", "app_charts", "endpoint", "endpoint_admin",
              "endpoint_outliers", "endpoint_exceptions", "endpoint_profiler", "exceptions", "custom_graphs",
              "reporting", "api"]

#: The navigation: (label, endpoint, admin_only). Entries whose endpoint does not exist are not shown;
#: these endpoint names are what the blueprints must register (e.g. app_charts' ``def hourly``).
#: "auth.logout" is rendered as a small POST form (logging out changes state, so it carries the CSRF token).
NAV: list[tuple[str, str, bool]] = [
    ("Overview", "overview.index", False),
    ("Hourly load", "app_charts.hourly", False),
    ("Versions", "app_charts.versions", False),
    ("Daily load", "app_charts.daily", False),
    ("API performance", "app_charts.performance", False),
    ("Status codes", "app_charts.status_codes", False),
    ("Exceptions", "exceptions.index", False),
    ("Custom graphs", "custom_graphs.index", False),
    ("Reporting", "reporting.index", False),
    ("Health", "health.index", False),
    ("Settings", "settings.index", True),
    ("Users", "users.index", True),
    ("Log out", "auth.logout", False),
]

#: Messages for the error pages, when a view aborted without its own.
_MESSAGES = {400: "The request was not valid.", 401: "Log in to the dashboard first.",
             403: "You may not do this.", 404: "There is no such page in the dashboard.",
             405: "This address does not accept that method.", 429: "Too many requests; wait a minute."}


class _DashboardSessions(SecureCookieSessionInterface):
    """Signed cookie sessions with fmd's own salt, scoped to the mount prefix, Secure over HTTPS.

    The salt differs from Flask's, so even a host that shares fmd's SECRET_KEY cannot have its session
    cookie accepted as a dashboard session (and the reverse).
    """

    salt = "fmd-dashboard-session"

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def create_dashboard_app(state: "State") -> Flask:
    """Build the dashboard app for one bound host app (secret, login, CSRF, blueprints, error pages)."""
    from ..auth import secret, users
    from ..auth.login import load_user

    package = Path(__file__).resolve().parent.parent
    app = Flask("fmd.dashboard", template_folder=str(package / "templates"),
                static_folder=str(package / "static"), static_url_path="/static")
    app.extensions["fmd"] = state
    app.config.update(
        # Until the store answers, a throw-away key: nothing is signed with it (every page but the static
        # files answers 503 until then, see _unavailable), and the stored one replaces it before any session.
        SECRET_KEY=state.settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_NAME="fmd_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Flask-Login's remember cookie would otherwise be "remember_token", the host's name too.
        REMEMBER_COOKIE_NAME="fmd_remember",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = _DashboardSessions()

    def prepare() -> None:
        """The dashboard's first use of the store: schema, shared secret, the configured admin."""
        state.store.ensure_schema()
        if not state.settings.secret_key:
            app.config["SECRET_KEY"] = secret.shared_secret(state.store)
        users.sync_config_admin(state.store, state.settings.username, state.settings.password)

    gate = _unavailable.install(app, state, prepare)  # first: its hook must run before CSRF and login checks
    CSRFProtect(app)

    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.session_protection = "basic"
    manager.user_loader(lambda token: load_user(state.store, token, state.settings.session_idle_hours))

    for name in BLUEPRINTS:
        module = importlib.import_module(f"{__name__}.{name}")
        app.register_blueprint(module.bp)

    home = app.config["FMD_HOME"] = "overview.index"
    if not any(rule.rule == "/" for rule in app.url_map.iter_rules()):
        @app.get("/")
        def index() -> Response:
            """The dashboard's root: the overview."""
            return redirect(url_for(home))

    _install_canonical_ranges(app, state)
    _install_context(app, state, home)
    _install_error_pages(app)
    gate.check()  # use the store now, as the first request would; a failure is remembered, not raised
    return app


def _install_canonical_ranges(app: Flask, state: "State") -> None:
    """A page asked for a rolling range with the dates it covers today (a range form sent without JavaScript)
    redirects to the URL with ``last`` alone, so a bookmark or a shared link stays rolling."""
    from ..queries._range import utcnow
    from ._params import redundant_dates

    @app.before_request
    def canonical_range() -> Response | None:
        if request.method != "GET" or request.headers.get("HX-Request") or "last" not in request.args:
            return None
        if not redundant_dates(request.args, utcnow(), state.settings.timezone):
            return None
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("start", "end", "days")]
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in kept)
        return redirect(f"{request.script_root}{request.path}?{query}", 303)


def _install_context(app: Flask, state: "State", home: str) -> None:
    from ..extension import DEFAULT_PASSWORD
    from ._access import current_role
    from ._format import install_filters

    install_filters(app, state.settings.timezone)
    default_password = state.settings.password == DEFAULT_PASSWORD

    @app.context_processor
    def shell_context() -> dict[str, Any]:
        role = current_role()
        nav = [(label, endpoint, endpoint == request.endpoint) for label, endpoint, admin_only in NAV
               if endpoint in app.view_functions and role and (role == "admin" or not admin_only)]
        name = current_user.username if current_user.is_authenticated else ("host user" if role else None)
        return {"fmd_nav": nav, "fmd_role": role, "fmd_is_admin": role == "admin", "fmd_user_name": name,
                "fmd_default_password": default_password, "fmd_csrf_token": generate_csrf,
                "fmd_settings": state.settings, "fmd_home": home}

    @app.after_request
    def no_store(resp: Response) -> Response:
        # Dashboard pages are per user and may show secrets-adjacent data: never cache them in proxies.
        if request.endpoint != "static":
            resp.headers.setdefault("Cache-Control", "no-store")
            resp.headers.setdefault("X-Content-Type-Options", "nosniff")
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp


def _install_error_pages(app: Flask) -> None:
    from ._htmx import page_or_fragment

    def render_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        message = exc.description if exc.description and exc.description != type(exc).description \
            else _MESSAGES.get(code, exc.name)
        resp = page_or_fragment("fmd/error.html", "fmd/partials/_error.html", code=code, title=exc.name,
                                message=message)
        resp.status_code = code
        for key, value in exc.get_headers():  # Allow (405), Retry-After (429)
            if key.lower() != "content-type":
                resp.headers[key] = value
        return resp

    for code in (400, 401, 403, 404, 405, 429):
        app.register_error_handler(code, render_error)
