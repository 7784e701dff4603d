"""The overview: headline figures over a range, and every endpoint with its hits, durations, errors, trend
and an inline monitoring-level control.

Range, sorting, filtering and auto-refresh happen on the server and live in the URL
(``?last=24h&q=&sort=&dir=&refresh=``), so a shared link or the back button shows the same table; htmx swaps
only the section (``partials/_overview_table.html``), which also polls itself when auto-refresh is on.
Level changes are POSTs that need an admin and the CSRF token (CSRFProtect checks every POST); an htmx
change re-renders just its row, a bulk change is confirmed first (also without JavaScript) and then
re-renders the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from markupsafe import Markup

from ..charts.sparkline import trend_sparklines_json
from ..queries import overview as queries
from ..queries._range import DatePeriod, to_local, utcnow
from ..queries.trends import NOISE, Headline, previous_period
from ..state import LEVELS
from ._access import admin_required, get_state, is_admin, login_required
from ._htmx import is_htmx, page_or_fragment
from ._params import (OverviewArgs, parse_level, parse_overview, parse_period, parse_refresh, period_args,
                      quick_ranges, refresh_choices)

bp = Blueprint("overview", __name__)

#: What each monitoring level records (shown next to the select).
LEVEL_NAMES = {0: "0 · off", 1: "1 · timing", 2: "2 · + outliers", 3: "3 · + profiler"}
#: The URL arguments that name a range (kept in every link only when the page was asked with one).
RANGE_ARGS = ("start", "end", "days", "last")


def previous_label(period: DatePeriod) -> str:
    """What the trends compare with: "the previous 25 hours (2026-11-25 16:00 to 2026-11-26 17:00)" or "the
    previous 30 days and 1 hour (...)" for a rolling range (which runs to the end of the current hour, so "24h"
    spans 25 whole hours), the previous days otherwise ("2026-11-13 to 2026-11-19")."""
    before = previous_period(period)
    if before is None:
        return "nothing (the range starts at the earliest date the dashboard accepts)"
    if period.rolling is None:
        return before.describe()
    start, end = (to_local(moment, period.tz) for moment in (before.utc.start, before.utc.end))
    shown = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    hours = before.utc.hours
    days, rest = divmod(hours, 24)
    span = f"{hours} hours" if hours < 72 else f"{days} days" + (f" and {rest} hour{'s' * (rest != 1)}" if rest else "")
    return f"the previous {span} ({start:%Y-%m-%d %H:%M} to {shown})"


def columns(period: DatePeriod) -> list[tuple[str, str, bool, str]]:
    """The columns of the table: (sort key, heading, numeric?, hover help); the range's columns name it."""
    over = f"over {period.describe()}"
    return [("name", "Endpoint", False, "Endpoint name (Flask's view endpoint)"),
            ("level", "Level", False, "Monitoring level: 0 off, 1 timing, 2 outliers, 3 profiler"),
            ("today", "Today", True, "Requests since midnight (TIMEZONE)"),
            ("week", "7 days", True, "Requests in the last 7 days, today included"),
            ("total", "All time", True, "Every request recorded"),
            ("requests", "Requests", True, f"Requests {over}; the bars show them per "
                                           f"{'hour' if period.hourly else 'day'} (hover for each)"),
            ("median", "Median", True, f"Median duration {over}"),
            ("p95", "p95", True, f"95th percentile duration {over}"),
            ("change", "Δ p95", True, f"Change of p95 against the previous period of the same length "
                                      f"({previous_label(period)}); red: slower, green: faster, uncoloured "
                                      f"under {NOISE:.0%} (the histograms' resolution); – when either period has no "
                                      "requests. Sorted, endpoints without a comparison come last."),
            ("errors", "5xx", True, f"Share of responses with a 5xx status {over}"),
            ("last", "Last request", True, "Time of the most recent request"),
            ("exceptions", "Exceptions", True, "Open exception groups with an occurrence on this endpoint")]


