"""Stacked bars over local days: requests per endpoint, and status codes per endpoint."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ._theme import build, endpoint_scale, ranked, slot, status_scale

DAILY = "daily"
STATUS = "status"


def _daily() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DAILY), title="Requests per day").mark_bar()
            .encode(x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-45)),
                    y=alt.Y("sum(hits):Q", title="Requests"),
                    color=alt.Color("endpoint:N", title="Endpoint",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")]),
                                    legend=alt.Legend(orient="bottom", columns=3, labelLimit=260)),
                    order=alt.Order("rank:Q"),  # busiest endpoint at the bottom of each stack
                    tooltip=[alt.Tooltip("day:O", title="Day"), alt.Tooltip("endpoint:N", title="Endpoint"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=320))


def daily_chart(rows: Sequence[Mapping], colors: Mapping[str, Iterable[int]] | None = None) -> dict:
    """Requests per day stacked per endpoint, from {day, endpoint, other, hits} rows (busiest first)."""
    scale = endpoint_scale(rows, colors)
    return build(_daily, {DAILY: ranked(rows, scale["domain"])}, scale)


def _status() -> Any:
    import altair as alt

    base = (alt.Chart(alt.NamedData(STATUS)).mark_bar()
            .encode(x=alt.X("day:O", title=None, axis=alt.Axis(labelAngle=-45)),
                    y=alt.Y("sum(hits):Q", title="Requests"),
                    color=alt.Color("status:N", title="Status",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])),
                    tooltip=[alt.Tooltip("endpoint:N", title="Endpoint"), alt.Tooltip("day:O", title="Day"),
                             alt.Tooltip("status:N", title="Status"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width=240, height=70))
    return (base.facet(row=alt.Row("endpoint:N", title=None, sort=alt.EncodingSortField("rank", op="min"),
                                   header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=220)),
                       title="Status codes per endpoint")
            .resolve_scale(y="independent"))


def status_chart(rows: Sequence[Mapping]) -> dict:
    """Requests per day and status code, one small chart per endpoint, from {endpoint, day, status, hits}."""
    order = list(dict.fromkeys(row["endpoint"] for row in rows))
    days = len({row["day"] for row in rows})
    spec = build(_status, {STATUS: ranked(rows, order)}, status_scale(row["status"] for row in rows))
    spec["spec"]["width"] = max(240, min(18 * days, 720))
    return spec
