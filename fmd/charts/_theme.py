"""What every chart shares: endpoint and status colours, and Altair specs built once and filled per request.

Building an Altair chart and calling ``to_dict()`` costs 10-50 ms (most of it constructing the schema
objects, not validating them), more than a whole page may take. So each builder describes its chart with
placeholders (``slot("domain")``) where row-dependent values go; the validated ``to_dict()`` of that chart
is made once per process (``skeleton``) and each request fills the placeholders in a copy (``fill``).
Rows travel as a named dataset (``spec["datasets"]``), never ``alt.Data(values=...)``, which would validate
every row. Sort orders ride in the rows (a ``rank`` field), so no endpoint name ever enters an expression.
"""

from __future__ import annotations

import colorsys
import json
import zlib
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

#: The colour of the summed "other" series.
OTHER_COLOR = "#9e9e9e"
#: Status classes and their hues: each code gets a shade of its class.
STATUS_SHADES = {2: ("#2e7d32", "#66bb6a", "#1b5e20", "#a5d6a7"),
                 3: ("#1565c0", "#64b5f6", "#0d47a1"),
                 4: ("#ef6c00", "#ffb74d", "#e65100", "#ffcc80", "#bf360c"),
                 5: ("#c62828", "#ef5350", "#8e0000", "#ff8a80")}
UNKNOWN_STATUS = "#757575"
#: Fixed colours of the common codes, so a code looks the same on every chart and the ones that matter differ
#: at a glance: 2xx greens and teal, 3xx blues, 4xx yellows and oranges (404 a bright orange), 5xx reds and
#: purples (500 a dark red: apart from 404 in hue and in lightness, also for colour-blind readers).
#: Other codes take a shade of their class from STATUS_SHADES.
STATUS_COLORS = {"200": "#2e7d32", "201": "#66bb6a", "202": "#a5d6a7", "204": "#00897b", "206": "#4db6ac",
                 "301": "#1565c0", "302": "#42a5f5", "303": "#90caf9", "304": "#0d47a1", "307": "#5c6bc0",
                 "308": "#283593",
                 "400": "#fdd835", "401": "#ffb300", "403": "#8d6e63", "404": "#ff9800", "405": "#ffe082",
                 "409": "#e65100", "410": "#bcaaa4", "413": "#ffcc80", "422": "#f9a825", "429": "#bf360c",
                 "500": "#b71c1c", "501": "#f48fb1", "502": "#6a1b9a", "503": "#e53935", "504": "#ab47bc"}
#: Endpoint colours without a COLORS entry: 12 hues 30 degrees apart, dark and light, readable on white.
PALETTE = tuple(
    "#{:02x}{:02x}{:02x}".format(*(round(c * 255) for c in colorsys.hls_to_rgb(hue / 12, light, 0.65)))
    for light in (0.42, 0.62) for hue in (0, 7, 2, 9, 4, 11, 6, 1, 8, 3, 10, 5))
_SLOT = "__fmd_slot_{}__"


def hex_rgb(rgb: Iterable[int]) -> str:
    r, g, b = rgb
    return f"#{r:02x}{g:02x}{b:02x}"


def stable_color(name: str) -> str:
    """A colour that depends only on *name*: the same endpoint looks the same on every chart and page.

    Picked from PALETTE (well-separated hues at two lightnesses) by a hash of the name, so two names share
    a colour only when their hashes collide, not because their hues happen to land close together.
    """
    return PALETTE[zlib.crc32(name.encode("utf-8", "surrogatepass")) % len(PALETTE)]


def endpoint_color(name: str, colors: Mapping[str, Iterable[int]] | None = None, other: bool = False) -> str:
    """COLORS[name] when configured, grey for "other", else the name's stable colour."""
    if other:
        return OTHER_COLOR
    if colors and name in colors:
        return hex_rgb(colors[name])
    return stable_color(name)


