"""Hourly load: requests per local day and hour of day."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ._theme import build, slot

DATASET = "hourly"


def _heatmap() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title=slot("title")).mark_rect()
            .encode(x=alt.X("hour:O", title="Hour of day", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("day:O", title=None, sort="descending"),
                    color=alt.Color("hits:Q", title="Requests", scale=alt.Scale(scheme="blues")),
                    tooltip=[alt.Tooltip("day:O", title="Day"), alt.Tooltip("hour:O", title="Hour"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=120))


def heatmap_chart(rows: Sequence[Mapping], tz: str) -> dict:
    """Heatmap of {day, hour, hits} rows: days down, hours of the day across, colour = requests."""
    days = len({row["day"] for row in rows})
    return build(_heatmap, {DATASET: list(rows)}, {"title": f"Requests per hour of day ({tz})"},
                 height=max(120, min(16 * days, 640)))
