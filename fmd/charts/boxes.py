"""Horizontal box plots of one endpoint's durations per category (version, user), from duration histograms.

Rows hold precomputed quantiles in ms (p5, q1, median, q3, p95) and are drawn in the order given (their
``position``); the summed "other" row and "older versions" are grey, every other category has a colour that
depends only on its name (``stable_color``), so a version looks the same on every chart.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import OTHER_COLOR, build, slot, stable_color, steps

DATASET = "boxes"
#: Category labels that stand for several summed values (drawn grey).
GREY = {"older versions"}


def _boxes(key: str, label: str) -> Any:
    import altair as alt

    base = alt.Chart(alt.NamedData(DATASET)).encode(
        y=alt.Y(f"{key}:N", title=None, sort=alt.EncodingSortField("position", op="min"),
                axis=alt.Axis(labelLimit=260)),
        tooltip=[alt.Tooltip(f"{key}:N", title=label), alt.Tooltip("hits:Q", title="Requests", format=","),
                 *(alt.Tooltip(f"{k}:Q", title=f"{name} (ms)", format=",.2f")
                   for k, name in (("p5", "p5"), ("q1", "p25"), ("median", "median"), ("q3", "p75"),
                                   ("p95", "p95")))])
    whisker = base.mark_rule().encode(
        x=alt.X("p5:Q", title="Duration (ms, log scale)", scale=alt.Scale(type="log", nice=False)), x2="p95:Q")
    box = base.mark_bar(size=14).encode(
        x="q1:Q", x2="q3:Q",
        color=alt.Color(f"{key}:N", legend=None, scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])))
    median = base.mark_tick(color="black", size=14, thickness=2).encode(x="median:Q")
    return alt.layer(whisker, box, median, title=slot("title")).properties(width="container")


def boxes_chart(rows: Sequence[Mapping], key: str, label: str, title: str) -> dict:
    """Boxes from {<key>, hits, p5, q1, median, q3, p95 (ms)[, other]} rows, drawn top to bottom in row order."""
    if key not in ("version", "user"):
        raise ValueError(f"key must be 'version' or 'user', not {key!r}")
    data = [{**row, "position": i} for i, row in enumerate(rows)]
    domain = [str(row[key]) for row in rows]
    colors = [OTHER_COLOR if row.get("other") or row[key] in GREY else stable_color(str(row[key])) for row in rows]
    return build(_boxes, {DATASET: data}, {"domain": domain, "range": colors, "title": title}, key, label,
                 height=steps(len(set(domain)), 24))
