"""The dashboard when fmd cannot use its database: a 503 page naming the problem, never a 500.

The dashboard's first use of the store (schema check and upgrade, the shared secret, the configured admin)
happens in a WSGI wrapper before Flask opens the request's session, so the session is read with the real
secret. While that fails, or when binding already found fmd's storage unusable (``State.unavailable``),
every page but the static files answers 503 with the reason; the store is tried again at most every
RETRY_S seconds. A view that later fails on the database (it went down) gets the same page.

The page is shown before login, so it says what kind of problem it is and where to look, never the driver's
message (hosts, users, values) or the server's paths: those go to the log. fmd's own schema and configuration
errors are shown whole, being written by fmd for the operator.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable

from flask import Flask, Response, request, url_for

if TYPE_CHECKING:
    from ..state import State

#: Seconds between two attempts at the store while it fails (each may wait for a connect timeout).
RETRY_S = 5.0
_ENVIRON_KEY = "fmd.unavailable"


class StoreUnavailable(Exception):
    """fmd's database cannot be used; the message says why."""


def describe(exc: BaseException) -> str:
    """A short, parameter-free description of *exc*, for the log."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError):
        # str(exc) appends "[SQL: ...] [parameters: ...]"; the driver's own message may carry a DETAIL line
        # with row values. The first line of the driver's message names the problem.
        orig = exc.orig if exc.orig is not None else exc
        lines = str(orig).strip().splitlines()
        return f"{type(orig).__name__}: {lines[0] if lines else ''}"[:500]
    if isinstance(exc, StoreUnavailable):
        return str(exc)[:1000]
    return f"{type(exc).__name__}: {exc}"[:1000]


def public_reason(exc: BaseException) -> str:
    """What the 503 page tells anyone (it is shown before login): the kind of problem and what to do.

    A driver's message names hosts, ports, users and sometimes row values, and a storage path names the
    server's folders: those go to the log only. fmd's own schema and configuration errors are written by fmd
    for the operator (table names, revisions, the option to change) and are shown whole.
    """
    from sqlalchemy.exc import DBAPIError

    from ..options import ConfigError
    from ..store.schema import SchemaError

    if isinstance(exc, (SchemaError, ConfigError)):
        return f"{type(exc).__name__}: {exc}"[:1000]
    if isinstance(exc, StoreUnavailable):
        return "fmd's storage could not be set up when the app started; the application's log (logger fmd) says why."
    kind = type(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc).__name__
    return (f"{kind}: fmd's database cannot be reached or refused the request. The application's log "
            "(logger fmd) has the driver's message.")


class StoreGate:
    """Wraps the dashboard app's ``wsgi_app``: runs *prepare* once it succeeds, marks requests while it fails."""

    def __init__(self, wsgi_app: Callable, state: "State", prepare: Callable[[], None]) -> None:
        self.wsgi_app = wsgi_app
        self.state = state
        self.prepare = prepare
        self.ready = False
        self.reason: str | None = None
        self._retry_at = 0.0
        self._lock = threading.Lock()

    def check(self) -> str | None:
        """None when the store is usable, else why not."""
        if self.ready:
            return None
        if self.state.unavailable:  # (its text names the server's folders: for the log, see fmd.extension)
            return public_reason(StoreUnavailable(self.state.unavailable))
        with self._lock:  # one request tries; the others wait for its answer
            if self.ready:
                return None
            if self.reason is not None and time.monotonic() < self._retry_at:
                return self.reason
            try:
                self.prepare()
            except Exception as exc:
                self.reason = public_reason(exc)
                self._retry_at = time.monotonic() + RETRY_S
                self.state.errors.report("dashboard", "fmd: the dashboard cannot use its database: %s",
                                         describe(exc), exc_info=False)
                return self.reason
            self.ready, self.reason = True, None
            return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        reason = self.check()
        if reason is not None:
            environ[_ENVIRON_KEY] = reason
        return self.wsgi_app(environ, start_response)


def install(app: Flask, state: "State", prepare: Callable[[], None]) -> StoreGate:
    """Gate *app* on the store and render database failures as a 503 page. Call before other hooks."""
    from sqlalchemy.exc import DBAPIError

    from ..options import ConfigError
    from ..store.schema import SchemaError

    gate = app.wsgi_app = StoreGate(app.wsgi_app, state, prepare)  # type: ignore[method-assign]

    @app.before_request
    def refuse_while_unavailable() -> None:
        reason = request.environ.get(_ENVIRON_KEY)
        if reason is not None and request.endpoint != "static":
            raise StoreUnavailable(reason)

    def render(exc: Exception) -> Response:
        # Rendered straight from the Jinja environment: the context processors would load the user
        # (a database read) for the page shell.
        html = app.jinja_env.get_template("fmd/unavailable.html").render(
            reason=str(exc) if isinstance(exc, StoreUnavailable) else public_reason(exc),
            css=url_for("static", filename="fmd/fmd.css"))
        return Response(html, 503, {"Retry-After": str(int(RETRY_S)), "Cache-Control": "no-store"},
                        mimetype="text/html")

    for kind in (StoreUnavailable, DBAPIError, SchemaError, ConfigError):
        app.register_error_handler(kind, render)
    return gate
