"""The export API: versioned JSON under ``/<CUSTOM_LINK>/api/v1/``, for other services (see the README).

Only the token opens it (``Authorization: Bearer <SECURITY_TOKEN>``): no dashboard session, no ``authorize``
callable, no cookie. The request's session is swapped for a null one, so a response never sets a cookie, and the
blueprint is exempt from CSRF (it only answers GET; anything else is a 405). With the API off (no token, or a
documented example token) every URL under ``/api/`` is a 404. Every answer is JSON: a bad parameter is a 400
``{"error": ..., "parameter": ...}``, never a 500; an unknown parameter is a bad one (a typo must not silently
return everything).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

from flask import Blueprint, Flask, Request, Response, current_app, jsonify, request
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import SQLAlchemyError

from ..api_token import token_matches
from ..queries import api as queries
from ..store.models import VERSION_LEN
from ._access import get_state

bp = Blueprint("api", __name__)

#: Rows per page unless ``limit`` says otherwise, and the most a page holds (outliers are big: smaller).
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10_000
OUTLIER_LIMIT, MAX_OUTLIER_LIMIT = 100, 1000
#: Accepted times (a datetime before 1970 or after 9999 is a typo, and some drivers cannot store it).
MIN_TIME, MAX_TIME = datetime(1970, 1, 1), datetime(9999, 1, 1)
MAX_NAME = 250
_CURSOR = re.compile(r"(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})")
_INT = re.compile(r"[0-9]{1,9}")
_MAX_KEY = 2 ** 63 - 1
#: Endpoint and graph ids and status codes are 32-bit columns: a larger number is refused, not sent.
_MAX_INT = 2 ** 31 - 1
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class BadParameter(Exception):
    """A query parameter the API cannot use: a 400 naming it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter, self.message = parameter, message


def _error(status: int, message: str, **extra: Any) -> Response:
    resp = jsonify({"error": message, **extra})
    resp.status_code = status
    return resp


class _NoSessionHere(SessionInterface):
    """The dashboard's session interface, except that a request under /api/ gets a null session: its cookie is
    never read and nothing is ever saved, so no response of the API sets a cookie."""

    def __init__(self, inner: SessionInterface) -> None:
        self.inner = inner

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:  # noqa: F811
        if request.path == "/api" or request.path.startswith("/api/"):
            return self.make_null_session(app)
        return self.inner.open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        self.inner.save_session(app, session, response)

    def __getattr__(self, name: str) -> Any:  # the dashboard's own helpers (its signing serializer...)
        return getattr(self.inner, name)


@bp.record_once
def _token_only(setup: Any) -> None:
    app = setup.app
    app.session_interface = _NoSessionHere(app.session_interface)
    csrf = app.extensions.get("csrf")
    if csrf is not None:  # GET only: nothing to forge, and a service has no CSRF token to send
        csrf.exempt(bp)


@bp.before_request
def _only_the_token() -> Response | None:
    token = get_state().api_token
    if token is None:
        return _error(404, "The export API is not enabled on this server.")
    if not token_matches(token, request.headers.get("Authorization")):
        resp = _error(401, "Send the API token as 'Authorization: Bearer <token>'.")
        resp.headers["WWW-Authenticate"] = ('Bearer realm="fmd"' if "Authorization" not in request.headers
                                            else 'Bearer realm="fmd", error="invalid_token"')
        return resp
    return None


@bp.errorhandler(BadParameter)
def _bad_parameter(exc: BadParameter) -> Response:
    return _error(400, exc.message, parameter=exc.parameter)


@bp.errorhandler(SQLAlchemyError)
def _database_error(exc: SQLAlchemyError) -> Response:
    """The database is down or refused the read: a JSON 503, as every answer of the API is JSON."""
    current_app.logger.warning("fmd: the export API could not read the database: %s", type(exc).__name__)
    resp = _error(503, "fmd's database cannot be read now; try again later.")
    resp.headers["Retry-After"] = "30"
    return resp


@bp.route("/api/", defaults={"rest": ""}, methods=_METHODS)
@bp.route("/api/<path:rest>", methods=_METHODS)
def unknown(rest: str) -> Response:
    """Any other URL under /api/ (after the token check): JSON 404, or 405 for a method the API never answers."""
    if request.method not in ("GET", "HEAD"):
        resp = _error(405, "The export API only answers GET.")
        resp.headers["Allow"] = "GET, HEAD"
        return resp
    return _error(404, "No such API address; the routes are listed in the README (/api/v1/...).")


