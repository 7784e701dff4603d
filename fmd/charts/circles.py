"""Multi-version performance of one endpoint: a heatmap of (user or IP) x version, the mean duration in each cell.

Rows come from ``fmd.queries.endpoint.users_by_version`` / ``ips_by_version``: the busiest values by name (in
``rank`` order, busiest on top), the rest summed into one "other" row, versions oldest first (``order``, left to
right). The colour is the mean duration (a sequential scale from 0 ms, darker is slower) and the mean is also
printed in each cell ("83 ms", "1.2 s"): circle areas made 83 ms and 113 ms look alike and showed nothing
without hovering. Hover shows the exact requests and mean. (The module keeps its old name; the dataset too,
``circles``, which the page tests read.)
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import build, slot, steps
from .tables import short_duration

DATASET = "circles"
#: The colour scheme of the mean duration: light (fast) to dark (slow).
SCHEME = "blues"
#: Above this share of the largest mean the cell is dark enough for white text ("blues" from 0).
DARK_FROM = 0.55


def _cells(key: str, label: str) -> Any:
    import altair as alt

    rect = alt.Chart().mark_rect(stroke="#ffffff", strokeWidth=1).encode(
        color=alt.Color("mean_ms:Q", title="Mean duration (ms)",
                        scale=alt.Scale(scheme=SCHEME, zero=True, nice=False),
                        legend=alt.Legend(format=",.0f")))
    # The text colour rides in the rows (a boolean field), so no user-supplied text enters an expression.
    text = alt.Chart().mark_text(fontSize=11).encode(
        text=alt.Text("label:N"),
        color=alt.condition("datum.dark", alt.value("#ffffff"), alt.value("#1c2330")))
    return (alt.layer(rect, text, data=alt.NamedData(DATASET), title=slot("title"))
            .encode(x=alt.X("version:N", title="Version (oldest first)",
                            sort=alt.EncodingSortField("order", op="min"),
                            axis=alt.Axis(labelAngle=-30, labelLimit=160, orient="top")),
                    y=alt.Y(f"{key}:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                            axis=alt.Axis(labelLimit=260)),
                    tooltip=[alt.Tooltip(f"{key}:N", title=label), alt.Tooltip("version:N", title="Version"),
                             alt.Tooltip("hits:Q", title="Requests", format=","),
                             alt.Tooltip("mean_ms:Q", title="Mean duration (ms)", format=",.2f")])
            .properties(width="container"))


def circles_chart(rows: Sequence[Mapping], key: str, label: str, title: str) -> dict:
    """A heatmap from {<key>, other, version, hits, mean_ms, rank, order} rows; *key* is "user" or "ip".

    Each row gains ``label`` (the mean as printed in its cell) and ``dark`` (white text on a dark cell).
    """
    if key not in ("user", "ip"):
        raise ValueError(f"key must be 'user' or 'ip', not {key!r}")
    slowest = max((float(row["mean_ms"]) for row in rows), default=0.0)
    data = [{**row, "label": short_duration(row["mean_ms"]),
             "dark": slowest > 0 and float(row["mean_ms"]) >= DARK_FROM * slowest} for row in rows]
    return build(_cells, {DATASET: data}, {"title": title}, key, label,
                 height=steps(len({row[key] for row in rows}), 30))
