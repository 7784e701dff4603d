"""The overview: every endpoint with its hits, durations, errors and an inline monitoring-level control.

Sorting and filtering happen on the server and live in the URL (``?q=&sort=&dir=``), so a shared link or
the back button shows the same table; htmx swaps only the table (``partials/_overview_table.html``).
Level changes are POSTs that need an admin and the CSRF token (CSRFProtect checks every POST); an htmx
change re-renders just its row, a bulk change the table.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from ..queries import overview as queries
from ..queries._range import utcnow
from ..state import LEVELS
from ._access import admin_required, get_state, is_admin, login_required
from ._htmx import is_htmx, page_or_fragment
from ._params import OverviewArgs, parse_level, parse_overview

bp = Blueprint("overview", __name__)

#: What each monitoring level records (shown next to the select).
LEVEL_NAMES = {0: "0 · off", 1: "1 · timing", 2: "2 · + outliers", 3: "3 · + profiler"}
#: The columns of the table: (sort key, heading, numeric?, hover help).
COLUMNS = [("name", "Endpoint", False, "Endpoint name (Flask's view endpoint)"),
           ("level", "Level", False, "Monitoring level: 0 off, 1 timing, 2 outliers, 3 profiler"),
           ("today", "Today", True, "Requests since midnight (TIMEZONE)"),
           ("week", "7 days", True, "Requests in the last 7 days, today included"),
           ("total", "All time", True, "Every request recorded"),
           ("median", "Median", True, "Median duration over the last 7 days"),
           ("p95", "p95", True, "95th percentile duration over the last 7 days"),
           ("errors", "5xx", True, "Share of responses with a 5xx status over the last 7 days"),
           ("last", "Last request", True, "Time of the most recent request"),
           ("exceptions", "Exceptions", True, "Open exception groups with an occurrence on this endpoint")]


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """Seconds for people: "0.84 ms", "12.3 ms", "1.25 s"; "–" for None."""
    if seconds is None:
        return "–"
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{seconds:.2f} s"


@bp.app_template_filter("percent")
def percent(share: float | None) -> str:
    """0.0123 -> "1.2 %"; "–" for None."""
    if share is None:
        return "–"
    return "0 %" if share == 0 else f"{share * 100:.1f} %" if share >= 0.001 else "<0.1 %"


def _rows(args: OverviewArgs, endpoint_ids: list[int] | None = None) -> tuple[list[dict], Any]:
    state = get_state()
    now = utcnow()
    with state.store.read() as conn:
        rows = queries.overview_rows(conn, state.store.tables, now, state.settings.timezone, args.q, endpoint_ids)
    return queries.sort_rows(rows, args.sort, args.desc), now


def _context(args: OverviewArgs, rows: list[dict], now: Any, **extra: Any) -> dict:
    return {"args": args, "rows": rows, "now": now, "columns": COLUMNS, "levels": LEVELS,
            "level_names": LEVEL_NAMES, "can_edit": is_admin(),
            "endpoint_page": "endpoint.index" if "endpoint.index" in current_app.view_functions else None,
            "exceptions_page": "endpoint.exceptions" if "endpoint.exceptions" in current_app.view_functions else None,
            **extra}


@bp.get("/overview")
@login_required
def index() -> Response:
    """The overview table (the whole page, or only the table for htmx)."""
    args = parse_overview(request.args)
    rows, now = _rows(args)
    return page_or_fragment("fmd/overview.html", "fmd/partials/_overview_table.html", **_context(args, rows, now))


@bp.post("/overview/level/<int:endpoint_id>")
@admin_required
def set_level(endpoint_id: int) -> Response:
    """Set one endpoint's level; htmx gets its re-rendered row, a plain form post a redirect back."""
    level = parse_level(request.form)
    args = parse_overview(request.form)
    state = get_state()
    with state.store.read() as conn:
        endpoint = queries.endpoint_by_id(conn, state.store.tables, endpoint_id)
    if endpoint is None:
        abort(404, f"There is no endpoint with id {endpoint_id}.")
    try:
        state.set_level(endpoint["name"], level)
    except ValueError as exc:
        abort(400, str(exc))
    if not is_htmx():
        return redirect(url_for(".index", **args.query()))
    rows, now = _rows(OverviewArgs(), [endpoint_id])
    resp = current_app.response_class(render_template("fmd/partials/_overview_row.html",
                                                      **_context(args, rows, now, row=rows[0])))
    resp.vary.add("HX-Request")
    return resp


@bp.post("/overview/level")
@admin_required
def set_level_bulk() -> Response:
    """Set the level of every endpoint matching the form's filter ``q``; htmx gets the table back."""
    level = parse_level(request.form)
    args = parse_overview(request.form)
    state = get_state()
    with state.store.read() as conn:
        targets = queries.filter_endpoints(queries.endpoints(conn, state.store.tables), args.q)
    for endpoint in targets:
        try:
            state.set_level(endpoint["name"], level)
        except ValueError as exc:
            abort(400, f"{endpoint['name']!r}: {exc}")
    if not is_htmx():
        return redirect(url_for(".index", **args.query()))
    rows, now = _rows(args)
    message = f"Level {level} set for {len(targets)} endpoint{'s' if len(targets) != 1 else ''}."
    resp = current_app.response_class(render_template("fmd/partials/_overview_table.html",
                                                      **_context(args, rows, now, message=message)))
    resp.vary.add("HX-Request")
    return resp
