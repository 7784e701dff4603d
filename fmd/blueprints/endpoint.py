"""One endpoint's page: a header (name, routes, methods, level, figures over the range) and tabs of charts.

Every tab has its own URL (``/endpoint/<id>/<tab>``, ``/endpoint/<id>`` is the first tab) that answers in
three sizes: the whole page for a plain request (and an htmx history restore); for htmx, only the tabs
(``#fmd-tabs``: the tab bar and the panel) when a tab link asked, or the whole section (``#fmd-endpoint``:
header figures, range control and tabs) when the range control asked, which htmx says with
``HX-Target: fmd-endpoint``. Hence ``Vary: HX-Request, HX-Target``. The range (``start``/``end`` or ``days``,
as on the chart pages) is kept in every URL and link. ``/endpoint/<id>/<tab>.csv`` downloads a chart tab's
rows; the Outliers and Exceptions tabs bring their own panel, paging and downloads (fmd.blueprints.endpoint_*).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from flask import Blueprint, Response, abort, current_app, make_response, redirect, render_template, request, url_for
from sqlalchemy import Connection

from ..charts import boxes, circles, heatmap, status_time, tables
from ..queries import endpoint as q
from ..queries._range import DatePeriod, utcnow
from ..store.models import Tables
from ._access import admin_required, get_state, is_admin, login_required
from ._htmx import is_htmx
from ._params import parse_level, parse_period, parse_refresh, period_args, quick_ranges, refresh_choices
from ._tabs import Loader, Tab, endpoint_or_404
from .app_charts import rows_to_csv
from .endpoint_exceptions import EXCEPTIONS_TAB
from .endpoint_outliers import OUTLIERS_TAB
from .endpoint_profiler import GROUPED_TAB, PROFILER_TAB
from .overview import LEVEL_NAMES

bp = Blueprint("endpoint", __name__)

#: The htmx target id for which a tab URL answers with the whole section instead of only the tabs.
SECTION = "fmd-endpoint"


def _hourly(conn: Connection, t: Tables, eid: int, period: DatePeriod) -> tuple[list[dict], None]:
    rows = q.hits_by_hour_of_day(conn, t, eid, period.utc, period.tz)
    # Only the range's local days, as on the Hourly load page: a fractional-offset zone's days widen to whole UTC
    # hours, whose extra hour would add a row for the day before (India: 23:30 to 00:30).
    first, last = period.first.isoformat(), period.last.isoformat()
    rows = [row for row in rows if first <= row["day"] <= last]
    return (rows if any(row["hits"] for row in rows) else []), None


def _hourly_chart(rows: list[dict], period: DatePeriod) -> dict:
    """The heatmap; a click on a day opens this tab narrowed to that day."""
    eid = request.view_args["endpoint_id"]  # type: ignore[index]  # drawn inside this endpoint's view
    days = {row["day"] for row in rows}
    links = {day: url_for(".hourly", endpoint_id=eid, start=day, end=day) for day in days}
    return heatmap.heatmap_chart(rows, period.tz, day_links=links)


def _status(conn: Connection, t: Tables, eid: int, period: DatePeriod) -> tuple[list[dict], list[dict]]:
    # Per hour up to 72 hours, else per local day (DatePeriod.hourly), as on the Status codes page.
    return q.status_by_bucket(conn, t, eid, period), q.status_table(conn, t, eid, period.utc)


def _only(query: Callable[..., list[dict]]) -> Loader:
    return lambda conn, t, eid, period: (query(conn, t, eid, period.utc), None)


TABS = [
    Tab("hourly", "Hourly load", "Requests of this endpoint per hour of the day, one row per day, in the dashboard's "
        "time zone. Click a day to narrow the range to it.", _hourly, _hourly_chart),
    Tab("users", "Users × versions", f"Mean duration per user (group_by) and version: the darker the cell, the "
        f"slower; the value is printed in each cell. Busiest users on top, oldest version on the left. The {q.TOP} "
        "busiest users by name, the rest together as “other”. Per-user figures are kept per UTC day.",
        _only(q.users_by_version),
        lambda rows, p: circles.circles_chart(rows, "user", "User", "Mean duration per user and version"),
        daily=True),
    Tab("ips", "IPs × versions", f"Mean duration per client IP address and version: the darker the cell, the "
        f"slower; the value is printed in each cell. Busiest IPs on top, oldest version on the left. The {q.TOP} "
        "busiest IPs by address, the rest together as “other”. Per-IP figures are kept per UTC day.",
        _only(q.ips_by_version),
        lambda rows, p: circles.circles_chart(rows, "ip", "IP address", "Mean duration per IP address and version"),
        daily=True),
    Tab("version_performance", "Per-version performance", "Durations per version, oldest at the top: the box spans "
        "the middle half of the requests (p25-p75), the tick is the median, the whiskers p5 and p95.",
        _only(q.durations_by_version),
        lambda rows, p: boxes.boxes_chart(rows, "version", "Version", "Durations per version")),
    Tab("user_performance", "Per-user performance", f"Durations per user (group_by), busiest first: box p25-p75, "
        f"tick the median, whiskers p5 and p95. The {q.TOP} busiest users by name, the rest together.",
        _only(q.durations_by_user),
        lambda rows, p: boxes.boxes_chart(rows, "user", "User", "Durations per user"),
        daily=True),
    Tab("status_codes", "Status codes", "Responses per status code over time (per hour for ranges up to 72 hours, "
        "else per day), and the share of each code.",
        _status, lambda rows, p: status_time.status_time_chart(
            rows, "Responses per status code", f"{'Hour' if p.hourly else 'Day'} ({p.tz})", p.bucket_labels()),
        "fmd/partials/_endpoint_status.html"),
    Tab("versions", "Versions", "Every version that served this endpoint in the range, oldest first, with the "
        "change of its median against the previous version.", _only(q.versions_table), None,
        "fmd/partials/_endpoint_versions.html"),
]
# Level 2 (issue 9): tabs with their own paging, rows that expand and downloads; their modules own them.
TABS += [OUTLIERS_TAB, EXCEPTIONS_TAB, PROFILER_TAB, GROUPED_TAB]
BY_NAME = {tab.name: tab for tab in TABS}


def host_routes(name: str) -> list[dict]:
    """The host app's URL rules for endpoint *name*: {rule, methods} (HEAD and OPTIONS left out)."""
    host = getattr(get_state(), "host_app", None)
    if host is None:
        return []
    return [{"rule": rule.rule, "methods": sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})}
            for rule in host.url_map.iter_rules() if rule.endpoint == name]


