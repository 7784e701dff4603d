"""The monitored request path: one wrapper around the bound app's ``full_dispatch_request``.

Why a wrapper and not ``before_request``/``after_request`` hooks: each kind of hook costs about a
microsecond and reaching ``request``/``g`` through their proxies costs more; one wrapper that reads the
request context once adds about 2% to a hello-world request. What it does per request: four clock reads,
one dict lookup for the level, one record handed to the recorder. Everything that could fail is inside
``try``; the host's own exceptions pass through untouched.

What the duration covers: from the start of the view's dispatch (``before_request`` hooks included) until the
response leaves ``full_dispatch_request`` (``after_request`` hooks included), or, for a streamed response (a
generator body, ``stream_with_context``, server-sent events, ``send_file``), until the server closed its body,
so the time the client waited for the stream counts. A stream that fails midway is recorded as a 500, which
is what the client saw: a cut-off response. A stream the server never closes is recorded when its body is
exhausted.

fmd's own cost: two of those clock reads (wrapper entry, end of the bookkeeping) with the two around
``dispatch()`` give the time fmd spends on the request path; it is summed into the recorder's
``request_cost_s``/``request_cost_n`` (requests that return normally, not counting the one that started the
writer thread; an exception's path is rarer and not timed).

Status codes: a normal return gives the response's status. An unhandled exception leaves the wrapper;
the pending record rides on the exception object to the wrapped ``handle_exception``, which learns the
status the client really gets (500, or whatever the app's 500 handler returns), so the duration includes
the error handlers too. When Flask re-raises (``PROPAGATE_EXCEPTIONS``), a 500 is recorded.

group_by is read when a request is recorded, not at bind: ``fmd.config.group_by = ...`` after ``bind`` works.
"""

from __future__ import annotations

import threading
from os import getpid
from time import perf_counter, time
from typing import TYPE_CHECKING, Any, Callable

try:  # the request context's ContextVar: one lookup instead of a proxy's several (Flask 2.2 to 3.x)
    from flask.globals import _cv_request

    def _current_request() -> Any:
        return _cv_request.get().request
except ImportError:  # pragma: no cover - a Flask that renamed it: the public proxy still works
    from flask import request as _request_proxy

    def _current_request() -> Any:
        return _request_proxy._get_current_object()  # type: ignore[attr-defined]

from werkzeug.wsgi import ClosingIterator

from .clientip import client_ip_reader
from .groupby import group_of
from .levels import EXCLUDED
from .records import OutlierSeen, ProfileSeen

if TYPE_CHECKING:
    from flask import Flask

    from ..state import State

_PENDING = "_fmd_pending"


class _NoConfig:
    group_by = None


_NO_CONFIG = _NoConfig()


