"""The Outliers tab of the endpoint page (level 2): a page of outliers, each row expanding into its details,
CPU and memory charts, and CSV / JSON downloads.

The tab itself is served by ``fmd.blueprints.endpoint`` (``/endpoint/<id>/outliers``, in its three sizes), which
calls ``panel`` for this tab's context. This module's own routes:

* ``/endpoint/<id>/outliers/<outlier_id>``: one outlier; for htmx the detail ``<tr>`` that a row's link swaps in
  below itself, otherwise a whole page (so the link works without JavaScript);
* ``/endpoint/<id>/outliers.csv`` and ``.json``: the newest ``DOWNLOAD_LIMIT`` outliers of the range.

``?page=N`` picks a page (newest first); a page past the end shows the last one; a page that is not a whole
number from 1 is a 400. The range arguments are those of every endpoint tab and stay in every link.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any, Mapping

from flask import Blueprint, Response, abort, request, url_for
from sqlalchemy import Connection

from ..charts import tables
from ..charts.outliers import cpu_chart, memory_chart
from ..queries import outliers as q
from ..queries._range import DatePeriod, utcnow
from ..store.models import Tables
from ._access import get_state, login_required
from ._htmx import page_or_fragment
from ._params import parse_period, period_args
from ._tabs import Tab, endpoint_or_404
from .app_charts import rows_to_csv

bp = Blueprint("endpoint_outliers", __name__)

#: The lowest monitoring level that captures outliers.
CAPTURE_LEVEL = 2
_PAGE = re.compile(r"[0-9]{1,9}")


def parse_page(args: Mapping[str, str]) -> int:
    """``page``: a whole number from 1 (default 1), or a 400 saying so."""
    raw = args.get("page")
    if raw is None or raw == "":
        return 1
    if not _PAGE.fullmatch(raw) or int(raw) < 1:
        abort(400, f"page must be a whole number from 1, not {raw[:40]!r}.")
    return int(raw)


def fold_frames(frames: Any) -> list[dict]:
    """Stack frames (outermost first) in runs: {"app": True, "frames": [one]} per application frame, and
    {"app": False, "frames": [...]} for each run of consecutive library frames (shown folded)."""
    runs: list[dict] = []
    for frame in frames if isinstance(frames, list) else []:
        if not isinstance(frame, dict):
            continue
        app = bool(frame.get("app"))
        if app or not runs or runs[-1]["app"]:
            runs.append({"app": app, "frames": [frame]})
        else:
            runs[-1]["frames"].append(frame)
    return runs


def _pairs(value: Any) -> list[tuple[str, str]]:
    """[[name, value]...] (headers, query, form) as text pairs; anything else stored there shows as one value."""
    if not isinstance(value, list):
        return [] if value is None else [("", json.dumps(value))]
    return [(str(item[0]), str(item[1])) if isinstance(item, list) and len(item) == 2 else ("", json.dumps(item))
            for item in value]


def _json_text(body: Any) -> str | None:
    """A request's JSON body for reading; None when there was none (or it was left out, which ``cut`` says).

    A body too long to keep is stored as its shortened serialisation, a string: that is shown as it is.
    """
    if body is None or body == "":
        return None
    return body if isinstance(body, str) else json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False)


def _link_args(period: DatePeriod, **more: Any) -> dict:
    return {**period_args(period), **more}


def panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    """The tab's context: one page of outliers, the charts, the download links, whether the level captures."""
    page = parse_page(args)
    eid, rng = endpoint["id"], period.utc
    total = q.count_outliers(conn, t, eid, rng)
    pages = max(1, math.ceil(total / q.PAGE_SIZE))
    page = min(page, pages)  # past the end: the last page, so an old link still shows something
    rows = q.outliers_page(conn, t, eid, rng, page) if total else []
    resources = q.resources_of_newest(conn, t, eid, rng) if total else []
    cpu, memory = q.cpu_boxes(resources), q.memory_points(resources)

    def page_url(n: int) -> str:
        return url_for("endpoint.outliers", endpoint_id=eid, **_link_args(period, page=n))

    return {"outliers": {
        "rows": rows, "total": total, "page": page, "pages": pages, "size": q.PAGE_SIZE,
        "first_number": (page - 1) * q.PAGE_SIZE + 1,
        "capturing": endpoint["level"] >= CAPTURE_LEVEL,
        "prev_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page < pages else None,
        "first_url": page_url(1), "last_url": page_url(pages),
        "cpu_spec": cpu_chart(cpu) if cpu else None,
        "memory_spec": memory_chart(memory, period.tz) if memory else None,
        "cpu_table": tables.for_outliers_cpu(cpu), "memory_table": tables.for_outliers_memory(memory, period.tz),
        "charted": len(resources), "chart_limit": q.CHART_LIMIT, "download_limit": q.DOWNLOAD_LIMIT,
        "csv_url": url_for("endpoint_outliers.download_csv", endpoint_id=eid, **period_args(period)),
        "json_url": url_for("endpoint_outliers.download_json", endpoint_id=eid, **period_args(period)),
    }}



