"""What the specs promise the browser: transparent background (light and dark pages), fixed heights instead of
``{"step": n}`` (which makes Vega-Lite warn next to a container width), no future cells on the heatmap."""

from __future__ import annotations

from datetime import datetime

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import bars, boxes, boxplot, circles, heatmap, status_time, versions

SCHEMA = load_schema()
BOX = {"hits": 9, "p5": 1.0, "q1": 2.0, "median": 3.0, "q3": 4.0, "p95": 5.0}


def specs() -> dict[str, dict]:
    return {
        "heatmap": heatmap.heatmap_chart([{"day": "2024-03-05", "hour": h, "hits": h} for h in range(24)], "UTC"),
        "daily": bars.daily_chart([{"day": "2024-03-05", "endpoint": "a", "other": False, "hits": 1}]),
        "status": bars.status_chart([{"endpoint": "a", "other": False, "day": "2024-03-05", "status": "200",
                                      "hits": 1}]),
        "versions": versions.versions_chart([{"endpoint": e, "other": False, "version": "1", "hits": 1, "share": 1.0,
                                              "order": 0} for e in "abc"]),
        "boxplot": boxplot.boxplot_chart([{"endpoint": e, "other": False, **BOX} for e in "abc"]),
        "boxes": boxes.boxes_chart([{"version": v, **BOX} for v in "abc"], "version", "Version", "t"),
        "circles": circles.circles_chart([{"user": u, "other": False, "version": "1", "hits": 1, "mean_ms": 1.0,
                                           "rank": i, "order": 0} for i, u in enumerate("abc")], "user", "User", "t"),
        "status_time": status_time.status_time_chart([{"time": "2024-03-05", "status": "200", "hits": 1}], "t"),
    }


@pytest.mark.parametrize("name", list(specs()))
def test_background_is_transparent_and_heights_are_fixed(name: str) -> None:
    spec = specs()[name]
    validate_jsonschema(spec, SCHEMA)
    assert spec["background"] == "transparent"
    inner = spec.get("spec", spec)  # a faceted chart sizes its cells
    assert isinstance(inner["height"], int), inner["height"]


@pytest.mark.parametrize("name, step", [("versions", 24), ("boxplot", 22), ("boxes", 24), ("circles", 30)])
def test_category_charts_give_each_row_its_step(name: str, step: int) -> None:
    assert specs()[name]["height"] == 3 * step  # three categories


def test_status_bars_are_not_ordered_by_a_nominal_field() -> None:
    order = specs()["status_time"]["encoding"]["order"]
    assert order["type"] != "nominal"  # Vega-Lite warns: nominal has no inherent order


def test_heatmap_leaves_hours_after_now_empty() -> None:
    rows = [{"day": d, "hour": h, "hits": 0} for d in ("2024-03-05", "2024-03-06", "2024-03-07") for h in range(24)]
    now = datetime(2024, 3, 6, 9, 30)  # naive UTC: 10:30 in Amsterdam (CET)
    spec = heatmap.heatmap_chart(rows, "Europe/Amsterdam", now=now)
    cells = {(r["day"], r["hour"]) for r in spec["datasets"][heatmap.DATASET]}
    assert ("2024-03-06", 10) in cells and ("2024-03-06", 11) not in cells
    assert len(cells) == 24 + 11 and not any(day == "2024-03-07" for day, _ in cells)
    # The axes still show the whole range: every hour, every day (newest on top).
    assert spec["encoding"]["x"]["scale"]["domain"] == list(range(24))
    assert spec["encoding"]["y"]["scale"]["domain"] == ["2024-03-07", "2024-03-06", "2024-03-05"]
    assert spec["height"] == 120
    utc = heatmap.heatmap_chart(rows, "UTC", now=now)
    assert len(utc["datasets"][heatmap.DATASET]) == 24 + 10  # 09:xx UTC: hours 0..9 of the 6th


def test_heatmap_of_past_days_keeps_every_cell() -> None:
    rows = [{"day": "2024-03-05", "hour": h, "hits": h} for h in range(24)]
    spec = heatmap.heatmap_chart(rows, "UTC")  # the clock: long after 2024
    assert spec["datasets"][heatmap.DATASET] == [{**row, "href": ""} for row in rows]  # no day links given