def install(app: "Flask", state: "State") -> None:
    """Wrap *app*'s dispatch so every request to a monitored endpoint is timed and queued."""
    levels = state.levels
    recorder = state.recorder
    put = recorder.handoff.put  # (Recorder.submit is this plus the start check below, one call less here)
    inflight = state.inflight
    errors = state.errors
    fixed_group_by = state.settings.fixed_group_by  # from bind(group_by=...) or app.config: wins over fmd.config
    live_config = state.settings.config or _NO_CONFIG  # the fmd.config the app was bound with, read per request
    client_ip = client_ip_reader(state.settings.trusted_proxies)
    watchdog = state.watchdog
    sampler = state.sampler
    view_functions = app.view_functions
    thresholds = state.baselines.thresholds
    exceptions = state.exceptions
    #: thread ident -> an exception the app's own error handler turned into a response (see below)
    handled: dict[int, BaseException] = {}
    dispatch = app.full_dispatch_request
    handle_exception = app.handle_exception
    handle_user_exception = app.handle_user_exception

    def record(endpoint: str | None, started: float, wall: float, status: int, environ: dict,
               extra: tuple | None = None) -> bool:
        """Hand one finished request to the recorder; True when that started the writer."""
        duration = perf_counter() - started
        if recorder.pid != getpid():  # forked without Python's fork hooks (uWSGI): this process's own state
            recorder.adopt()
        if endpoint is None:
            put((None, duration, wall, status, "", ""))
        else:
            source = fixed_group_by if fixed_group_by is not None else live_config.group_by
            item = (endpoint, duration, wall, status, "" if source is None else group(source), client_ip(environ))
            put(item if extra is None else item + (extra,))
        if recorder.started:
            return False
        recorder.start()
        return True

    def group(source: Any) -> str:
        try:
            return group_of(source)
        except Exception:
            errors.report("group_by", "fmd: config.group_by raised; recorded as empty")
            return ""

    def finish(pending: tuple, status: int, exc: BaseException | None = None) -> None:
        """Record a request whose end came later: an exception handled by Flask, or a stream closed."""
        try:
            endpoint, started, wall, environ, level, extra = pending
            if exc is not None and level > 0:
                extra = _attach(extra, failure(exc))
            if level >= 2 and not _has_outlier(extra):
                extra = _attach(extra, judge(endpoint, wall, perf_counter() - started, environ, None))
            record(endpoint, started, wall, status, environ, extra)
        except Exception:
            errors.report("record", "fmd: could not record a request")

    def failure(exc: BaseException) -> Any:
        try:
            return exceptions.seen(exc)
        except Exception:
            errors.report("exception", "fmd: could not capture an exception of the app")
            return None

    def judge(endpoint: str | None, wall: float, duration: float, environ: dict, request: Any) -> Any:
        """An OutlierSeen when a level-2 request was an outlier, else None (its capture, if any, dropped)."""
        limit = thresholds.get(endpoint)
        capture = watchdog.take(threading.get_ident(), wall) if watchdog.captures else None
        if limit is None or duration <= limit:
            return None
        try:
            return outlier_seen(endpoint, limit, environ, request, capture)
        except Exception:
            errors.report("outlier", "fmd: could not capture an outlier")
            return None

    def outlier_seen(endpoint: str, limit: float, environ: dict, request: Any, capture: tuple | None) -> Any:
        form = body = None
        if request is not None:
            length = request.content_length or 0
            if 0 < length <= _MAX_BODY:  # reading what the view did not is bounded: the values, not an upload
                # The raw body is cached first: the host's error handler and teardown still read it whole.
                request.get_data(cache=True, parse_form_data=False)
                if request.mimetype in _FORM_TYPES:
                    form = list(request.form.items(multi=True))
                elif request.is_json:
                    body = request.get_json(silent=True)
        average = state.baselines.average(endpoint) or limit / max(state.baselines.constant, 1e-9)
        seen = OutlierSeen(average, {k: v for k, v in environ.items() if type(v) is str}, form, body)
        if capture is not None:
            seen.stack, seen.stack_at, seen.cpu, seen.memory = capture[1:]
        return seen

    def profiled(endpoint: str, ident: int, wall: float) -> Any:
        try:
            return ProfileSeen(sampler.take(ident, wall), view_functions.get(endpoint))
        except Exception:
            errors.report("profile", "fmd: could not take a request's profile")
            return None

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
                try:
                    recorder.touch(endpoint, time())
                except Exception:
                    errors.report("record", "fmd: could not record a request")
        wall = time()
        ident = threading.get_ident()  # looked up per call: gevent patches it after import
        if endpoint is not None:
            inflight[ident] = (wall, endpoint, level)
            if level >= 2:  # woken after the registry entry: see Watchdog._run
                try:
                    if not watchdog.awake:
                        watchdog.wake()
                    if level >= 3 and not sampler.awake:
                        sampler.wake()
                except Exception:
                    errors.report("watchdog", "fmd: could not start the outlier watchdog or the sampler")
        started = perf_counter()
        try:
            response = dispatch()
        except Exception as exc:
            inflight.pop(ident, None)
            extra = None
            if endpoint is not None:
                handled.pop(ident, None)
                extra = _attach(None, failure(exc))
                if level >= 3:
                    extra = _attach(extra, profiled(endpoint, ident, wall))
                if level >= 2:
                    extra = _attach(extra, judge(endpoint, wall, perf_counter() - started, request.environ, request))
            pending = (endpoint, started, wall, request.environ, 0, extra)  # (level 0: nothing left to judge)
            try:
                setattr(exc, _PENDING, pending)
            except Exception:  # an exception type that takes no attributes: its status is 500
                finish(pending, 500)
            raise
        except BaseException:
            inflight.pop(ident, None)
            finish((endpoint, started, wall, request.environ, 0, None), 500)
            raise
        try:
            returned = perf_counter()
            inflight.pop(ident, None)
            extra = None
            if handled:
                error = handled.pop(ident, None)
                if error is not None and response.status_code >= 500 and endpoint is not None:
                    extra = _attach(None, failure(error))
            if level >= 3 and endpoint is not None:
                extra = _attach(extra, profiled(endpoint, ident, wall))
            body = response.response
            if type(body) is not list and type(body) is not ClosingIterator and response.is_streamed:
                # (A ClosingIterator body is a WSGI app's finished output, e.g. an abort() or 404 page that
                # Flask converted with force_type: nothing left to wait for.)
                pending = (endpoint, started, wall, request.environ, level, extra)
                _time_stream(response, lambda status, exc=None: finish(pending, status, exc),
                             request.environ, recorder.late)
                started_writer = False
            else:
                if level >= 2:
                    extra = _attach(extra, judge(endpoint, wall, returned - started, request.environ, request))
                started_writer = record(endpoint, started, wall, response.status_code, request.environ, extra)
            if not started_writer:
                # Plain attribute updates, no lock: two threads may lose one another's update now and then,
                # which a mean over thousands of requests does not notice (a lock would cost more than it saves).
                recorder.request_cost_s += (started - entered) + (perf_counter() - returned)
                recorder.request_cost_n += 1
        except Exception:
            errors.report("record", "fmd: could not record a request")
        return response

    def wrapped_handle_user_exception(e: Exception) -> Any:
        # An exception the app's own error handler answers: remembered for the wrapper, which records it when
        # the response is a 5xx (an error the client saw). Re-raised ones reach the wrapper's except anyway.
        response = handle_user_exception(e)
        try:
            ident = threading.get_ident()
            if ident in inflight:  # a monitored request (level 1+) that the wrapper will finish and collect
                handled[ident] = e
        except Exception:
            pass
        return response

    def wrapped_handle_exception(e: Exception) -> Any:
        try:  # (from the instance's dict: an exception class's own __getattr__ may raise anything)
            pending = getattr(e, "__dict__", {}).pop(_PENDING, None)
        except Exception:
            pending = None
        if pending is None:
            return handle_exception(e)
        try:
            response = handle_exception(e)
        except BaseException:
            finish(pending, 500)
            raise
        finish(pending, getattr(response, "status_code", 500))
        return response

    app.full_dispatch_request = full_dispatch_request  # type: ignore[method-assign]
    app.handle_exception = wrapped_handle_exception  # type: ignore[method-assign]
    app.handle_user_exception = wrapped_handle_user_exception  # type: ignore[method-assign]
    WRAPPER_CODES.add(full_dispatch_request.__code__)