@dataclass(frozen=True)
class OverviewView(OverviewArgs):
    """The overview's whole URL state: filter and sort (OverviewArgs) plus the range and auto-refresh."""

    range_args: tuple[tuple[str, str], ...] = ()
    refresh: int = 0

    def query(self, **changes: object) -> dict[str, str]:
        kept = dict(self.range_args)
        if self.refresh:
            kept["refresh"] = str(self.refresh)
        return {**super().query(**{k: v for k, v in changes.items() if k in ("q", "sort", "dir")}), **kept,
                **{k: str(v) for k, v in changes.items() if k not in ("q", "sort", "dir")}}

    @property
    def range_query(self) -> dict[str, str]:
        """The range's own URL arguments (for links to other pages with the same range)."""
        return dict(self.range_args)


def parse_view(args: Mapping[str, str], period: DatePeriod) -> OverviewView:
    """The overview's arguments from a query string or a form (400 for a bad one)."""
    base = parse_overview(args)
    named = any(str(args.get(k) or "").strip() for k in RANGE_ARGS)
    return OverviewView(base.q, base.sort, base.desc, tuple(period_args(period).items()) if named else (),
                        parse_refresh(args))


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


@bp.app_template_filter("signed_percent")
def signed_percent(change: float | None) -> str:
    """0.123 -> "+12 %", -0.031 -> "−3.1 %" (a relative change); "–" for None."""
    if change is None:
        return "–"
    pct = change * 100
    text = f"{abs(pct):.1f}" if abs(pct) < 10 else f"{abs(pct):,.0f}"
    return f"{'−' if pct < 0 and text.strip('0.') else '+' if pct > 0 and text.strip('0.') else '±'}{text} %"


@bp.app_template_filter("points")
def points(change: float | None) -> str:
    """A change of a share in percentage points: 0.004 -> "+0.4 pp"; "–" for None."""
    if change is None:
        return "–"
    text = f"{abs(change) * 100:.1f}"
    return f"{'−' if change < 0 and text != '0.0' else '+' if change > 0 and text != '0.0' else '±'}{text} pp"


def _period(args: Mapping[str, str]) -> tuple[DatePeriod, datetime]:
    now = utcnow()
    return parse_period(args, now, get_state().settings.timezone), now


def _rows(view: OverviewView, period: DatePeriod, now: datetime,
          endpoint_ids: list[int] | None = None) -> tuple[list[dict], Headline]:
    state = get_state()
    with state.store.read() as conn:
        rows, headline = queries.overview(conn, state.store.tables, now, state.settings.timezone, period, view.q,
                                          endpoint_ids)
    return queries.sort_rows(rows, view.sort, view.desc), headline


def _context(view: OverviewView, period: DatePeriod, rows: list[dict], now: datetime, **extra: Any) -> dict:
    """Everything the page, the table and a row need."""
    query = view.query()
    labels = period.bucket_labels()
    return {"args": view, "period": period, "rows": rows, "now": now, "columns": columns(period), "levels": LEVELS,
            "level_names": LEVEL_NAMES, "can_edit": is_admin(), "tz": get_state().settings.timezone,
            "previous_label": previous_label(period), "noise": NOISE,
            "here": url_for("overview.index", **query),
            # What the range form keeps besides the range itself (it sends its own start/end or last).
            "range_extra": {k: v for k, v in query.items() if k not in RANGE_ARGS},
            "quick": quick_ranges("overview.index", **query),
            "refresh_choices": refresh_choices("overview.index", **query),
            # JSON text already escaped for <script> (as |tojson would): Markup only spares escaping it again.
            "sparks": {eid: Markup(text) for eid, text in trend_sparklines_json(
                {r["id"]: r["buckets"] for r in rows}, labels, "Hour" if period.hourly else "Day").items()},
            "endpoint_page": "endpoint.index" if "endpoint.index" in current_app.view_functions else None,
            "exceptions_page": "endpoint.exceptions" if "endpoint.exceptions" in current_app.view_functions else None,
            **extra}


