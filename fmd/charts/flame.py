"""Flame graphs of profiled requests: the icicle of a merged tree, and the differential icicle of two trees.

Vega-Lite has no partition layout, so ``fmd.trees.icicle`` / ``fmd.trees.diff`` lay the tree out in Python: each
row is a rectangle ``x0..x1`` (fractions of the root's time) at ``depth`` (the root on top). Here the rows become
rect marks with a text layer of labels cut to fit, tooltips, and, for the icicle, an ``href`` per frame: the same
tab's URL with ``root=<key>`` (*zoom_url* ends with ``root=``), so a click re-renders the page zoomed on that frame.

Colours: the icicle colours a frame by its function and file (the same frame looks the same everywhere); the
differential graph colours by ``change`` (the frame's share of the request's time in the newer tree minus in the
older) on a diverging scale centred on zero: red grew, blue shrank.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence
from urllib.parse import quote

from ._theme import build, stable_color, steps

ICICLE = "profile_icicle"
DIFF = "profile_diff"
#: Pixels per level of the tree.
ROW_HEIGHT = 22
#: The plot width that labels are cut for (the chart fills its container; a guess errs on short labels).
LABEL_WIDTH = 1100
#: Pixels per label character at the label font size.
CHAR_WIDTH = 6.5
#: A diff scale reaches at least this far (a share of 0.5 points either way) so noise does not look red.
MIN_CHANGE = 0.005


def frame_color(row: Mapping[str, Any]) -> str:
    """A frame's colour on the icicle and the sunburst: stable per (file, function), so it matches across charts."""
    return stable_color(f"{row['file']}:{row['label']}")


def ink(fill: str) -> str:
    """Black or white, whichever reads better on the hex colour *fill* (by its relative luminance)."""
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "white"


def label_text(label: str, width: float) -> str:
    """*label* cut to fit a rectangle *width* (a fraction of the plot) wide: "" when not even 3 characters fit."""
    room = int(width * LABEL_WIDTH / CHAR_WIDTH) - 1
    if room < 3:
        return ""
    return label if len(label) <= room else label[:room - 1] + "…"


def _frame_fields(row: Mapping[str, Any]) -> dict:
    width = float(row["x1"]) - float(row["x0"])
    return {"key": row["key"], "depth": row["depth"], "y0": row["depth"], "y1": row["depth"] + 1,
            "ymid": row["depth"] + 0.5, "x0": row["x0"], "x1": row["x1"], "label": row["label"],
            "text": label_text(str(row["label"]), width), "where": f"{row['file']}:{row['line']}",
            "code": row["code"] or ""}


def _axes(alt: Any) -> dict:
    return {"x": alt.X("x0:Q", axis=None, scale=alt.Scale(domain=[0, 1], nice=False, zero=False)),
            "x2": "x1:Q",
            "y": alt.Y("y0:Q", axis=None, scale=alt.Scale(reverse=True, nice=False, zero=True)),
            "y2": "y1:Q"}


def _layers(alt: Any, dataset: str, color: Any, tooltip: list, href: bool) -> Any:
    more = {"href": alt.Href("href:N")} if href else {}
    base = alt.Chart(alt.NamedData(dataset))
    rect = base.mark_rect(stroke="white", strokeWidth=0.5, cursor="pointer" if href else "default").encode(
        color=color, tooltip=tooltip, **_axes(alt), **more)
    text = base.mark_text(align="left", baseline="middle", dx=3, fontSize=11).encode(
        x=alt.X("x0:Q", axis=None), y=alt.Y("ymid:Q", axis=None), text="text:N", tooltip=tooltip,
        color=alt.Color("ink:N", scale=None, legend=None), **more)
    return alt.layer(rect, text).resolve_scale(color="independent")  # fill and ink are separate scales


def _icicle() -> Any:
    import altair as alt

    tooltip = [alt.Tooltip("label:N", title="Function"), alt.Tooltip("where:N", title="File:line"),
               alt.Tooltip("code:N", title="Code"),
               alt.Tooltip("mean_ms:Q", title="Mean per request (ms)", format=",.2f"),
               alt.Tooltip("total_ms:Q", title="Total (ms)", format=",.1f"),
               alt.Tooltip("share:Q", title="Share of the root", format=".1%")]
    color = alt.Color("color:N", scale=None, legend=None)
    return _layers(alt, ICICLE, color, tooltip, href=True).properties(
        title="Flame graph (icicle): click a frame to zoom")


def icicle_chart(rows: Sequence[Mapping[str, Any]], zoom_url: str) -> dict:
    """A Vega-Lite icicle from ``fmd.trees.icicle`` rows; a click on a frame opens *zoom_url* + its key."""
    data = [{**_frame_fields(row), "mean_ms": row["mean"] * 1000, "total_ms": row["total"] * 1000,
             "share": row["share"], "color": frame_color(row), "href": zoom_url + quote(str(row["key"]))}
            for row in rows]
    for row in data:
        row["ink"] = ink(row["color"])
    depth = max((row["depth"] for row in data), default=0) + 1
    return build(_icicle, {ICICLE: data}, width="container", height=steps(depth, ROW_HEIGHT))


def _diff() -> Any:
    import altair as alt

    from ._theme import slot

    tooltip = [alt.Tooltip("label:N", title="Function"), alt.Tooltip("where:N", title="File:line"),
               alt.Tooltip("code:N", title="Code"),
               alt.Tooltip("base_ms:Q", title="Before, per request (ms)", format=",.2f"),
               alt.Tooltip("other_ms:Q", title="After, per request (ms)", format=",.2f"),
               alt.Tooltip("base_share:Q", title="Before, share", format=".1%"),
               alt.Tooltip("other_share:Q", title="After, share", format=".1%"),
               alt.Tooltip("change:Q", title="Change of share", format="+.1%"),
               alt.Tooltip("change_ms:Q", title="Change per request (ms)", format="+,.2f")]
    # redblue runs red -> blue; reversed, a frame that grew (positive change) is red.
    color = alt.Color("change:Q", title="Change of share", legend=alt.Legend(format="+.0%", orient="bottom"),
                      scale=alt.Scale(scheme="redblue", reverse=True, domainMid=0, domain=[slot("low"), slot("high")]))
    return _layers(alt, DIFF, color, tooltip, href=False).properties(
        title="Differential flame graph: red grew, blue shrank (share of the request's time)")


def diff_chart(rows: Sequence[Mapping[str, Any]], max_depth: int = 30, min_width: float = 0.002) -> dict:
    """A differential icicle from ``fmd.trees.diff`` rows, laid out over the newer tree.

    Frames narrower than *min_width* (those only in the older tree have no width) or deeper than *max_depth*
    are left out of the picture; the table of frames that grew most lists them.
    """
    data = [{**_frame_fields(row), "base_ms": row["base_mean"] * 1000, "other_ms": row["other_mean"] * 1000,
             "base_share": row["base_share"], "other_share": row["other_share"], "change": row["change"],
             "change_ms": row["change_s"] * 1000}
            for row in rows if row["x1"] - row["x0"] >= min_width and row["depth"] <= max_depth]
    reach = max([MIN_CHANGE] + [abs(row["change"]) for row in data])
    for row in data:  # the ends of the diverging scale are dark
        row["ink"] = "white" if abs(row["change"]) > 0.6 * reach else "black"
    depth = max((row["depth"] for row in data), default=0) + 1
    return build(_diff, {DIFF: data}, {"low": -reach, "high": reach}, width="container",
                 height=steps(depth, ROW_HEIGHT))
