"""Hourly load: requests per local day and hour of day.

Hours after the current one (in the dashboard's time zone) have not happened yet: they get no cell at all, so
they do not look like hours without requests. The axes keep every hour and day of the range.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from ._theme import build, slot

DATASET = "hourly"


def _heatmap() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title=slot("title")).mark_rect()
            .encode(x=alt.X("hour:O", title="Hour of day", axis=alt.Axis(labelAngle=0),
                            scale=alt.Scale(domain=list(range(24)))),
                    y=alt.Y("day:O", title=None, scale=alt.Scale(domain=[slot("days")])),  # newest day on top
                    color=alt.Color("hits:Q", title="Requests", scale=alt.Scale(scheme="blues")),
                    tooltip=[alt.Tooltip("day:O", title="Day"), alt.Tooltip("hour:O", title="Hour"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=120))


def local_now(tz: str, now: datetime | None = None) -> datetime:
    """*now* (naive UTC, as the store keeps time; default the clock) in *tz*."""
    moment = now.replace(tzinfo=timezone.utc) if now is not None else datetime.now(timezone.utc)
    return moment.astimezone(ZoneInfo(tz))


def heatmap_chart(rows: Sequence[Mapping], tz: str, now: datetime | None = None) -> dict:
    """Heatmap of {day, hour, hits} rows: days down, hours of the day across, colour = requests.

    Cells after the current hour in *tz* (*now*: naive UTC, default the clock) are left out.
    """
    local = local_now(tz, now)
    current = (local.date().isoformat(), local.hour)
    days = sorted({row["day"] for row in rows}, reverse=True)
    past = [dict(row) for row in rows if (row["day"], row["hour"]) <= current]
    return build(_heatmap, {DATASET: past}, {"title": f"Requests per hour of day ({tz})", "days": days},
                 height=max(120, min(16 * len(days), 640)))
