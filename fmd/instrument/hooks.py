"""The monitored request path: one wrapper around the bound app's ``full_dispatch_request``.

Why a wrapper and not ``before_request``/``after_request`` hooks: each kind of hook costs about a
microsecond and reaching ``request``/``g`` through their proxies costs more; one wrapper that reads the
request context once adds about 2% to a hello-world request. What it does per request: four clock reads,
one dict lookup for the level, a tuple appended to the recorder's deque. Everything that could fail is
inside ``try``; the host's own exceptions pass through untouched.

fmd's own cost: two of those clock reads (wrapper entry, end of the bookkeeping) with the two around
``dispatch()`` give the time fmd spends on the request path; it is summed into the recorder's
``request_cost_s``/``request_cost_n`` (requests that return normally; an exception's path is rarer and not timed).

Status codes: a normal return gives the response's status. An unhandled exception leaves the wrapper;
the pending record rides on the exception object to the wrapped ``handle_exception``, which learns the
status the client really gets (500, or whatever the app's 500 handler returns), so the duration includes
the error handlers too. When Flask re-raises (``PROPAGATE_EXCEPTIONS``), a 500 is recorded.
"""

from __future__ import annotations

from threading import get_ident
from time import perf_counter, time
from typing import TYPE_CHECKING, Any

try:  # the request context's ContextVar: one lookup instead of a proxy's several (Flask 2.2 to 3.x)
    from flask.globals import _cv_request

    def _current_request() -> Any:
        return _cv_request.get().request
except ImportError:  # pragma: no cover - a Flask that renamed it: the public proxy still works
    from flask import request as _request_proxy

    def _current_request() -> Any:
        return _request_proxy._get_current_object()  # type: ignore[attr-defined]

from .clientip import client_ip_reader
from .groupby import group_of
from .levels import EXCLUDED

if TYPE_CHECKING:
    from flask import Flask

    from ..state import State

_PENDING = "_fmd_pending"


def install(app: "Flask", state: "State") -> None:
    """Wrap *app*'s dispatch so every request to a monitored endpoint is timed and queued."""
    levels = state.levels
    recorder = state.recorder
    submit = recorder.submit
    inflight = state.inflight
    errors = state.errors
    group_by = state.settings.group_by
    client_ip = client_ip_reader(state.settings.trusted_proxies)
    dispatch = app.full_dispatch_request
    handle_exception = app.handle_exception

    def group() -> str:
        try:
            return group_of(group_by)
        except Exception:
            errors.report("group_by", "fmd: config.group_by raised; recorded as empty")
            return ""

    def finish(pending: tuple, status: int) -> None:
        endpoint, started, wall, environ = pending
        try:
            duration = perf_counter() - started
            if endpoint is None:
                submit((None, duration, wall, status, "", ""))
            else:
                submit((endpoint, duration, wall, status, group() if group_by is not None else "",
                        client_ip(environ)))
        except Exception:
            errors.report("record", "fmd: could not record a request")

    def full_dispatch_request() -> Any:
        entered = perf_counter()
        try:
            request = _current_request()
            rule = request.url_rule
            if rule is None:
                endpoint, level = None, 1  # no route matched: counted per status, not as an endpoint
            else:
                endpoint = rule.endpoint
                level = levels.table.get(endpoint)
                if level is None:
                    level = levels.level_of(endpoint)  # a route added after bind
        except Exception:
            errors.report("hook", "fmd: could not inspect the request")
            return dispatch()
        if level <= 0:
            if level == EXCLUDED:
                return dispatch()
            try:
                return dispatch()
            finally:
                recorder.last_seen[endpoint] = time()
                if not recorder.started:
                    recorder.start()
        wall = time()
        ident = get_ident()
        if endpoint is not None:
            inflight[ident] = (wall, endpoint, level)
        started = perf_counter()
        try:
            response = dispatch()
        except Exception as exc:
            inflight.pop(ident, None)
            pending = (endpoint, started, wall, request.environ)
            try:
                setattr(exc, _PENDING, pending)
            except Exception:  # an exception type that takes no attributes: its status is 500
                finish(pending, 500)
            raise
        except BaseException:
            inflight.pop(ident, None)
            finish((endpoint, started, wall, request.environ), 500)
            raise
        try:
            returned = perf_counter()
            duration = returned - started
            inflight.pop(ident, None)
            if endpoint is None:
                submit((None, duration, wall, response.status_code, "", ""))
            else:
                submit((endpoint, duration, wall, response.status_code,
                        group() if group_by is not None else "", client_ip(request.environ)))
            # Plain attribute updates, no lock: two threads may lose one another's update now and then,
            # which a mean over thousands of requests does not notice (a lock would cost more than it saves).
            recorder.request_cost_s += (started - entered) + (perf_counter() - returned)
            recorder.request_cost_n += 1
        except Exception:
            errors.report("record", "fmd: could not record a request")
        return response

    def wrapped_handle_exception(e: Exception) -> Any:
        pending = getattr(e, _PENDING, None)
        if pending is None:
            return handle_exception(e)
        try:
            delattr(e, _PENDING)
        except Exception:
            pass
        try:
            response = handle_exception(e)
        except BaseException:
            finish(pending, 500)
            raise
        finish(pending, getattr(response, "status_code", 500))
        return response

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]
    app.handle_exception = wrapped_handle_exception  # type: ignore[method-assign]

