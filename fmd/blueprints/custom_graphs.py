"""The Custom graphs page: every graph added with ``fmd.add_graph``, its schedule, last value and last error,
and its values over the shared date range (a chart loaded lazily per graph, and a CSV download).

URLs: ``/custom-graphs`` (the page; its fragment for htmx), ``/custom-graphs/<id>/chart`` (one graph's chart:
the fragment for htmx, the page with that chart drawn otherwise), ``/custom-graphs/<id>.csv`` (every tick of
the range, failed ones included). The range (``start``/``end`` or ``days``) is kept in every URL.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from flask import Blueprint, Response, abort, request, stream_with_context, url_for

from ..charts import tables
from ..charts.custom_graphs import values_chart
from ..queries import custom_graphs as queries
from ..queries._range import DatePeriod, utcnow
from ._access import get_state, login_required
from ._htmx import page_or_fragment
from ._params import parse_period, period_args, quick_ranges
from .app_charts import _cell

bp = Blueprint("custom_graphs", __name__)


def _period() -> tuple[DatePeriod, Any]:
    state = get_state()
    return parse_period(request.args, utcnow(), state.settings.timezone), state


def _local_graphs(state: Any) -> list:
    """Graphs defined in this process for this app (some may not have ticked yet)."""
    runner = getattr(state.recorder, "graphs", None)
    return list(runner.graphs.values()) if runner is not None else []


def _context(period: DatePeriod, state: Any, specs: dict[int, Any] | None = None) -> dict:
    utc = period.utc
    with state.store.read() as conn:
        stored = queries.list_graphs(conn, state.store.tables)
        counts = queries.counts_between(conn, state.store.tables, utc.start, utc.end)
    titles = {g["title"] for g in stored}
    waiting = [g for g in _local_graphs(state) if g.title not in titles]
    args = period_args(period)
    graphs = []
    for row in stored:
        in_range = counts.get(row["id"], {})
        graphs.append({**row, "ok_in_range": in_range.get("ok", 0),
                       "failed_in_range": sum(in_range.get(o, 0) for o in queries.FAILED),
                       "chart_url": url_for(".chart", graph_id=row["id"], **args),
                       "csv_url": url_for(".download", graph_id=row["id"], **args)})
    return {"graphs": graphs, "waiting": waiting, "period": period, "args": args, "tz": state.settings.timezone,
            "quick": quick_ranges(".index"), "specs": specs or {},
            "running": bool(getattr(getattr(state.recorder, "graphs", None), "running", False))}


@bp.get("/custom-graphs")
@login_required
def index() -> Response:
    """Every custom graph with its summary; each chart loads lazily."""
    period, state = _period()
    return page_or_fragment("fmd/custom_graphs.html", "fmd/partials/_custom_graphs_page.html",
                            **_context(period, state))


def _spec(state: Any, graph_id: int, period: DatePeriod) -> dict | None:
    utc = period.utc
    with state.store.read() as conn:
        found = queries.graph(conn, state.store.tables, graph_id)
        if found is None:
            abort(404, "There is no custom graph with this id.")
        rows, bucket = queries.values(conn, state.store.tables, graph_id, utc.start, utc.end)
    if not rows:
        return None
    return {"spec": values_chart(rows, state.settings.timezone, bucket), "bucket": bucket, "points": len(rows),
            "table": tables.for_custom_graph(found["title"], rows, state.settings.timezone, bucket is not None)}


@bp.get("/custom-graphs/<int:graph_id>/chart")
@login_required
def chart(graph_id: int) -> Response:
    """One graph's chart: the fragment for htmx, the whole page (this chart drawn) otherwise."""
    period, state = _period()
    drawn = _spec(state, graph_id, period)
    ctx = _context(period, state, {graph_id: drawn or {}})
    graph = next(g for g in ctx["graphs"] if g["id"] == graph_id)
    return page_or_fragment("fmd/custom_graphs.html", "fmd/partials/_custom_graphs_chart.html", graph=graph, **ctx)


@bp.get("/custom-graphs/<int:graph_id>.csv")
@login_required
def download(graph_id: int) -> Response:
    """Every tick of the graph in the range (failed ones too) as CSV, streamed."""
    period, state = _period()
    utc = period.utc
    with state.store.read() as conn:
        found = queries.graph(conn, state.store.tables, graph_id)
    if found is None:
        abort(404, "There is no custom graph with this id.")

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["tick_utc", "outcome", "value", "duration_s", "error"])
        with state.store.read() as conn:
            for n, row in enumerate(queries.iter_rows(conn, state.store.tables, graph_id, utc.start, utc.end)):
                writer.writerow([row["tick"].isoformat(), row["outcome"], "" if row["value"] is None else
                                 repr(row["value"]), "" if row["duration"] is None else f"{row['duration']:.6f}",
                                 _cell(row["error"] or "")])
                if n % 500 == 0:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        yield out.getvalue()

    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in found["title"].lower()).strip("-")[:60] or "graph"
    filename = f"fmd-graph-{slug}-{period.first}-{period.last}.csv"
    return Response(stream_with_context(lines()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