def endpoint_scale(rows: Iterable[Mapping[str, Any]], colors: Mapping[str, Iterable[int]] | None) -> dict:
    """Vega-Lite scale {domain, range} for the endpoints of *rows*, in their first-seen order (busiest first).

    When two endpoints of one chart hash to the same palette colour, the later (less busy) one takes the
    next free palette colour: the busiest keep their stable colour and no two series look alike.
    """
    seen: dict[str, str] = {}
    for row in rows:
        name = row["endpoint"]
        if name in seen:
            continue
        color = endpoint_color(name, colors, bool(row.get("other")))
        if color in PALETTE and color in seen.values() and not (colors and name in colors):
            start = PALETTE.index(color)
            free = [c for c in PALETTE[start:] + PALETTE[:start] if c not in seen.values()]
            color = free[0] if free else color
        seen[name] = color
    return {"domain": list(seen), "range": list(seen.values())}


def status_color(code: str) -> str:
    """The colour of status *code*: STATUS_COLORS, else a shade of its class, else grey."""
    if code in STATUS_COLORS:
        return STATUS_COLORS[code]
    try:
        number = int(code)
    except ValueError:
        return UNKNOWN_STATUS
    shades = STATUS_SHADES.get(number // 100)
    if not shades:
        return UNKNOWN_STATUS
    return shades[number % len(shades)]


def status_scale(codes: Iterable[str]) -> dict:
    """Vega-Lite scale {domain, range}: codes sorted numerically, each with its ``status_color``."""
    domain = sorted(set(codes), key=lambda c: (len(c), c))
    return {"domain": domain, "range": [status_color(c) for c in domain]}


def slot(name: str) -> str:
    """A placeholder string, replaced by ``fill``; inside a one-item list it is replaced by a whole list."""
    return _SLOT.format(name)


@lru_cache(maxsize=64)
def _skeleton_json(builder: Callable[..., Any], args: tuple) -> str:
    return json.dumps(builder(*args).to_dict(validate=True))


def skeleton(builder: Callable[..., Any], *args: Any) -> dict:
    """A fresh copy of ``builder(*args).to_dict()``, built and schema-validated once per process."""
    return json.loads(_skeleton_json(builder, args))


def fill(node: Any, values: Mapping[str, Any]) -> Any:
    """*node* with every ``slot(name)`` (a string, or a one-item list holding one) replaced by values[name]."""
    if isinstance(node, dict):
        return {key: fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        if len(node) == 1 and isinstance(node[0], str) and node[0] in values:
            return values[node[0]]
        return [fill(item, values) for item in node]
    if isinstance(node, str) and node in values:
        return values[node]
    return node


def build(builder: Callable[..., Any], datasets: Mapping[str, list], slots: Mapping[str, Any] | None = None,
          *args: Any, **top: Any) -> dict:
    """The spec of ``builder(*args)`` with slots filled, *top* keys set and *datasets* attached by name."""
    spec = skeleton(builder, *args)
    if slots:
        spec = fill(spec, {slot(name): value for name, value in slots.items()})
    # Transparent, so the page's own background shows through in light and dark mode (a top-level
    # background also wins over the dark theme's grey panel).
    spec["background"] = "transparent"
    spec.update(top)
    spec["datasets"] = {name: list(rows) for name, rows in datasets.items()}
    return spec


def steps(count: int, step: int) -> int:
    """A fixed plot height giving each of *count* rows *step* pixels.

    Charts that fill their container's width cannot use ``height: {"step": n}``: Vega-Lite then logs
    'Dropping "fit-y" because spec has discrete height' (autosize "fit-x" meets a discrete height).
    """
    return max(1, count) * step


def linked(rows: Iterable[Mapping[str, Any]], links: Mapping[Any, str] | None, key: str = "endpoint_id") -> list[dict]:
    """Copies of *rows*, each with ``href`` = links[row[key]] (charts encode ``href``: a click on the mark opens
    it), or "" for rows that stand for no single endpoint ("other", key None): Vega follows no empty link, but
    Vega-Lite writes a missing one as the text "undefined", a relative link to a page that does not exist."""
    links = links or {}
    return [{**row, "href": links.get(row.get(key), "")} for row in rows]


def ranked(rows: Iterable[Mapping[str, Any]], order: list[str]) -> list[dict]:
    """Copies of *rows* with ``rank`` = the position of their endpoint in *order*."""
    rank = {name: i for i, name in enumerate(order)}
    return [{**row, "rank": rank[row["endpoint"]]} for row in rows]
