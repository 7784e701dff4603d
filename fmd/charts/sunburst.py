"""The sunburst of a merged profile: rings of frames around the root, each frame's angle its share of the time.

``fmd.trees.sunburst`` computes the layout (Vega-Lite has no partition transform): each row has ``theta0..theta1``
(radians) and ``r0..r1`` (ring numbers: the root is the disc in the middle). The angles go to the arc marks as
they are (no theta scale); a linear radius scale maps the rings onto the chart. As on the icicle, a frame
carries an ``href``: *zoom_url* (ending with ``root=``) plus its key, so a click re-renders zoomed on it.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence
from urllib.parse import quote

from ._theme import build, slot
from .flame import frame_color

SUNBURST = "profile_sunburst"
#: The chart's side in pixels.
SIZE = 420


def _sunburst() -> Any:
    import altair as alt

    tooltip = [alt.Tooltip("label:N", title="Function"), alt.Tooltip("where:N", title="File:line"),
               alt.Tooltip("code:N", title="Code"),
               alt.Tooltip("mean_ms:Q", title="Mean per request (ms)", format=",.2f"),
               alt.Tooltip("total_ms:Q", title="Total (ms)", format=",.1f"),
               alt.Tooltip("share:Q", title="Share of the root", format=".1%")]
    radius = alt.Scale(type="linear", zero=True, nice=False, domain=[0, slot("rings")], range=[0, SIZE / 2 - 10])
    return alt.Chart(alt.NamedData(SUNBURST)).mark_arc(stroke="white", strokeWidth=0.5, cursor="pointer").encode(
        theta=alt.Theta("theta0:Q", scale=None), theta2="theta1:Q",
        radius=alt.Radius("r0:Q", scale=radius), radius2="r1:Q",
        color=alt.Color("color:N", scale=None, legend=None), tooltip=tooltip, href=alt.Href("href:N"),
    ).properties(title="Sunburst: click a frame to zoom", width=SIZE, height=SIZE)


def sunburst_chart(rows: Sequence[Mapping[str, Any]], zoom_url: str) -> dict:
    """A Vega-Lite sunburst from ``fmd.trees.sunburst`` rows; a click on a frame opens *zoom_url* + its key."""
    data = [{"key": row["key"], "depth": row["depth"], "theta0": row["theta0"], "theta1": row["theta1"],
             "r0": row["r0"], "r1": row["r1"], "label": row["label"], "where": f"{row['file']}:{row['line']}",
             "code": row["code"] or "", "mean_ms": row["mean"] * 1000, "total_ms": row["total"] * 1000,
             "share": row["share"], "color": frame_color(row),
             "href": zoom_url + quote(str(row["key"]))} for row in rows]
    rings = max((row["r1"] for row in data), default=1)
    return build(_sunburst, {SUNBURST: data}, {"rings": rings})
