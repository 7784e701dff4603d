"""Application-wide charts: hourly load, versions, daily load, API performance and status codes.

Each page is a date-range control plus a placeholder that loads its chart lazily (``hx-trigger="load"``)
from ``/<page>/chart``; that URL is the chart's fragment for htmx and a whole page otherwise, and
``/<page>.csv`` downloads the rows the chart was drawn from. The range (``start``/``end``, local dates in
TIMEZONE, or ``days``) is kept in every URL.

Charts over time have the range's resolution (per hour up to 72 hours, else per local day). Drill-down: a mark
that stands for one endpoint links to that endpoint's page with the same range, and a day of the Hourly load
heatmap to this page narrowed to that day (Vega-Lite ``href``; the links are built here, see ``Drawing``).
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from flask import Blueprint, Response, request, url_for

from ..charts import bars, boxplot, heatmap, tables, versions
from ..queries import app as queries
from ..queries._range import DatePeriod, utcnow
from ._access import get_state, login_required
from ._htmx import page_or_fragment
from ._params import parse_period, period_args, quick_ranges

bp = Blueprint("app_charts", __name__)


@dataclass(frozen=True)
class AppChart:
    """One application-wide chart page."""

    endpoint: str  #: view name, also the page's URL path (dashes for underscores)
    title: str
    intro: str
    query: Callable[..., list[dict]]  #: (conn, tables, period) -> rows
    draw: Callable[[list[dict], "Drawing"], dict]  #: (rows, drawing) -> Vega-Lite spec


@dataclass(frozen=True)
class Drawing:
    """What a chart is drawn with besides its rows: settings, range, and the links of its marks."""

    settings: Any
    period: DatePeriod
    page: str  #: the chart page's view name

    @property
    def grain(self) -> str:
        return queries.grain(self.period)

    @property
    def tz(self) -> str:
        return self.settings.timezone

    def endpoint_links(self, rows: list[dict]) -> dict[int, str]:
        """endpoint id -> its page with the same range, for the endpoints of *rows* ("other" has no id)."""
        args = period_args(self.period)
        ids = {row.get("endpoint_id") for row in rows} - {None}
        return {e: url_for("endpoint.index", endpoint_id=e, **args) for e in ids}

    def day_links(self, rows: list[dict]) -> dict[str, str]:
        """local day -> this chart's page narrowed to that day."""
        return {day: url_for(f".{self.page}", start=day, end=day) for day in {row["day"] for row in rows}}


#: Said under every chart whose marks open an endpoint's page.
_CLICK = " Click an endpoint's mark to open its page with the same range."
#: Charts over time: their resolution.
_RESOLUTION = "per hour for ranges up to 72 hours, else per day"

CHARTS = [
    AppChart("hourly", "Hourly load", "Requests per hour of the day, one row per day, in the dashboard's time zone. "
             "Click a day to narrow the range to it.",
             queries.hits_by_hour_of_day,
             lambda rows, d: heatmap.heatmap_chart(rows, d.tz, day_links=d.day_links(rows))),
    AppChart("versions", "Versions", "Which version of the app served each endpoint's requests: the share per "
             "version, printed in each cell (darker is more), oldest version on the left. The busiest endpoints by "
             "name, on top, the rest together." + _CLICK,
             queries.hits_by_version,
             lambda rows, d: versions.versions_chart(rows, links=d.endpoint_links(rows))),
    AppChart("daily", "Daily load", f"Requests over time ({_RESOLUTION}), stacked per endpoint: the busiest by name, "
             "the rest together." + _CLICK, queries.hits_by_day,
             lambda rows, d: bars.daily_chart(rows, d.settings.colors, grain=d.grain, tz=d.tz,
                                              links=d.endpoint_links(rows), buckets=d.period.bucket_labels())),
    AppChart("performance", "API performance", "Durations per endpoint from the recorded histograms: the box "
             "spans the middle half of the requests (p25-p75), the tick is the median, the whiskers p5 and p95."
             + _CLICK, queries.durations_by_endpoint,
             lambda rows, d: boxplot.boxplot_chart(rows, d.settings.colors, links=d.endpoint_links(rows))),
    AppChart("status_codes", "Status codes", f"Responses per status code over time ({_RESOLUTION}), one chart per "
             "endpoint: the endpoints with the most errors (4xx/5xx) first, then the busiest, the rest together. "
             "“no route matched” counts the requests whose URL matched no route of the app (so no endpoint), "
             "per status code." + _CLICK,
             # Every endpoint's rows: the chart ranks them by errors, so a rarely called failing one stays.
             partial(queries.status_by_day, top=sys.maxsize),
             lambda rows, d: bars.status_chart(rows, grain=d.grain, tz=d.tz, links=d.endpoint_links(rows),
                                               buckets=d.period.bucket_labels())),
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
    quick = quick_ranges(f".{chart.endpoint}")
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
        spec = chart.draw(rows, Drawing(state.settings, period, chart.endpoint)) if rows else None
        chart_table = tables.for_app_chart(chart.endpoint, rows, state.settings.timezone) if spec else None
        return page_or_fragment("fmd/app_chart.html", "fmd/partials/_app_chart.html",
                                **_ctx(chart, period, state, spec=spec, inline=True, chart_table=chart_table))

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
