"""Status codes of one endpoint over time: stacked bars per day (or hour), one shade per status code."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import build, slot, status_scale

DATASET = "status_time"


def _status_time() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title=slot("title")).mark_bar()
            .encode(x=alt.X("time:O", title=slot("time_title"), scale=alt.Scale(domain=[slot("buckets")]),
                            axis=alt.Axis(labelAngle=-45, labelOverlap=True)),
                    y=alt.Y("sum(hits):Q", title="Requests", axis=alt.Axis(format=",d", tickMinStep=1)),
                    color=alt.Color("status:N", title="Status",
                                    scale=alt.Scale(domain=[slot("domain")], range=[slot("range")])),
                    order=alt.Order("status:O"),  # nominal would warn: nominal has no order
                    tooltip=[alt.Tooltip("time:O", title=slot("time_title")), alt.Tooltip("status:N", title="Status"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=260))


def status_time_chart(rows: Sequence[Mapping], title: str, time_title: str = "Day",
                      buckets: Sequence[str] | None = None) -> dict:
    """Stacked bars from {time (text), status (text), hits} rows; *buckets*: every bucket label of the range
    (``DatePeriod.bucket_labels``), so hours or days without requests keep their place on the axis."""
    scale = status_scale(str(row["status"]) for row in rows)
    axis = list(dict.fromkeys(buckets)) if buckets is not None else sorted({row["time"] for row in rows})
    return build(_status_time, {DATASET: [dict(row) for row in rows]},
                 {**scale, "title": title, "time_title": time_title, "buckets": axis})
