"""Multi-version performance of one endpoint: a circle per (user or IP, version), its size the mean duration.

Rows come from ``fmd.queries.endpoint.users_by_version`` / ``ips_by_version``: the busiest values by name (in
``rank`` order), the rest summed into one grey "other" row, versions oldest first (``order``). Hover shows the
exact requests and mean duration of each circle.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import OTHER_COLOR, build, slot, steps

DATASET = "circles"
#: The colour of named users/IPs (the summed "other" row is grey).
COLOR = "#1f77b4"


def _circles(key: str, label: str) -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title=slot("title"))
            .mark_circle(opacity=0.75, stroke="#1c2330", strokeWidth=0.5)
            .encode(x=alt.X("version:N", title="Version (oldest first)", sort=alt.EncodingSortField("order", op="min"),
                            axis=alt.Axis(labelAngle=-30, labelLimit=160)),
                    y=alt.Y(f"{key}:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                            axis=alt.Axis(labelLimit=260)),
                    size=alt.Size("mean_ms:Q", title="Mean duration (ms)",
                                  scale=alt.Scale(zero=True, range=[15, 900])),
                    # The "other" flag is a boolean field of the rows: no user-supplied text enters the expression.
                    color=alt.condition("datum.other", alt.value(OTHER_COLOR), alt.value(COLOR)),
                    tooltip=[alt.Tooltip(f"{key}:N", title=label), alt.Tooltip("version:N", title="Version"),
                             alt.Tooltip("hits:Q", title="Requests", format=","),
                             alt.Tooltip("mean_ms:Q", title="Mean duration (ms)", format=",.2f")])
            .properties(width="container"))


def circles_chart(rows: Sequence[Mapping], key: str, label: str, title: str) -> dict:
    """Circles from {<key>, other, version, hits, mean_ms, rank, order} rows; *key* is "user" or "ip"."""
    if key not in ("user", "ip"):
        raise ValueError(f"key must be 'user' or 'ip', not {key!r}")
    return build(_circles, {DATASET: [dict(row) for row in rows]}, {"title": title}, key, label,
                 height=steps(len({row[key] for row in rows}), 30))
