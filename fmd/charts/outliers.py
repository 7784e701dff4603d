"""Charts of one endpoint's outliers: CPU per core as box plots, and memory over time.

``cpu_chart`` takes ``fmd.queries.outliers.cpu_boxes`` rows (quantiles already computed, so the page carries a
few numbers per core, not every sample). ``memory_chart`` takes ``memory_points`` rows and the dashboard's time
zone: the process RSS (MB, left axis) and the system's memory use (%, right axis) per outlier.

Times: each point's time is sent as its wall-clock time in TIMEZONE, written as if it were UTC, and the x scale
is a UTC scale. The axis then shows the dashboard's local time whatever the browser's own zone is (a plain
local ISO string would be read in the browser's zone and shift across its DST changes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from ..queries._range import to_local
from ._theme import build, steps

CPU = "outlier_cpu"
MEMORY = "outlier_memory"
RSS_COLOR = "#1f5fbf"
SYSTEM_COLOR = "#ef6c00"


def _cpu() -> Any:
    import altair as alt

    base = alt.Chart(alt.NamedData(CPU)).encode(
        x=alt.X("label:N", title="CPU core", sort=alt.EncodingSortField("core", op="min"),
                axis=alt.Axis(labelAngle=0)),
        tooltip=[alt.Tooltip("label:N", title="Core"), alt.Tooltip("outliers:Q", title="Outliers", format=","),
                 *(alt.Tooltip(f"{key}:Q", title=f"{name} (%)", format=".1f")
                   for key, name in (("min", "min"), ("q1", "p25"), ("median", "median"), ("q3", "p75"),
                                     ("max", "max"), ("mean", "mean")))])
    whisker = base.mark_rule().encode(
        y=alt.Y("min:Q", title="CPU use (%)", scale=alt.Scale(domain=[0, 100], clamp=True)), y2="max:Q")
    box = base.mark_bar(size=18, color=RSS_COLOR, opacity=0.75).encode(y="q1:Q", y2="q3:Q")
    median = base.mark_tick(color="black", size=18, thickness=2).encode(y="median:Q")
    return alt.layer(whisker, box, median, title="CPU use per core when the outliers were captured")


def cpu_chart(rows: Sequence[Mapping]) -> dict:
    """Vertical boxes (min-max whiskers, p25-p75 box, median tick) from ``cpu_boxes`` rows, one per core."""
    data = [{**row, "label": f"core {row['core']}"} for row in rows]
    # Wide enough per core to stay readable when a host has dozens of cores; a container width otherwise.
    width: Any = "container" if len(data) <= 32 else steps(len(data), 22)
    return build(_cpu, {CPU: data}, width=width, height=260)


def _memory() -> Any:
    import altair as alt

    x = alt.X("time:T", title=None, scale=alt.Scale(type="utc"), axis=alt.Axis(format="%m-%d %H:%M", labelAngle=-45))
    tooltip = [alt.Tooltip("label:N", title="Time"), alt.Tooltip("rss_mb:Q", title="Process RSS (MB)", format=",.1f"),
               alt.Tooltip("system_percent:Q", title="System memory used (%)", format=".1f")]
    base = alt.Chart(alt.NamedData(MEMORY)).encode(x=x, tooltip=tooltip)
    rss = base.mark_line(point=True, color=RSS_COLOR).encode(
        y=alt.Y("rss_mb:Q", title="Process RSS (MB)", axis=alt.Axis(titleColor=RSS_COLOR)))
    system = base.mark_line(point=True, color=SYSTEM_COLOR, strokeDash=[4, 3]).encode(
        y=alt.Y("system_percent:Q", title="System memory used (%)", scale=alt.Scale(domain=[0, 100]),
                axis=alt.Axis(titleColor=SYSTEM_COLOR, orient="right")))
    return (alt.layer(rss, system, title="Memory when the outliers were captured")
            .resolve_scale(y="independent").properties(width="container", height=260))


def _wall_clock(moment: datetime, tz: str) -> str:
    return to_local(moment, tz).strftime("%Y-%m-%dT%H:%M:%SZ")  # local wall time on a UTC scale: see module


def memory_chart(rows: Sequence[Mapping], tz: str) -> dict:
    """RSS (MB) and system memory (%) per outlier over time from ``memory_points`` rows (naive UTC times)."""
    data = [{"id": row["id"], "time": _wall_clock(row["time_requested"], tz),
             "label": to_local(row["time_requested"], tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
             "rss_mb": row["rss_mb"], "system_percent": row["system_percent"]} for row in rows]
    return build(_memory, {MEMORY: data})
