"""A tiny count-per-day bar chart for one row of a list (the exception groups): no axes, a tooltip per day.

Days are placed by their index in the range (a bar from ``x`` to ``x2`` around it), so the x scale is fixed by two numbers whatever the range
and only days with occurrences travel in the spec; the skeleton is built once per process (see ``_theme``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Mapping, Sequence

from ._theme import build, slot

DATASET = "sparkline"
#: Size in pixels: small enough for a table cell.
WIDTH = 120
HEIGHT = 24
COLOR = "#c62828"


def _sparkline() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET)).mark_bar(color=COLOR)
            .encode(x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[slot("domain")], nice=False, zero=False)),
                    x2="x2",
                    # y2 = 0: with x and x2 both given, a bar without y2 would be a 5-pixel horizontal band.
                    y=alt.Y("count:Q", axis=None, scale=alt.Scale(zero=True)), y2=alt.datum(0),
                    tooltip=[alt.Tooltip("day:N", title="UTC day"),
                             alt.Tooltip("count:Q", title="Occurrences", format=",")])
            .properties(width=WIDTH, height=HEIGHT)
            .configure_view(stroke=None))


def sparkline_chart(days: Sequence[Mapping], first: str, last: str) -> dict:
    """Bars from {day (ISO date), count} rows, on an x axis from *first* to *last* (ISO dates, inclusive)."""
    start = date.fromisoformat(first)
    width = (date.fromisoformat(last) - start).days
    rows = []
    for r in days:
        i = (date.fromisoformat(str(r["day"])) - start).days
        # Each bar spans most of its day (x to x2), leaving a gap between neighbours.
        rows.append({"day": str(r["day"]), "count": int(r["count"]), "x": i - 0.4, "x2": i + 0.4})
    # Half a day of room on both sides, so the first and the last bar are drawn whole.
    # No "..." menu on a 24-pixel chart: vega-embed reads per-spec options from usermeta.embedOptions.
    return build(_sparkline, {DATASET: rows}, {"domain": [-0.5, width + 0.5]}, padding=0,
                 usermeta={"embedOptions": {"actions": False}})




TREND_DATASET = "trend"
#: The overview's sparklines: a neutral hue (red is kept for errors and exceptions).
TREND_COLOR = "#1f5fbf"


def _trend_sparkline(unit: str) -> Any:
    """The Altair chart ``TREND_SPEC`` is written from (tests/charts/test_trend_sparkline.py keeps them equal)."""
    import altair as alt

    return (alt.Chart(alt.NamedData(TREND_DATASET)).mark_bar(color=TREND_COLOR)
            # Each bar spans most of its bucket: computed in the browser, so a row sends only i, n and b.
            .transform_calculate(x="datum.i - 0.4", x2="datum.i + 0.4")
            .encode(x=alt.X("x:Q", axis=None, scale=alt.Scale(domain=[slot("domain")], nice=False, zero=False)),
                    x2="x2:Q",
                    y=alt.Y("n:Q", axis=None, scale=alt.Scale(zero=True)), y2=alt.datum(0),
                    tooltip=[alt.Tooltip("b:N", title=unit), alt.Tooltip("n:Q", title="Requests", format=",")])
            .properties(width=WIDTH, height=HEIGHT)
            .configure_view(stroke=None))


#: ``_trend_sparkline(unit).to_dict()``, written out: the overview draws a sparkline per endpoint but must not
#: import Altair (about 35 MB and 0.9 s per worker; tests/test_imports.py), so its spec is plain data.
TREND_SPEC: dict = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.4.1.json",
    "config": {"view": {"continuousWidth": 300, "continuousHeight": 300, "stroke": None}},
    "data": {"name": TREND_DATASET},
    "mark": {"type": "bar", "color": TREND_COLOR},
    "encoding": {
        "tooltip": [{"field": "b", "title": "Day", "type": "nominal"},  # or "Hour": trend_spec sets it
                    {"field": "n", "format": ",", "title": "Requests", "type": "quantitative"}],
        "x": {"axis": None, "field": "x", "scale": {"domain": [], "nice": False, "zero": False},  # trend_spec sets it
              "type": "quantitative"},
        "x2": {"field": "x2"},
        "y": {"axis": None, "field": "n", "scale": {"zero": True}, "type": "quantitative"},
        "y2": {"datum": 0}},
    "height": HEIGHT, "width": WIDTH,
    "transform": [{"calculate": "datum.i - 0.4", "as": "x"}, {"calculate": "datum.i + 0.4", "as": "x2"}]}


def trend_spec(unit: str, buckets: int) -> dict:
    """The sparkline spec without data: tooltip title *unit* ("Day", "Hour"), x axis of *buckets* bars."""
    enc = TREND_SPEC["encoding"]
    return {**TREND_SPEC, "background": "transparent", "padding": 0,
            "usermeta": {"embedOptions": {"actions": False}},  # no "..." menu on a 24-pixel chart
            "encoding": {**enc, "tooltip": [{**enc["tooltip"][0], "title": unit}, enc["tooltip"][1]],
                         "x": {**enc["x"], "scale": {**enc["x"]["scale"], "domain": [-0.5, buckets - 0.5]}}}}


def trend_rows(buckets: Mapping[int, int], labels: Sequence[str]) -> list[dict]:
    """The sparkline's rows: {i: bucket index, n: requests, b: its label}, only non-zero buckets."""
    return [{"i": i, "n": n, "b": labels[i]} for i, n in sorted(buckets.items()) if n]


#: JSON text that may sit inside <script> in HTML: the characters Jinja's |tojson escapes, escaped the same way.
_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})


def trend_sparklines_json(series: Mapping[Any, Mapping[int, int]], labels: Sequence[str],
                          unit: str = "Day") -> dict[Any, str]:
    """key -> the JSON text of a bar sparkline of {bucket index: requests}, on an x axis of *labels* (one per
    bucket), escaped for an HTML ``<script>`` like Jinja's ``|tojson``. Keys without requests get no chart.

    Text, not dicts: the overview draws one per endpoint (hundreds), and the shared spec is serialised once
    and only each row's data spliced in, which makes a row cost ~10 us instead of ~200 us through |tojson.
    """
    head = json.dumps({**trend_spec(unit, len(labels)), "datasets": None}, separators=(",", ":")).translate(_HTML_SAFE)
    head = head[:-len("null}")]  # ... "datasets": <the row's datasets>}
    out = {}
    for key, buckets in series.items():
        rows = trend_rows(buckets, labels)
        if rows:
            out[key] = head + json.dumps({TREND_DATASET: rows}, separators=(",", ":")).translate(_HTML_SAFE) + "}"
    return out
