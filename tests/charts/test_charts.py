"""Chart builders: rows in, a schema-valid Vega-Lite dict out (no database, no app)."""

from __future__ import annotations

import json

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import _theme, bars, boxplot, heatmap, versions

SCHEMA = load_schema()
EVIL = "</script><script>alert(1)</script>"


def daily_rows() -> list[dict]:
    return [{"day": "2024-03-05", "endpoint": "a", "other": False, "hits": 40},
            {"day": "2024-03-05", "endpoint": EVIL, "other": False, "hits": 30},
            {"day": "2024-03-06", "endpoint": "other (2 endpoints)", "other": True, "hits": 30}]


def box_rows() -> list[dict]:
    return [{"endpoint": "a", "other": False, "hits": 9, "p5": 1.0, "q1": 2.0, "median": 3.0, "q3": 4.0, "p95": 5.0},
            {"endpoint": EVIL, "other": True, "hits": 3, "p5": 1.5, "q1": 2.5, "median": 3.5, "q3": 4.5, "p95": 9.0}]


def version_rows() -> list[dict]:
    return [{"endpoint": "a", "other": False, "version": "1.0", "hits": 3, "share": 0.75, "order": 0},
            {"endpoint": "a", "other": False, "version": "2.0", "hits": 1, "share": 0.25, "order": 1}]


def status_rows() -> list[dict]:
    return [{"endpoint": "a", "other": False, "day": "2024-03-05", "status": "200", "hits": 36},
            {"endpoint": "a", "other": False, "day": "2024-03-05", "status": "500", "hits": 4},
            {"endpoint": "b", "other": False, "day": "2024-03-06", "status": "404", "hits": 2}]


def all_specs() -> dict[str, dict]:
    return {"heatmap": heatmap.heatmap_chart([{"day": "2024-03-05", "hour": h, "hits": h} for h in range(24)],
                                             "Europe/Amsterdam"),
            "daily": bars.daily_chart(daily_rows(), {"a": (0, 97, 255)}),
            "status": bars.status_chart(status_rows()),
            "versions": versions.versions_chart(version_rows()),
            "box": boxplot.boxplot_chart(box_rows())}


@pytest.mark.parametrize("name", ["heatmap", "daily", "status", "versions", "box"])
def test_specs_are_valid_vega_lite_with_named_data(name: str) -> None:
    spec = all_specs()[name]
    validate_jsonschema(spec, SCHEMA)  # raises on any schema error
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    text = json.dumps(spec)  # plain JSON: no datetimes, no numpy types
    assert "__fmd_slot" not in text
    assert "values" not in spec.get("data", {}) and list(spec["datasets"]) == [spec["data"]["name"]]


def test_rows_travel_unchanged_and_names_stay_out_of_expressions() -> None:
    spec = all_specs()["daily"]
    assert [(r["endpoint"], r["hits"], r["rank"]) for r in spec["datasets"]["daily"]] == [
        ("a", 40, 0), (EVIL, 30, 1), ("other (2 endpoints)", 30, 2)]
    assert "transform" not in spec  # stacking order comes from the rank field, not an expression with names


def test_colours_from_config_stable_and_grey_for_other() -> None:
    scale = all_specs()["daily"]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["a", EVIL, "other (2 endpoints)"]
    assert scale["range"] == ["#0061ff", _theme.stable_color(EVIL), _theme.OTHER_COLOR]
    assert _theme.stable_color("search") == _theme.stable_color("search") != _theme.stable_color("index")
    assert all(len(_theme.stable_color(f"e{i}")) == 7 for i in range(50))


def test_status_colours_follow_the_class() -> None:
    scale = _theme.status_scale(["500", "200", "404", "302", "200", "99x", "418", "599"])
    assert scale["domain"] == ["200", "302", "404", "418", "500", "599", "99x"]
    colour = dict(zip(scale["domain"], scale["range"]))
    assert [colour[c] for c in ("200", "302", "404", "500")] == [_theme.STATUS_COLORS[c] for c in
                                                                 ("200", "302", "404", "500")]
    assert colour["418"] in _theme.STATUS_SHADES[4] and colour["599"] in _theme.STATUS_SHADES[5]  # by class
    assert colour["99x"] == _theme.UNKNOWN_STATUS


def test_heatmap_title_and_height_follow_the_rows() -> None:
    spec = all_specs()["heatmap"]
    assert spec["title"] == "Requests per hour of day (Europe/Amsterdam)" and spec["height"] == 120
    many = heatmap.heatmap_chart([{"day": f"2024-01-{d:02d}", "hour": 0, "hits": 1} for d in range(1, 31)], "UTC")
    assert many["height"] == 16 * 30


def test_each_call_gets_its_own_copy() -> None:
    first = bars.daily_chart(daily_rows())
    first["encoding"]["color"]["scale"]["domain"].append("mutated")
    first["title"] = "mutated"
    second = bars.daily_chart(daily_rows())
    assert second["title"] == "Requests per day" and "mutated" not in second["encoding"]["color"]["scale"]["domain"]


def test_empty_rows_still_give_a_valid_spec() -> None:
    for spec in (bars.daily_chart([]), bars.status_chart([]), versions.versions_chart([]), boxplot.boxplot_chart([]),
                 heatmap.heatmap_chart([], "UTC")):
        validate_jsonschema(spec, SCHEMA)


def test_altair_is_not_imported_by_the_chart_modules() -> None:
    import subprocess
    import sys

    code = ("import sys, fmd.charts.bars, fmd.charts.boxplot, fmd.charts.heatmap, fmd.charts.versions, "
            "fmd.queries.app, fmd.queries.overview; print('altair' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_colliding_endpoints_get_distinct_colours() -> None:
    names = [f"endpoint-{i}" for i in range(30)]
    scale = _theme.endpoint_scale([{"endpoint": n} for n in names[:20]], None)
    assert len(set(scale["range"])) == 20  # 20 names, 24 palette colours: no two alike in one chart
    first = scale["range"][0]
    assert first == _theme.stable_color(names[0])  # the busiest keeps its own colour
    configured = _theme.endpoint_scale([{"endpoint": "a"}, {"endpoint": "b"}], {"a": (1, 2, 3), "b": (1, 2, 3)})
    assert configured["range"] == ["#010203", "#010203"]  # COLORS is obeyed even when it repeats itself


def test_versions_is_a_heatmap_with_the_share_printed() -> None:
    rows = [{"endpoint": "a", "endpoint_id": 1, "other": False, "version": "1.0", "hits": 3, "share": 0.75, "order": 0},
            {"endpoint": "a", "endpoint_id": 1, "other": False, "version": "2.0", "hits": 1, "share": 0.25, "order": 1}]
    spec = versions.versions_chart(rows)
    validate_jsonschema(spec, SCHEMA)
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    text = spec["layer"][marks.index("text")]["encoding"]["text"]
    assert marks == ["rect", "text"] and text == {"field": "share", "type": "quantitative", "format": ".0%"}
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [0, 1]  # 100% is the darkest, always
    assert [(r["share"], r["dark"]) for r in spec["datasets"]["versions"]] == [(0.75, True), (0.25, False)]
