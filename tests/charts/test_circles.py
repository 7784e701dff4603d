"""The endpoint page's charts: circles (users/IPs x versions), boxes per version/user, status codes over time.
Rows in, a schema-valid Vega-Lite dict out; no database, no app."""

from __future__ import annotations

import json

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import boxes, circles, status_time
from fmd.charts._theme import OTHER_COLOR, STATUS_SHADES, stable_color

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


def test_circle_size_is_the_mean_duration_and_hover_shows_exact_values() -> None:
    spec = all_specs()["users"]
    enc = spec["encoding"]
    assert enc["size"]["field"] == "mean_ms" and enc["size"]["scale"]["zero"] is True
    assert enc["y"] == {**enc["y"], "field": "user", "sort": {"field": "rank", "op": "min"}}
    assert enc["x"]["field"] == "version" and enc["x"]["sort"] == {"field": "order", "op": "min"}
    tips = {t["field"]: t for t in enc["tooltip"]}
    assert set(tips) == {"user", "version", "hits", "mean_ms"} and tips["hits"]["format"] == ","
    assert enc["color"]["condition"] == {"test": "datum.other", "value": OTHER_COLOR}  # a field, not a name
    assert spec["datasets"]["circles"] == circle_rows()  # rows travel unchanged
    assert spec["title"] == "Users"
    assert all_specs()["ips"]["encoding"]["y"]["field"] == "ip"


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


def test_status_colours_follow_their_class() -> None:
    spec = all_specs()["status"]
    scale = spec["encoding"]["color"]["scale"]
    assert scale["domain"] == ["200", "404", "503"]
    assert [color in STATUS_SHADES[int(code[0])] for code, color in zip(scale["domain"], scale["range"])] == [True] * 3
    assert spec["encoding"]["tooltip"][0]["title"] == "Day"
    hourly = status_time.status_time_chart([{"time": "2024-03-05 10:00", "status": "200", "hits": 1}], "S", "Hour")
    assert hourly["encoding"]["tooltip"][0]["title"] == "Hour"


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError):
        circles.circles_chart(circle_rows(), "endpoint", "E", "T")
    with pytest.raises(ValueError):
        boxes.boxes_chart(box_rows("version"), "ip", "IP", "T")
