"""The endpoint page's charts: heatmaps (users/IPs x versions), boxes per version/user, status codes over time.
Rows in, a schema-valid Vega-Lite dict out; no database, no app."""

from __future__ import annotations

import json

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import boxes, circles, status_time
from fmd.charts._theme import OTHER_COLOR, stable_color, status_color

SCHEMA = load_schema()
EVIL = "</script><script>alert(1)</script>"


def circle_rows(key: str = "user") -> list[dict]:
    return [{key: "alice", "other": False, "version": "1.0", "hits": 40, "mean_ms": 12.5, "rank": 0, "order": 0},
            {key: EVIL, "other": False, "version": "2.0", "hits": 3, "mean_ms": 80.0, "rank": 1, "order": 1},
            {key: "other (4)", "other": True, "version": "1.0", "hits": 9, "mean_ms": 30.25, "rank": 2, "order": 0}]


def box_rows(key: str) -> list[dict]:
    return [{key: "older versions" if key == "version" else "bob", "hits": 5, "p5": 1.0, "q1": 2.0, "median": 3.0,
             "q3": 4.0, "p95": 6.0},
            {key: EVIL, "hits": 9, "p5": 1.5, "q1": 2.5, "median": 3.5, "q3": 4.5, "p95": 9.0},
            {key: "other (2 users)", "other": True, "hits": 2, "p5": 1.0, "q1": 1.0, "median": 1.0, "q3": 1.0,
             "p95": 1.0}]


def all_specs() -> dict[str, dict]:
    return {"users": circles.circles_chart(circle_rows(), "user", "User", "Users"),
            "ips": circles.circles_chart(circle_rows("ip"), "ip", "IP address", "IPs"),
            "versions": boxes.boxes_chart(box_rows("version"), "version", "Version", "Per version"),
            "user_boxes": boxes.boxes_chart(box_rows("user"), "user", "User", "Per user"),
            "status": status_time.status_time_chart(
                [{"time": "2024-03-05", "status": "200", "hits": 9}, {"time": "2024-03-05", "status": "503", "hits": 1},
                 {"time": "2024-03-06", "status": "404", "hits": 2}], "Status codes")}


@pytest.mark.parametrize("name", ["users", "ips", "versions", "user_boxes", "status"])
def test_specs_are_valid_vega_lite_with_named_data(name: str) -> None:
    spec = all_specs()[name]
    validate_jsonschema(spec, SCHEMA)
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    text = json.dumps(spec)  # plain JSON
    assert "__fmd_slot" not in text
    assert "values" not in spec.get("data", {}) and list(spec["datasets"]) == [spec["data"]["name"]]
    assert not any(EVIL in text for text in expressions(spec))  # names are data (or a scale domain), never code


def expressions(node: object) -> list[str]:
    """Every Vega expression string in a spec (tests, filters, calculations)."""
    if isinstance(node, dict):
        found = [json.dumps(v) for k, v in node.items() if k in ("test", "expr", "calculate", "filter")]
        return found + [e for v in node.values() for e in expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in expressions(v)]
    return []


def test_users_by_version_is_a_heatmap_with_the_mean_printed_in_each_cell() -> None:
    spec = all_specs()["users"]
    enc = spec["encoding"]  # shared by both layers: position and tooltip
    assert enc["y"] == {**enc["y"], "field": "user", "sort": {"field": "rank", "op": "min"}}  # busiest on top
    assert enc["x"]["field"] == "version" and enc["x"]["sort"] == {"field": "order", "op": "min"}  # oldest left
    tips = {t["field"]: t for t in enc["tooltip"]}
    assert set(tips) == {"user", "version", "hits", "mean_ms"} and tips["hits"]["format"] == ","
    rect, text = spec["layer"]
    assert rect["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    color = rect["encoding"]["color"]
    assert color["field"] == "mean_ms" and color["type"] == "quantitative"
    assert color["scale"]["scheme"] == circles.SCHEME and color["scale"]["zero"] is True
    assert color["title"] == "Mean duration (ms)"
    assert text["encoding"]["text"]["field"] == "label"
    # Text colour from a boolean field of the rows: no user-supplied text enters the expression.
    assert text["encoding"]["color"]["condition"]["test"] == "datum.dark"
    rows = spec["datasets"]["circles"]
    assert [(r["user"], r["version"], r["label"], r["dark"]) for r in rows] == [
        ("alice", "1.0", "12 ms", False), (EVIL, "2.0", "80 ms", True), ("other (4)", "1.0", "30 ms", False)]
    assert [{k: v for k, v in r.items() if k not in ("label", "dark")} for r in rows] == circle_rows()
    assert spec["title"] == "Users"
    assert all_specs()["ips"]["encoding"]["y"]["field"] == "ip"


@pytest.mark.parametrize("ms, label", [(0.42, "0.42 ms"), (0.996, "1.0 ms"), (8.25, "8.2 ms"), (9.96, "10 ms"), (83.4, "83 ms"), (113, "113 ms"),
                                       (999.6, "1.0 s"), (1234, "1.2 s"), (9960, "10 s"), (75_300, "75 s"),
                                       (1_234_000, "1,234 s")])
def test_cell_labels_are_short_durations_with_their_unit(ms: float, label: str) -> None:
    spec = circles.circles_chart([{**circle_rows()[0], "mean_ms": ms}], "user", "User", "t")
    assert spec["datasets"]["circles"][0]["label"] == label


def test_an_empty_or_all_zero_heatmap_has_no_dark_cells() -> None:
    rows = [{**row, "mean_ms": 0.0} for row in circle_rows()]
    spec = circles.circles_chart(rows, "user", "User", "t")
    assert [r["dark"] for r in spec["datasets"]["circles"]] == [False] * 3
    assert circles.circles_chart([], "ip", "IP", "t")["datasets"]["circles"] == []


def test_boxes_keep_the_row_order_and_colour_other_grey() -> None:
    spec = all_specs()["versions"]
    rows = spec["datasets"]["boxes"]
    assert [(r["version"], r["position"]) for r in rows] == [("older versions", 0), (EVIL, 1), ("other (2 users)", 2)]
    box = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "bar")
    scale = box["encoding"]["color"]["scale"]
    assert scale["domain"] == ["older versions", EVIL, "other (2 users)"]
    assert scale["range"] == [OTHER_COLOR, stable_color(EVIL), OTHER_COLOR]
    whisker = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rule")
    assert whisker["encoding"]["x"]["scale"]["type"] == "log"
    assert spec["title"] == "Per version"
    user = all_specs()["user_boxes"]
    assert user["layer"][0]["encoding"]["y"]["field"] == "user" and user["title"] == "Per user"


def test_status_colours_come_from_the_theme() -> None:
    spec = all_specs()["status"]
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["200", "404", "503"]
    # The shared theme's colour per code (the same code looks the same on every chart), all three apart.
    assert scale["range"] == [status_color(code) for code in scale["domain"]] and len(set(scale["range"])) == 3
    assert spec["encoding"]["tooltip"][0]["title"] == "Day"
    hourly = status_time.status_time_chart([{"time": "2024-03-05 10:00", "status": "200", "hits": 1}], "S", "Hour")
    assert hourly["encoding"]["tooltip"][0]["title"] == "Hour"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        circles.circles_chart(circle_rows(), "endpoint", "E", "T")
    with pytest.raises(ValueError):
        boxes.boxes_chart(box_rows("version"), "ip", "IP", "T")