@bp.get("/endpoint/<int:endpoint_id>/outliers/<int:outlier_id>")
@login_required
def detail(endpoint_id: int, outlier_id: int) -> Response:
    """One outlier: the detail row for htmx (swapped in below its row), a whole page otherwise."""
    state = get_state()
    period = parse_period(request.args, utcnow(), state.settings.timezone)
    with state.store.read() as conn:
        t = state.store.tables
        endpoint = endpoint_or_404(conn, t, endpoint_id)
        outlier = q.outlier_by_id(conn, t, endpoint_id, outlier_id)
    if outlier is None:
        abort(404, f"The endpoint “{endpoint['name']}” has no outlier with id {outlier_id}: it belongs to another "
                   "endpoint, or retention or a purge removed it.")
    values = outlier["request_values"] if isinstance(outlier["request_values"], dict) else {}
    environment = outlier["request_environment"]
    ctx = {"endpoint": endpoint, "o": outlier, "period": period, "tz": period.tz, "now": utcnow(),
           "runs": fold_frames(outlier["stacktrace"]),
           "query": _pairs(values.get("query")), "form": _pairs(values.get("form")),
           "json_body": _json_text(values.get("json")),
           # A stack too large to keep is stored as {"cut": "..."} (fmd.instrument.prepare).
           "stack_cut": outlier["stacktrace"].get("cut") if isinstance(outlier["stacktrace"], dict) else None,
           "headers": _pairs(outlier["request_headers"]),
           "environment": sorted((str(k), str(v)) for k, v in environment.items())
           if isinstance(environment, dict) else [],
           "cores": [v for v in outlier["cpu_percent"] if isinstance(v, (int, float))]
           if isinstance(outlier["cpu_percent"], list) else [],
           "memory": outlier["memory"] if isinstance(outlier["memory"], dict) else {},
           "cut": [str(c) for c in outlier["cut"]] if isinstance(outlier["cut"], list) else [],
           "back_url": url_for("endpoint.outliers", endpoint_id=endpoint_id, **period_args(period))}
    return page_or_fragment("fmd/endpoint_outlier.html", "fmd/partials/_outlier_detail.html", **ctx)


def _download(endpoint_id: int) -> tuple[list[dict], bool, DatePeriod, str]:
    state = get_state()
    period = parse_period(request.args, utcnow(), state.settings.timezone)
    with state.store.read() as conn:
        endpoint_or_404(conn, state.store.tables, endpoint_id)
        rows, more = q.outliers_for_download(conn, state.store.tables, endpoint_id, period.utc)
    return rows, more, period, f"fmd-endpoint-{endpoint_id}-outliers-{period.first}-{period.last}"


def _utc_text(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def _headers(name: str, more: bool, count: int) -> dict[str, str]:
    # The limit travels in headers so the CSV stays one header row plus data rows.
    return {"Content-Disposition": f'attachment; filename="{name}"', "X-FMD-Limit": str(q.DOWNLOAD_LIMIT),
            "X-FMD-Rows": str(count), "X-FMD-Truncated": "true" if more else "false"}


@bp.get("/endpoint/<int:endpoint_id>/outliers.csv")
@login_required
def download_csv(endpoint_id: int) -> Response:
    """The newest outliers of the range as CSV: stored columns, the JSON ones as JSON text, times in UTC."""
    rows, more, _, name = _download(endpoint_id)
    flat = [{**row, "time_requested": _utc_text(row["time_requested"])} for row in rows]
    return Response(rows_to_csv(flat), mimetype="text/csv", headers=_headers(f"{name}.csv", more, len(rows)))


@bp.get("/endpoint/<int:endpoint_id>/outliers.json")
@login_required
def download_json(endpoint_id: int) -> Response:
    """The newest outliers of the range as JSON, the stored JSON columns parsed, times in UTC."""
    rows, more, period, name = _download(endpoint_id)
    body = {"endpoint_id": endpoint_id, "start": period.first.isoformat(), "end": period.last.isoformat(),
            "timezone": period.tz, "limit": q.DOWNLOAD_LIMIT, "truncated": more,
            "note": (f"Only the newest {q.DOWNLOAD_LIMIT:,} outliers of the range are included." if more else None),
            "outliers": [{**row, "time_requested": _utc_text(row["time_requested"]),
                          **{c: q.parse_json(row[c]) for c in q.JSON_COLUMNS}} for row in rows]}
    return Response(json.dumps(body), mimetype="application/json", headers=_headers(f"{name}.json", more, len(rows)))


OUTLIERS_TAB = Tab(
    "outliers", "Outliers", "Requests much slower than this endpoint's average, newest first, each captured with "
    "its stack, request and the process's CPU and memory. Open a row for its details.",
    None, None, "fmd/partials/_endpoint_outliers.html", panel)