#: The code of the request wrapper: a stack taken by the watchdog starts below it (at the view's dispatch).
WRAPPER_CODES: set = set()
#: Request bodies up to this size are read for an outlier's values (a form, a JSON document).
_MAX_BODY = 64 * 1024
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _attach(extra: tuple | None, item: Any) -> tuple | None:
    """*extra* with *item* added (None items are not)."""
    if item is None:
        return extra
    return (item,) if extra is None else extra + (item,)


def _has_outlier(extra: tuple | None) -> bool:
    return extra is not None and any(isinstance(item, OutlierSeen) for item in extra)


def _time_stream(response: Any, done: Callable[[int], None], environ: dict, late: Any) -> None:
    """Record *response* when the server has finished with its streamed body (closed, exhausted or failed)."""
    status = response.status_code
    body = response.response
    wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(wrapper, type) and isinstance(body, wrapper):
        # The server's own file wrapper (send_file): it must stay an instance of that type, or the server
        # loses its sendfile() (gunicorn checks isinstance). It becomes one of a subclass that reports on close.
        try:
            body.__class__ = _closing_subclass(wrapper)
            body._fmd_report = (done, status)
            own_close = body.__dict__.get("close")  # gunicorn's sets close = file.close on the instance
            if own_close is not None:
                body.close = lambda: _close_and_report(body, own_close)
            return
        except (TypeError, AttributeError):  # a wrapper with __slots__ or from C: time it as any stream
            pass
    response.response = _TimedBody(body, status, done, late)


_subclasses: dict[type, type] = {}


def _closing_subclass(cls: type) -> type:
    """A subclass of a server's file wrapper whose close() also reports the request."""
    sub = _subclasses.get(cls)
    if sub is None:
        inner = getattr(cls, "close", None)  # (gunicorn's has none: it sets one on the instance, if any)

        def close(self: Any) -> None:
            _close_and_report(self, (lambda: inner(self)) if inner is not None else (lambda: None))

        sub = _subclasses[cls] = type(cls.__name__, (cls,), {"close": close, "__module__": cls.__module__})
    return sub


def _close_and_report(body: Any, close: Callable[[], None]) -> None:
    try:
        close()
    finally:
        report = body.__dict__.pop("_fmd_report", None)
        if report is not None:
            report[0](report[1])


class _TimedBody:
    """A streamed body that reports once: at close, at exhaustion, or as a 500 when it raises midway."""

    __slots__ = ("_body", "_status", "_done", "_reported", "_late")

    def __init__(self, body: Any, status: int, done: Callable[[int], None], late: Any) -> None:
        self._body = body
        self._status = status
        self._done = done
        self._reported = False
        self._late = late

    def __iter__(self) -> Any:
        try:
            yield from self._body
        except GeneratorExit:  # the server stopped early (a client that went away): close() reports
            raise
        except BaseException as exc:
            self._report(500, exc if isinstance(exc, Exception) else None)
            raise
        self._report(self._status)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._report(self._status)

    def __del__(self) -> None:  # a body nobody closed (a test client's unread response): still recorded
        # Not recorded here: the garbage collector may run this while this very thread holds the hand-off's
        # lock. SimpleQueue.put is safe in __del__; the writer thread reports it at its next pass.
        if not self._reported:
            self._reported = True
            try:
                self._late.put((self._done, self._status))
            except Exception:
                pass

    def _report(self, status: int, exc: BaseException | None = None) -> None:
        if not self._reported:
            self._reported = True
            if exc is None:
                self._done(status)
            else:
                self._done(status, exc)
