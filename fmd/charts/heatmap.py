"""Hourly load: requests per local day and hour of day.

Hours after the current one (in the dashboard's time zone) have not happened yet: they get no cell at all, so
they do not look like hours without requests. The axes keep every hour and day of the range; hour labels
that would overlap on a narrow screen are thinned out (every other one, then every fourth). A row may carry an
``href`` (its day narrowed to that day: ``day_links``), opened by a click on the cell.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

from ._theme import build, linked, slot

DATASET = "hourly"


def _heatmap() -> Any:
    import altair as alt

    return (alt.Chart(alt.NamedData(DATASET), title=slot("title")).mark_rect(cursor="pointer")
            .encode(x=alt.X("hour:O", title="Hour of day",
                            axis=alt.Axis(labelAngle=0, labelOverlap="parity", labelSeparation=4),
                            scale=alt.Scale(domain=list(range(24)))),
                    y=alt.Y("day:O", title=None, scale=alt.Scale(domain=[slot("days")])),  # newest day on top
                    # From 0, so a quiet hour is pale; whole numbers only in the legend (no "0.000000").
                    color=alt.Color("hits:Q", title="Requests", scale=alt.Scale(scheme="blues", domainMin=0),
                                    legend=alt.Legend(format=",d", tickMinStep=1)),
                    href=alt.Href("href:N"),  # the page narrowed to that day
                    tooltip=[alt.Tooltip("day:O", title="Day"), alt.Tooltip("hour:O", title="Hour"),
                             alt.Tooltip("hits:Q", title="Requests", format=",")])
            .properties(width="container", height=120))


def local_now(tz: str, now: datetime | None = None) -> datetime:
    """*now* (naive UTC, as the store keeps time; default the clock) in *tz*."""
    moment = now.replace(tzinfo=timezone.utc) if now is not None else datetime.now(timezone.utc)
    return moment.astimezone(ZoneInfo(tz))


def heatmap_chart(rows: Sequence[Mapping], tz: str, now: datetime | None = None,
                  day_links: Mapping[str, str] | None = None) -> dict:
    """Heatmap of {day, hour, hits} rows: days down, hours of the day across, colour = requests.

    Cells after the current hour in *tz* (*now*: naive UTC, default the clock) are left out. *day_links*:
    day ('YYYY-MM-DD') -> URL opened by a click on that day's cells.
    """
    local = local_now(tz, now)
    current = (local.date().isoformat(), local.hour)
    days = sorted({row["day"] for row in rows}, reverse=True)
    past = linked([row for row in rows if (row["day"], row["hour"]) <= current], day_links, key="day")
    return build(_heatmap, {DATASET: past}, {"title": f"Requests per hour of day ({tz})", "days": days},
                 height=max(120, min(16 * len(days), 640)))
