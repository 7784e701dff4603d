"""The sparkline: count-per-day rows in, a small schema-valid Vega-Lite dict out (no database, no app)."""

from __future__ import annotations

import json

from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts.sparkline import DATASET, HEIGHT, WIDTH, sparkline_chart


def test_bars_sit_on_their_day_of_the_range() -> None:
    spec = sparkline_chart([{"day": "2024-03-02", "count": 3}, {"day": "2024-03-07", "count": 1}],
                           "2024-03-01", "2024-03-07")
    validate_jsonschema(spec, load_schema())
    rows = spec["datasets"][DATASET]
    assert [(r["day"], r["count"]) for r in rows] == [("2024-03-02", 3), ("2024-03-07", 1)]
    assert [(r["x"], r["x2"]) for r in rows] == [(0.6, 1.4), (5.6, 6.4)]
    assert spec["encoding"]["x"]["scale"]["domain"] == [-0.5, 6.5]  # seven days, whole bars at both ends
    assert spec["encoding"]["y2"] == {"datum": 0}  # vertical bars from zero (x2 alone makes horizontal bands)
    assert spec["encoding"]["x"]["axis"] is None and spec["encoding"]["y"]["axis"] is None
    assert (spec["width"], spec["height"]) == (WIDTH, HEIGHT)
    assert spec["usermeta"] == {"embedOptions": {"actions": False}}
    assert "__fmd_slot" not in json.dumps(spec) and spec["data"] == {"name": DATASET}


def test_an_empty_range_and_a_single_day() -> None:
    empty = sparkline_chart([], "2024-03-01", "2024-03-01")
    assert empty["datasets"][DATASET] == [] and empty["encoding"]["x"]["scale"]["domain"] == [-0.5, 0.5]
    validate_jsonschema(empty, load_schema())
    # Each call gets its own copy: filling one spec never leaks into the next.
    again = sparkline_chart([{"day": "2024-03-01", "count": 2}], "2024-03-01", "2024-03-03")
    assert again["encoding"]["x"]["scale"]["domain"] == [-0.5, 2.5] and len(again["datasets"][DATASET]) == 1
