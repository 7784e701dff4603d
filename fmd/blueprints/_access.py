"""Who may see and change what in the dashboard.

Roles: ``"admin"`` (changes settings, levels, users) and ``"viewer"`` (looks). A request is an admin
without a dashboard login when the host configured ``fmd.config.authorize = callable`` and the callable
returns something truthy; it runs inside a request context of the *host* app (same environ), so it can
use the host's own ``flask_login.current_user`` or session. Views use ``login_required`` and
``admin_required`` from here, never Flask-Login's decorator (which would not know about ``authorize``).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user

if TYPE_CHECKING:
    from ..state import State

F = TypeVar("F", bound=Callable[..., Any])

ADMIN = "admin"
VIEWER = "viewer"


def get_state() -> "State":
    """The fmd State of the host app this dashboard belongs to."""
    return current_app.extensions["fmd"]


def _host_authorizes(state: "State") -> bool:
    """Ask the host's ``authorize`` callable, in a request context of the host app; errors mean no."""
    authorize = state.settings.authorize
    if authorize is None:
        return False
    host = getattr(state, "host_app", None)
    try:
        if host is None:
            return bool(authorize())
        environ = dict(request.environ)
        # The host sees the request as it arrived, before the mount moved the prefix into SCRIPT_NAME.
        prefix = state.dashboard.prefix
        script = environ.get("SCRIPT_NAME", "")
        if script.endswith(prefix):
            environ["SCRIPT_NAME"] = script[: len(script) - len(prefix)]
            environ["PATH_INFO"] = prefix + environ.get("PATH_INFO", "")
        with host.request_context(environ):
            return bool(authorize())
    except Exception:  # a failing host callable must not open (or break) the dashboard
        state.errors.report("authorize", "fmd: config.authorize raised; dashboard access denied")
        return False


def current_role() -> str | None:
    """``"admin"``, ``"viewer"`` or None (anonymous), computed once per request."""
    if "fmd_role" not in g:
        role = None
        if current_user.is_authenticated:
            role = ADMIN if current_user.is_admin else VIEWER
        elif _host_authorizes(get_state()):
            role = ADMIN
        g.fmd_role = role
    return g.fmd_role


def is_admin() -> bool:
    """True when the current request may change data."""
    return current_role() == ADMIN


def _refuse_anonymous():  # noqa: ANN202
    """Send an anonymous visitor to the login page (GET), or refuse a POST with 401."""
    here = request.script_root + request.path
    if request.query_string:
        here += "?" + request.query_string.decode("latin-1")
    htmx = request.headers.get("HX-Request") == "true"
    if htmx and request.headers.get("HX-Current-URL"):
        # Come back to the page the fragment belongs to, not to the fragment (or a POST-only URL).
        current = urlsplit(request.headers["HX-Current-URL"])
        here = current.path + ("?" + current.query if current.query else "")
    target = url_for("auth.login", next=here)
    if htmx:
        # htmx would swap a login page into a fragment; tell it to load the login page instead.
        resp = current_app.response_class("Log in first.", status=401)
        resp.headers["HX-Redirect"] = target
        return resp
    if request.method in ("GET", "HEAD"):
        return redirect(target)
    abort(401, "Log in to the dashboard first.")


def login_required(view: F) -> F:
    """Let any logged-in user (admin or viewer) through; anonymous ones go to the login page."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_role() is None:
            return _refuse_anonymous()
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Let admins through; a viewer gets 403, an anonymous visitor the login page (GET) or 401."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        role = current_role()
        if role is None:
            return _refuse_anonymous()
        if role != ADMIN:
            abort(403, "Only an admin can do this; you are logged in as a viewer.")
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]
