"""API performance: a box per endpoint (p5, quartiles, median, p95), computed from duration histograms.

A row may carry an ``href`` (``_theme.linked``): a click on its box, whisker or median opens the endpoint's page.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ._theme import build, endpoint_scale, linked, ranked, slot, steps

DATASET = "durations"


def _boxplot() -> Any:
    import altair as alt

    base = alt.Chart(alt.NamedData(DATASET)).encode(
        y=alt.Y("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"), axis=alt.Axis(labelLimit=260)),
        tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"), alt.Tooltip("hits:Q", title="Requests", format=","),
                 *(alt.Tooltip(f"{k}:Q", title=f"{label} (ms)", format=",.1f")
                   for k, label in (("p5", "p5"), ("q1", "p25"), ("median", "median"), ("q3", "p75"),
                                    ("p95", "p95")))],
        href=alt.Href("href:N"))
    whisker = base.mark_rule(cursor="pointer").encode(x=alt.X("p5:Q", title="Duration (ms, log scale)", scale=alt.Scale(type="log", nice=False)),
                                      x2="p95:Q")
    box = base.mark_bar(size=14, cursor="pointer").encode(
        x="q1:Q", x2="q3:Q",
        color=alt.Color("endpoint:N", legend=None, scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])))
    median = base.mark_tick(color="black", size=14, thickness=2, cursor="pointer").encode(x="median:Q")
    return (alt.layer(whisker, box, median, title="Durations per endpoint (box p25-p75, whiskers p5-p95)")
            .properties(width="container"))


def boxplot_chart(rows: Sequence[Mapping], colors: Mapping[str, Iterable[int]] | None = None, *,
                  links: Mapping[int, str] | None = None) -> dict:
    """Boxes from precomputed {endpoint, endpoint_id, other, hits, p5, q1, median, q3, p95} rows in ms (busiest
    first); *links*: endpoint id -> URL opened by a click on its box."""
    scale = endpoint_scale(rows, colors)
    return build(_boxplot, {DATASET: ranked(linked(rows, links), scale["domain"])}, scale,
                 height=steps(len(scale["domain"]), 22))