# ------------------------------------------------------------------------------------------------ parameters

def _args(allowed: set[str]) -> dict[str, str]:
    """The query parameters, each at most once and all of them known."""
    out = {}
    for name in request.args:
        if name not in allowed:
            raise BadParameter(name, f"Unknown parameter {name[:40]!r}; this address accepts: "
                                     f"{', '.join(sorted(allowed)) or 'none'}.")
        values = request.args.getlist(name)
        if len(values) > 1:
            raise BadParameter(name, f"{name} is given {len(values)} times; give it once.")
        out[name] = values[0]
    return out


def _limit(args: Mapping[str, str], default: int = DEFAULT_LIMIT, most: int = MAX_LIMIT) -> int:
    value = args.get("limit")
    if value is None:
        return default
    if not _INT.fullmatch(value) or not 1 <= int(value) <= most:
        raise BadParameter("limit", f"limit must be a whole number from 1 to {most}, not {value[:40]!r}.")
    return int(value)


def _time(args: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 date or time (naive means UTC) as naive UTC, or None when absent."""
    value = args.get(name)
    if value is None:
        return None
    problem = f"{name} must be an ISO 8601 date or time (2024-05-01, 2024-05-01T12:00:00Z), not {value[:40]!r}."
    if len(value) > 40:
        raise BadParameter(name, problem)
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is not None:
            when = when.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise BadParameter(name, problem) from None
    if not MIN_TIME <= when < MAX_TIME:
        raise BadParameter(name, f"{name} must lie between {MIN_TIME:%Y-%m-%d} and {MAX_TIME:%Y-%m-%d}.")
    return when


def _cursor(args: Mapping[str, str]) -> tuple[int, int]:
    value = args.get("cursor")
    if value is None:
        return queries.START
    match = _CURSOR.fullmatch(value)
    if not match or int(match[1]) > _MAX_KEY or int(match[2]) > _MAX_KEY:
        raise BadParameter("cursor", f"cursor must be a next_cursor this API returned, not {value[:40]!r}.")
    return int(match[1]), int(match[2])


def _endpoint(conn: Any, args: Mapping[str, str]) -> tuple[bool, int | None]:
    """(filtered, id): an unknown endpoint name filters everything out (it may simply not be requested yet)."""
    name = args.get("endpoint")
    if name is None:
        return False, None
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise BadParameter("endpoint", f"endpoint must be an endpoint name of 1 to {MAX_NAME} characters "
                           "(no NUL).")
    return True, queries.endpoint_id(conn, get_state().store.tables, name)


def _opaque(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=_iso).encode()).decode().rstrip("=")


def _unopaque(value: str, check: Callable[[Any], Any]) -> Any:
    try:
        key = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode())
        return check(key)
    except (ValueError, TypeError, KeyError, IndexError, binascii.Error, UnicodeDecodeError, OverflowError,
            AttributeError):
        raise BadParameter("cursor", f"cursor must be a next_cursor this API returned, not {value[:40]!r}.") \
            from None


def _iso(value: Any) -> Any:
    """JSON form of a value: naive UTC datetimes as ISO 8601 with Z."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds") + "Z"
    raise TypeError(type(value).__name__)


def _json(body: dict[str, Any]) -> Response:
    return current_app.response_class(json.dumps({"api_version": 1, **body}, default=_iso, allow_nan=False),
                                      mimetype="application/json")


# ------------------------------------------------------------------------------------------------ routes

@bp.get("/api/v1/endpoints")
def endpoints() -> Response:
    """Every endpoint with its level and all-time totals."""
    _args(set())
    state = get_state()
    with state.store.read() as conn:
        rows = queries.endpoints(conn, state.store.tables)
    return _json({"endpoints": rows})


def _stream(kind: str, read: Callable[..., queries.Page], default: int, most: int) -> Response:
    args = _args({"cursor", "since", "endpoint", "limit"})
    limit, after, since = _limit(args, default, most), _cursor(args), _time(args, "since")
    state = get_state()
    with state.store.read() as conn:
        filtered, endpoint = _endpoint(conn, args)
        page = queries.Page([], after, False) if filtered and endpoint is None else \
            read(conn, state.store.tables, after=after, since=since, endpoint=endpoint, limit=limit)
    return _json({kind: page.rows, "next_cursor": "%d.%d" % page.next_key, "has_more": page.has_more})


