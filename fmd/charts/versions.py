"""Multi-version utilization: the share of each endpoint's requests served by each version, as a heatmap.

Rows come from ``fmd.queries.app.hits_by_version``: endpoints busiest first (``rank``, top to bottom), the rest
summed into "other", versions oldest first (``order``, left to right). The colour is the share (light to dark,
0 to 100%) and the share is printed in each cell ("42%"): circles sized by the share, as before, made 40% and
55% look alike and showed nothing without hovering (as the users/IPs heatmaps in ``circles``). A row may carry
an ``href`` (``_theme.linked``): a click on its cell opens the endpoint's page.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import build, linked, ranked, steps

DATASET = "versions"
#: Shares from which a cell is dark enough for white text ("blues" from 0 to 1).
DARK_FROM = 0.55


def _versions() -> Any:
    import altair as alt

    rect = alt.Chart().mark_rect(stroke="#ffffff", strokeWidth=1, cursor="pointer").encode(
        color=alt.Color("share:Q", title="Share", scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format=".0%")))
    # The text colour rides in the rows (a boolean field), so no endpoint name enters an expression.
    text = alt.Chart().mark_text(fontSize=11, cursor="pointer").encode(
        text=alt.Text("share:Q", format=".0%"),
        color=alt.condition("datum.dark", alt.value("#ffffff"), alt.value("#1c2330")))
    return (alt.layer(rect, text, data=alt.NamedData(DATASET), title="Share of each endpoint's requests per version")
            .encode(x=alt.X("version:N", title="Version (oldest first)", sort=alt.EncodingSortField("order", op="min"),
                            axis=alt.Axis(labelAngle=-30, labelLimit=160, orient="top")),
                    y=alt.Y("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                            axis=alt.Axis(labelLimit=260)),
                    href=alt.Href("href:N"),  # the endpoint's page; "other" has none
                    tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"), alt.Tooltip("version:N", title="Version"),
                             alt.Tooltip("hits:Q", title="Requests", format=","),
                             alt.Tooltip("share:Q", title="Share", format=".1%")])
            .properties(width="container"))


def versions_chart(rows: Sequence[Mapping], *, links: Mapping[int, str] | None = None) -> dict:
    """A heatmap of {endpoint, endpoint_id, other, version, hits, share, order} rows (busiest first); *links*:
    endpoint id -> URL opened by a click on its cells."""
    order = list(dict.fromkeys(row["endpoint"] for row in rows))
    data = [{**row, "dark": row["share"] >= DARK_FROM} for row in ranked(linked(rows, links), order)]
    return build(_versions, {DATASET: data}, None, height=steps(len(order), 24))
