"""The Outliers tab's charts: CPU boxes per core and memory over time. Rows in, a schema-valid, JSON-serialisable
Vega-Lite dict out; no database, no app."""

from __future__ import annotations

import json
from datetime import datetime

from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts.outliers import CPU, MEMORY, cpu_chart, memory_chart

SCHEMA = load_schema()


def box(core: int, low: float) -> dict:
    return {"core": core, "outliers": 4, "min": low, "q1": low + 1, "median": low + 2, "q3": low + 3, "max": low + 4,
            "mean": low + 2}


def layers(spec: dict) -> dict[str, dict]:
    return {layer["mark"]["type"]: layer["encoding"] for layer in spec["layer"]}


def test_cpu_boxes_one_per_core() -> None:
    spec = cpu_chart([box(0, 10.0), box(1, 50.0)])
    validate_jsonschema(spec, SCHEMA)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["data"] == {"name": CPU} and spec["width"] == "container" and spec["background"] == "transparent"
    assert [row["label"] for row in spec["datasets"][CPU]] == ["core 0", "core 1"]
    enc = layers(spec)
    assert enc["rule"]["x"]["field"] == "label" and enc["rule"]["x"]["sort"] == {"field": "core", "op": "min"}
    assert (enc["rule"]["y"]["field"], enc["rule"]["y2"]["field"]) == ("min", "max")
    assert (enc["bar"]["y"]["field"], enc["bar"]["y2"]["field"]) == ("q1", "q3")
    assert enc["tick"]["y"]["field"] == "median"
    assert enc["rule"]["y"]["scale"]["domain"] == [0, 100]


def test_many_cores_get_a_fixed_width() -> None:
    spec = cpu_chart([box(core, 1.0) for core in range(64)])
    validate_jsonschema(spec, SCHEMA)
    assert spec["width"] == 64 * 22 and len(spec["datasets"][CPU]) == 64


def test_memory_over_time_in_the_dashboard_zone() -> None:
    rows = [{"id": 1, "time_requested": datetime(2024, 3, 4, 10), "rss_mb": 120.5, "system_percent": 41.0},
            {"id": 2, "time_requested": datetime(2024, 7, 4, 10), "rss_mb": 130.0, "system_percent": None}]
    spec = memory_chart(rows, "Europe/Amsterdam")
    validate_jsonschema(spec, SCHEMA)
    assert json.loads(json.dumps(spec)) == spec
    data = spec["datasets"][MEMORY]
    # Wall-clock time in Amsterdam (UTC+1 in March, +2 in July) on a UTC scale: the axis reads local time.
    assert [d["time"] for d in data] == ["2024-03-04T11:00:00Z", "2024-07-04T12:00:00Z"]
    assert data[0]["label"] == "2024-03-04 11:00:00 CET" and data[1]["label"].endswith("CEST")
    assert data[1]["system_percent"] is None and data[0]["rss_mb"] == 120.5
    enc = [layer["encoding"] for layer in spec["layer"]]
    assert [e["y"]["field"] for e in enc] == ["rss_mb", "system_percent"]
    assert all(e["x"]["field"] == "time" and e["x"]["type"] == "temporal" and e["x"]["scale"]["type"] == "utc"
               for e in enc)
    assert spec["resolve"] == {"scale": {"y": "independent"}} and enc[1]["y"]["axis"]["orient"] == "right"


def test_empty_rows_are_still_valid_specs() -> None:
    for spec, name in ((cpu_chart([]), CPU), (memory_chart([], "UTC"), MEMORY)):
        validate_jsonschema(spec, SCHEMA)
        assert spec["datasets"] == {name: []}
        json.dumps(spec)


def test_specs_are_fresh_copies() -> None:
    first = cpu_chart([box(0, 1.0)])
    first["layer"][0]["encoding"]["x"]["field"] = "changed"
    assert cpu_chart([box(0, 1.0)])["layer"][0]["encoding"]["x"]["field"] == "label"
