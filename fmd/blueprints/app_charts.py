"""Application-wide charts: hourly load, versions, daily load, API performance and status codes.

Each page is a date-range control plus a placeholder that loads its chart lazily (``hx-trigger="load"``)
from ``/<page>/chart``; that URL is the chart's fragment for htmx and a whole page otherwise, and
``/<page>.csv`` downloads the rows the chart was drawn from. The range (``start``/``end``, local dates in
TIMEZONE, or ``days``) is kept in every URL.
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from flask import Blueprint, Response, request, url_for

from ..charts import bars, boxplot, heatmap, versions
from ..queries import app as queries
from ..queries._range import DatePeriod, utcnow
from ._access import get_state, login_required
from ._htmx import page_or_fragment
from ._params import QUICK_DAYS, parse_period, period_args

bp = Blueprint("app_charts", __name__)


@dataclass(frozen=True)
class AppChart:
    """One application-wide chart page."""

    endpoint: str  #: view name, also the page's URL path (dashes for underscores)
    title: str
    intro: str
    query: Callable[..., list[dict]]  #: (conn, tables, period) -> rows
    draw: Callable[[list[dict], Any], dict]  #: (rows, settings) -> Vega-Lite spec


CHARTS = [
    AppChart("hourly", "Hourly load", "Requests per hour of the day, one row per day, in the dashboard's time zone.",
             queries.hits_by_hour_of_day, lambda rows, s: heatmap.heatmap_chart(rows, s.timezone)),
    AppChart("versions", "Versions", "Which version of the app served each endpoint's requests: the share per "
             "version, oldest version on the left. The busiest endpoints by name, the rest together.",
             queries.hits_by_version, lambda rows, s: versions.versions_chart(rows, s.colors)),
    AppChart("daily", "Daily load", "Requests per day, stacked per endpoint: the busiest by name, the rest together.",
             queries.hits_by_day, lambda rows, s: bars.daily_chart(rows, s.colors)),
    AppChart("performance", "API performance", "Durations per endpoint from the recorded histograms: the box "
             "spans the middle half of the requests (p25-p75), the tick is the median, the whiskers p5 and p95.",
             queries.durations_by_endpoint, lambda rows, s: boxplot.boxplot_chart(rows, s.colors)),
    AppChart("status_codes", "Status codes", "Responses per day and status code, one chart per endpoint: the "
             "endpoints with the most errors (4xx/5xx) first, then the busiest, the rest together.",
             # Every endpoint's rows: the chart ranks them by errors, so a rarely called failing one stays.
             partial(queries.status_by_day, top=sys.maxsize), lambda rows, s: bars.status_chart(rows)),
]
BY_NAME = {c.endpoint: c for c in CHARTS}


def _period() -> tuple[DatePeriod, Any]:
    state = get_state()
    return parse_period(request.args, utcnow(), state.settings.timezone), state


def _rows(chart: AppChart, period: DatePeriod, state: Any) -> list[dict]:
    with state.store.read() as conn:
        return chart.query(conn, state.store.tables, period)


def _ctx(chart: AppChart, period: DatePeriod, state: Any, **extra: Any) -> dict:
    args = period_args(period)
    quick = [(days, url_for(f".{chart.endpoint}", days=days)) for days in QUICK_DAYS]
    return {"chart": chart, "period": period, "args": args, "tz": state.settings.timezone, "quick": quick,
            "page_url": url_for(f".{chart.endpoint}", **args),
            "chart_url": url_for(f".{chart.endpoint}_chart", **args),
            "csv_url": url_for(f".{chart.endpoint}_csv", **args), **extra}


def _page(name: str) -> Callable[[], Response]:
    chart = BY_NAME[name]

    def page() -> Response:
        period, state = _period()
        return page_or_fragment("fmd/app_chart.html", "fmd/partials/_app_page.html", **_ctx(chart, period, state))

    page.__doc__ = f"The {chart.title} page: the range control and a placeholder that loads the chart."
    return page


def _chart(name: str) -> Callable[[], Response]:
    chart = BY_NAME[name]

    def chart_view() -> Response:
        period, state = _period()
        rows = _rows(chart, period, state)
        spec = chart.draw(rows, state.settings) if rows else None
        return page_or_fragment("fmd/app_chart.html", "fmd/partials/_app_chart.html",
                                **_ctx(chart, period, state, spec=spec, inline=True))

    chart_view.__doc__ = f"The {chart.title} chart: a fragment for htmx, the whole page otherwise."
    return chart_view


def _csv(name: str) -> Callable[[], Response]:
    chart = BY_NAME[name]

    def download() -> Response:
        period, state = _period()
        rows = _rows(chart, period, state)
        body = rows_to_csv(rows)
        filename = f"fmd-{chart.endpoint.replace('_', '-')}-{period.first}-{period.last}.csv"
        return Response(body, mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    download.__doc__ = f"The rows behind the {chart.title} chart, as CSV."
    return download


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    # Spreadsheets run cells that start like a formula; endpoint names and versions come from the host app.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def rows_to_csv(rows: list[dict]) -> str:
    """CSV with a header row (the keys of the first row); text cells that look like formulas are quoted."""
    out = io.StringIO()
    if rows:
        writer = csv.writer(out)
        keys = list(rows[0])
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_cell(row.get(k)) for k in keys])
    return out.getvalue()


for _c in CHARTS:
    _path = "/" + _c.endpoint.replace("_", "-")
    bp.add_url_rule(_path, _c.endpoint, login_required(_page(_c.endpoint)))
    bp.add_url_rule(f"{_path}/chart", f"{_c.endpoint}_chart", login_required(_chart(_c.endpoint)))
    bp.add_url_rule(f"{_path}.csv", f"{_c.endpoint}_csv", login_required(_csv(_c.endpoint)))