def _scope() -> str:
    """"page", "section" or "tabs": how much of the page this request wants (see the module docstring)."""
    if not is_htmx():
        return "page"
    return "section" if request.headers.get("HX-Target") == SECTION else "tabs"



def _render(tab: Tab, endpoint_id: int) -> Response:
    state = get_state()
    period = parse_period(request.args, utcnow(), state.settings.timezone)
    scope = _scope()
    with state.store.read() as conn:
        t = state.store.tables
        endpoint = endpoint_or_404(conn, t, endpoint_id)
        rows, table = tab.load(conn, t, endpoint_id, period) if tab.load else ([], None)
        extra = tab.panel(conn, t, endpoint, period, request.args) if tab.panel else {}
        header = q.header(conn, t, endpoint_id, period.utc) if scope != "tabs" else None
    spec = tab.draw(rows, period) if rows and tab.draw else None
    chart_table = tables.for_endpoint_tab(tab.name, rows, endpoint["name"], period.tz) if spec else None
    ctx = _context(tab, endpoint, period, header=header, rows=rows, table=table, spec=spec, chart_table=chart_table,
                   range_oob=scope == "tabs", refresh=parse_refresh(request.args), day_note=_day_note(tab, period),
                   **extra)
    template = {"page": "fmd/endpoint.html", "section": "fmd/partials/_endpoint_page.html",
                "tabs": "fmd/partials/_endpoint_tabs.html"}[scope]
    resp = make_response(render_template(template, **ctx))
    resp.vary.add("HX-Request")
    resp.vary.add("HX-Target")
    return resp