@bp.get("/api/v1/requests")
def requests() -> Response:
    """Raw requests in the order they were stored, from a cursor; no gap, no repeat (fmd.store.sequence)."""
    return _stream("requests", queries.requests, DEFAULT_LIMIT, MAX_LIMIT)


@bp.get("/api/v1/outliers")
def outliers() -> Response:
    """Outliers in full, in the order they were stored, from a cursor."""
    return _stream("outliers", queries.outliers, OUTLIER_LIMIT, MAX_OUTLIER_LIMIT)


@bp.get("/api/v1/profiles")
def profiles() -> Response:
    """Profiler summaries (one per profiled request), in the order they were stored, from a cursor."""
    return _stream("profiles", queries.profiles, DEFAULT_LIMIT, MAX_LIMIT)


def _range(args: Mapping[str, str], default_days: int | None) -> tuple[datetime, datetime]:
    end = _time(args, "to")
    start = _time(args, "from")
    if end is None:
        end = MAX_TIME if default_days is None else \
            datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if start is None:
        start = MIN_TIME if default_days is None else max(MIN_TIME, end - timedelta(days=default_days))
    if start >= end:
        raise BadParameter("from", "from must be earlier than to.")
    return start, end


def _hour_key(key: Any) -> tuple[datetime, int, str, int]:
    hour, eid, version, status = key
    if not (isinstance(eid, int) and isinstance(status, int) and isinstance(version, str)):
        raise ValueError("key")
    if not (0 <= eid <= _MAX_INT and -_MAX_INT - 1 <= status <= _MAX_INT):
        raise ValueError("key")
    if "\x00" in version or len(version) > VERSION_LEN:
        raise ValueError("key")
    when = datetime.fromisoformat(hour.removesuffix("Z"))
    if when.tzinfo is not None or not MIN_TIME <= when < MAX_TIME:
        raise ValueError("key")
    return when, eid, version, status


@bp.get("/api/v1/rollups/hourly")
def hourly() -> Response:
    """Per endpoint, hour, version and status: count and summed duration (default: the last 24 hours)."""
    args = _args({"from", "to", "endpoint", "cursor", "limit"})
    start, end = _range(args, default_days=1)
    limit = _limit(args)
    after = _unopaque(args["cursor"], _hour_key) if "cursor" in args else None
    state = get_state()
    with state.store.read() as conn:
        filtered, endpoint = _endpoint(conn, args)
        page = queries.Page([], after, False) if filtered and endpoint is None else \
            queries.hourly(conn, state.store.tables, start, end, endpoint, after, limit)
    return _json({"from": start, "to": end, "hours": page.rows, "has_more": page.has_more,
                  "next_cursor": _opaque(list(page.next_key)) if page.next_key is not None else None})


@bp.get("/api/v1/custom-graphs")
def custom_graphs() -> Response:
    """Every custom graph with its schedule, run and failure counts, last value and last error."""
    _args(set())
    state = get_state()
    with state.store.read() as conn:
        rows = queries.custom_graphs(conn, state.store.tables)
    return _json({"graphs": rows})


def _tick_key(key: Any) -> datetime:
    when = datetime.fromisoformat(key.removesuffix("Z"))
    if when.tzinfo is not None or not MIN_TIME <= when < MAX_TIME:
        raise ValueError("key")
    return when


@bp.get("/api/v1/custom-graphs/<int:graph_id>/values")
def graph_values(graph_id: int) -> Response:
    """One graph's values (ticks whose function returned a number), oldest first, in [from, to)."""
    args = _args({"from", "to", "cursor", "limit"})
    start, end = _range(args, default_days=None)
    limit = _limit(args)
    after = _unopaque(args["cursor"], _tick_key) if "cursor" in args else None
    state = get_state()
    with state.store.read() as conn:
        if graph_id > _MAX_INT or not queries.graph_exists(conn, state.store.tables, graph_id):
            return _error(404, f"There is no custom graph with id {graph_id}.")
        page = queries.graph_values(conn, state.store.tables, graph_id, start, end, after, limit)
    return _json({"graph_id": graph_id, "values": page.rows, "has_more": page.has_more,
                  "next_cursor": _opaque(page.next_key) if page.next_key is not None else None})
