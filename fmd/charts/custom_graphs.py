"""A custom graph's values over time: a line with a point per value, or per bucket with its min-max band.

Times arrive as naive UTC and are shown as wall-clock times in the dashboard's TIMEZONE: they travel as that
local time written as if it were UTC, on a UTC time scale, so the axis reads the same in every browser
whatever its own zone; the tooltip carries a preformatted local time. No database, no Flask.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from ._theme import build

DATASET = "values"
COLOR = "#1565c0"


def _line() -> Any:
    import altair as alt

    base = alt.Chart(alt.NamedData(DATASET))
    x = alt.X("t:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(labelOverlap=True))
    tooltip = [alt.Tooltip("when:N", title="Time"), alt.Tooltip("value:Q", title="Value", format=",.6~g")]
    line = base.mark_line(color=COLOR, point=alt.OverlayMarkDef(size=18, color=COLOR)).encode(
        x=x, y=alt.Y("value:Q", title="Value", scale=alt.Scale(zero=False)), tooltip=tooltip)
    return line.properties(width="container", height=220)


def _banded() -> Any:
    import altair as alt

    base = alt.Chart(alt.NamedData(DATASET))
    x = alt.X("t:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(labelOverlap=True))
    tooltip = [alt.Tooltip("when:N", title="From"), alt.Tooltip("value:Q", title="Mean", format=",.6~g"),
               alt.Tooltip("low:Q", title="Min", format=",.6~g"), alt.Tooltip("high:Q", title="Max", format=",.6~g"),
               alt.Tooltip("count:Q", title="Values", format=",")]
    band = base.mark_area(color=COLOR, opacity=0.18).encode(x=x, y=alt.Y("low:Q", title="Value",
                                                                        scale=alt.Scale(zero=False)), y2="high:Q")
    line = base.mark_line(color=COLOR, point=alt.OverlayMarkDef(size=10, color=COLOR)).encode(
        x=x, y="value:Q", tooltip=tooltip)
    return alt.layer(band, line).properties(width="container", height=220)


def values_chart(rows: Sequence[Mapping[str, Any]], tz: str, bucket_s: float | None = None) -> dict:
    """A spec from ``queries.custom_graphs.values`` rows (naive UTC ``time``); banded when *bucket_s* is set."""
    zone = ZoneInfo(tz)
    data = []
    for row in rows:
        local = _local(row["time"], zone)
        point = {"t": local.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "when": local.strftime("%Y-%m-%d %H:%M:%S %Z"),
                 "value": row["value"]}
        if bucket_s is not None:
            point.update(low=row["low"], high=row["high"], count=row["count"])
        data.append(point)
    builder = _banded if bucket_s is not None else _line
    return build(builder, {DATASET: data})


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    if isinstance(moment, str):  # some drivers hand MIN() of a DATETIME back as text
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc).astimezone(zone)