def _day_note(tab: Tab, period: DatePeriod) -> str | None:
    """What a tab read from per-UTC-day rollups covers, when that is not exactly the range (else None)."""
    if not tab.daily:
        return None
    first, end = q.day_span(period.utc)
    if (first, end) == (period.utc.start, period.utc.end):
        return None
    last = end - timedelta(days=1)
    days = f"the UTC day {first:%Y-%m-%d}" if first == last else f"the UTC days {first:%Y-%m-%d} to {last:%Y-%m-%d}"
    return (f"Per-user and per-IP figures are kept per UTC day, so this tab counts {days}, not exactly "
            f"{period.describe()} ({period.tz}) as the header does.")


def _context(tab: Tab, endpoint: dict, period: DatePeriod, refresh: int = 0, **extra: Any) -> dict:
    eid = endpoint["id"]
    args = period_args(period)
    kept = {**args, **({"refresh": refresh} if refresh else {})}  # what tab and range links keep
    here = url_for(f".{tab.name}", endpoint_id=eid)
    return {"tab": tab, "tabs": TABS, "endpoint": endpoint, "period": period, "args": args, "tz": period.tz,
            "now": utcnow(), "here": here, "section_id": SECTION, "refresh": refresh,
            "quick": quick_ranges(f".{tab.name}", endpoint_id=eid, **kept),
            "refresh_choices": refresh_choices(f".{tab.name}", endpoint_id=eid, **args),
            "poll_url": url_for(f".{tab.name}", endpoint_id=eid, **kept),
            "tab_urls": {t.name: url_for(f".{t.name}", endpoint_id=eid, **kept) for t in TABS},
            "csv_url": url_for(f".{tab.name}_csv", endpoint_id=eid, **args) if tab.load else None,
            "routes": host_routes(endpoint["name"]), "level_names": LEVEL_NAMES, "no_value": q.NO_VALUE,
            "can_edit": is_admin(), **extra}


def _tab_view(tab: Tab) -> Callable[[int], Response]:
    def view(endpoint_id: int) -> Response:
        return _render(tab, endpoint_id)

    view.__doc__ = f"The {tab.title} tab of one endpoint: the whole page, the section or the tabs (see module)."
    return view


def _csv_view(tab: Tab) -> Callable[[int], Response]:
    def download(endpoint_id: int) -> Response:
        state = get_state()
        period = parse_period(request.args, utcnow(), state.settings.timezone)
        with state.store.read() as conn:
            endpoint_or_404(conn, state.store.tables, endpoint_id)
            rows, _ = tab.load(conn, state.store.tables, endpoint_id, period)
        filename = f"fmd-endpoint-{endpoint_id}-{tab.path}-{period.first}-{period.last}.csv"
        return Response(rows_to_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    download.__doc__ = f"The rows behind one endpoint's {tab.title} tab, as CSV."
    return download


@bp.get("/endpoint/<int:endpoint_id>")
@login_required
def index(endpoint_id: int) -> Response:
    """The endpoint page, showing its first tab."""
    return _render(TABS[0], endpoint_id)


@bp.post("/endpoint/<int:endpoint_id>/level")
@admin_required
def set_level(endpoint_id: int) -> Response:
    """Set this endpoint's monitoring level; htmx gets the re-rendered control, a plain post a redirect back."""
    level = parse_level(request.form)
    state = get_state()
    with state.store.read() as conn:
        endpoint = endpoint_or_404(conn, state.store.tables, endpoint_id)
    try:
        state.set_level(endpoint["name"], level)
    except ValueError as exc:
        abort(400, str(exc))
    if not is_htmx():
        return redirect(url_for(".index", endpoint_id=endpoint_id), 303)
    resp = current_app.response_class(render_template(
        "fmd/partials/_endpoint_level.html", endpoint={**endpoint, "level": level}, level_names=LEVEL_NAMES,
        can_edit=True))
    resp.vary.add("HX-Request")
    return resp


for _tab in TABS:
    bp.add_url_rule(f"/endpoint/<int:endpoint_id>/{_tab.path}", _tab.name, login_required(_tab_view(_tab)))
    if _tab.load is None:
        continue
    bp.add_url_rule(f"/endpoint/<int:endpoint_id>/{_tab.path}.csv", f"{_tab.name}_csv",
                    login_required(_csv_view(_tab)))
