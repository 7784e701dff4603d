"""Multi-version utilization: the share of each endpoint's requests served by each version.

A row may carry an ``href`` (``_theme.linked``): a click on its circle opens the endpoint's page.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ._theme import build, endpoint_scale, linked, ranked, slot, steps

DATASET = "versions"


def _versions() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title="Share of each endpoint's requests per version")
            .mark_circle(opacity=0.85, cursor="pointer")
            .encode(x=alt.X("version:N", title="Version (oldest first)", axis=alt.Axis(labelAngle=-30),
                            sort=alt.EncodingSortField("order", op="min")),
                    y=alt.Y("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                            axis=alt.Axis(labelLimit=260)),
                    size=alt.Size("share:Q", title="Share", scale=alt.Scale(domain=[0, 1], range=[10, 500]),
                                  legend=alt.Legend(format=".0%")),
                    color=alt.Color("endpoint:N", legend=None,
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])),
                    href=alt.Href("href:N"),
                    tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"), alt.Tooltip("version:N", title="Version"),
                             alt.Tooltip("hits:Q", title="Requests", format=","),
                             alt.Tooltip("share:Q", title="Share", format=".1%")])
            .properties(width="container"))


def versions_chart(rows: Sequence[Mapping], colors: Mapping[str, Iterable[int]] | None = None, *,
                   links: Mapping[int, str] | None = None) -> dict:
    """Circles sized by share, from {endpoint, endpoint_id, other, version, hits, share, order} rows (busiest
    first); *links*: endpoint id -> URL opened by a click on its circles."""
    scale = endpoint_scale(rows, colors)
    return build(_versions, {DATASET: ranked(linked(rows, links), scale["domain"])}, scale,
                 height=steps(len(scale["domain"]), 24))