@bp.get("/overview")
@login_required
def index() -> Response:
    """The overview: headline figures and the table (the whole page, or only the section for htmx)."""
    period, now = _period(request.args)
    view = parse_view(request.args, period)
    notice = _bulk_notice(request.args)
    rows, headline = _rows(view, period, now)
    return page_or_fragment("fmd/overview.html", "fmd/partials/_overview_table.html",
                            **_context(view, period, rows, now, headline=headline, message=notice))


def _bulk_notice(args: Mapping[str, str]) -> str | None:
    """The notice after a confirmed bulk change without JavaScript (``?bulk_level=2&bulk_count=5``)."""
    level, count = args.get("bulk_level"), args.get("bulk_count")
    if level is None and count is None:
        return None
    if level not in {str(v) for v in LEVELS} or not (count or "").isdigit() or len(count or "") > 9:
        abort(400, "bulk_level must be a level from 0 to 3 and bulk_count a whole number (both set by the "
                   "dashboard after a bulk level change).")
    return _bulk_message(int(level), int(count or 0))


def _bulk_message(level: int, count: int) -> str:
    return f"Level {level} set for {count} endpoint{'s' if count != 1 else ''}."


@bp.post("/overview/level/<int:endpoint_id>")
@admin_required
def set_level(endpoint_id: int) -> Response:
    """Set one endpoint's level; htmx gets its re-rendered row (saying "Saved"), a plain form post a redirect."""
    level = parse_level(request.form)
    period, now = _period(request.form)
    view = parse_view(request.form, period)
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
        return redirect(url_for(".index", **view.query()))
    rows, _ = _rows(OverviewView(range_args=view.range_args, refresh=view.refresh), period, now, [endpoint_id])
    resp = current_app.response_class(render_template(
        "fmd/partials/_overview_row.html", **_context(view, period, rows, now, row=rows[0], saved=True)))
    resp.vary.add("HX-Request")
    return resp


@bp.post("/overview/level")
@admin_required
def set_level_bulk() -> Response:
    """Set the level of every endpoint matching the form's filter ``q``, after a confirmation.

    Without ``confirm=yes`` nothing changes: the answer states how many endpoints would change (the whole
    page, or for htmx the confirmation that replaces the bulk form). With it, the levels change and htmx gets
    the table back, a plain form a redirect to the overview with a notice. When the endpoints matching the
    filter are not the number confirmed (``expected``), the confirmation is asked again.
    """
    level = parse_level(request.form)
    period, now = _period(request.form)
    view = parse_view(request.form, period)
    state = get_state()
    with state.store.read() as conn:
        targets = queries.filter_endpoints(queries.endpoints(conn, state.store.tables), view.q)
    expected = request.form.get("expected")
    confirmed = request.form.get("confirm") == "yes"
    if confirmed and expected is not None and expected != str(len(targets)):
        confirmed = False  # an endpoint appeared (or was merged away) since the confirmation was shown
    if not confirmed:
        changing = [e for e in targets if e["level"] != level]
        ctx = {"args": view, "level": level, "level_names": LEVEL_NAMES, "targets": len(targets),
               "changing": len(changing), "already": len(targets) - len(changing),
               "stale": expected is not None and request.form.get("confirm") == "yes",
               "cancel": url_for(".index", **view.query())}
        resp = page_or_fragment("fmd/overview_confirm.html", "fmd/partials/_overview_confirm.html", **ctx)
        if is_htmx():  # the confirmation takes the bulk form's place, whichever form asked
            resp.headers["HX-Retarget"] = "#fmd-bulk"
            resp.headers["HX-Reswap"] = "outerHTML"
        return resp
    for endpoint in targets:
        try:
            state.set_level(endpoint["name"], level)
        except ValueError as exc:
            abort(400, f"{endpoint['name']!r}: {exc}")
    if not is_htmx():
        return redirect(url_for(".index", **view.query(bulk_level=level, bulk_count=len(targets))), 303)
    rows, headline = _rows(view, period, now)
    resp = current_app.response_class(render_template(
        "fmd/partials/_overview_table.html",
        **_context(view, period, rows, now, headline=headline, message=_bulk_message(level, len(targets)))))
    resp.vary.add("HX-Request")
    return resp
