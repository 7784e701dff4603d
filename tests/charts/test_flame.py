"""The profiler's charts: the icicle and the sunburst of a merged tree (rect and arc marks, tooltips, an href per
frame for click-to-zoom) and the differential icicle (diverging colour, red = grew). Rows in, a schema-valid,
JSON-serialisable Vega-Lite dict out; no database, no app."""

from __future__ import annotations

import json
import math

from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts.flame import DIFF, ICICLE, diff_chart, icicle_chart, ink, label_text
from fmd.charts.sunburst import SUNBURST, sunburst_chart

SCHEMA = load_schema()
ZOOM = "/dashboard/endpoint/3/grouped-profiler?start=2024-03-01&end=2024-03-07&root="
EVIL = "<script>alert(1)</script>"


def frame_row(key: str, parent: str | None, depth: int, x0: float, x1: float, label: str, **more: object) -> dict:
    row = {"key": key, "parent": parent, "depth": depth, "x0": x0, "x1": x1, "label": label,
           "file": f"/srv/app/{label}.py", "line": 10 + depth, "code": f"{label}()", "total": (x1 - x0) * 2.0,
           "mean": (x1 - x0) * 0.1, "share": x1 - x0}
    row.update(more)
    return row


ROWS = [frame_row("k0", None, 0, 0.0, 1.0, "search"), frame_row("k1", "k0", 1, 0.0, 0.75, "b"),
        frame_row("k2", "k0", 1, 0.75, 1.0, EVIL), frame_row("k/3 &x", "k1", 2, 0.0, 0.001, "tiny")]


def layers(spec: dict) -> dict[str, dict]:
    return {layer["mark"]["type"]: layer for layer in spec["layer"]}


def test_icicle_rects_with_tooltips_and_zoom_links() -> None:
    spec = icicle_chart(ROWS, ZOOM)
    validate_jsonschema(spec, SCHEMA)
    assert json.loads(json.dumps(spec)) == spec
    rect, text = layers(spec)["rect"], layers(spec)["text"]
    enc = rect["encoding"]
    assert (enc["x"]["field"], enc["x2"]["field"], enc["y"]["field"], enc["y2"]["field"]) == ("x0", "x1", "y0", "y1")
    assert enc["x"]["scale"]["domain"] == [0, 1] and enc["y"]["scale"]["reverse"] is True  # the root on top
    assert enc["href"]["field"] == "href" and text["encoding"]["href"]["field"] == "href"
    assert {t["field"] for t in enc["tooltip"]} >= {"label", "where", "code", "mean_ms", "total_ms", "share"}
    assert spec["width"] == "container" and spec["height"] == 3 * 22  # three levels
    data = spec["datasets"][ICICLE]
    assert [row["href"] for row in data][:3] == [ZOOM + "k0", ZOOM + "k1", ZOOM + "k2"]
    assert data[3]["href"] == ZOOM + "k/3%20%26x"  # a key is quoted into the URL
    assert data[0]["where"] == "/srv/app/search.py:10" and data[0]["mean_ms"] == 100.0
    assert data[2]["label"] == EVIL  # data, never markup: Vega renders text and tooltips as text
    assert data[0]["color"] != data[1]["color"] and data[0]["color"].startswith("#")
    assert data[3]["text"] == ""  # too narrow for a label
    assert {row["ink"] for row in data} <= {"black", "white"} and text["encoding"]["color"]["field"] == "ink"
    assert (ink("#ffffff"), ink("#000000"), ink("#ffeb3b"), ink("#1f5fbf")) == ("black", "white", "black", "white")


def test_labels_are_cut_to_fit() -> None:
    assert label_text("search", 1.0) == "search"
    assert label_text("a_very_long_function_name", 0.05) == "a_very…"  # 7 characters fit in 5 % of 1100 px
    assert label_text("anything", 0.01) == ""


def test_sunburst_arcs_take_the_layout_as_it_is() -> None:
    rows = [{**{k: v for k, v in row.items() if k not in ("x0", "x1")}, "theta0": row["x0"] * 2 * math.pi,
             "theta1": row["x1"] * 2 * math.pi, "r0": row["depth"], "r1": row["depth"] + 1} for row in ROWS]
    spec = sunburst_chart(rows, ZOOM)
    validate_jsonschema(spec, SCHEMA)
    assert json.loads(json.dumps(spec)) == spec
    assert spec["mark"]["type"] == "arc"
    enc = spec["encoding"]
    assert enc["theta"]["field"] == "theta0" and enc["theta"]["scale"] is None and enc["theta2"]["field"] == "theta1"
    assert enc["radius"]["field"] == "r0" and enc["radius2"]["field"] == "r1"
    assert enc["radius"]["scale"]["type"] == "linear" and enc["radius"]["scale"]["domain"] == [0, 3]
    assert enc["href"]["field"] == "href" and {t["field"] for t in enc["tooltip"]} >= {"label", "where", "share"}
    data = spec["datasets"][SUNBURST]
    assert data[1]["theta1"] == math.pi * 1.5 and data[2]["href"] == ZOOM + "k2"


def diff_row(key: str, depth: int, x0: float, x1: float, label: str, change: float) -> dict:
    return {**frame_row(key, None, depth, x0, x1, label), "base_mean": 0.01, "other_mean": 0.01 + change / 10,
            "base_share": 0.3, "other_share": 0.3 + change, "change": change, "change_s": change / 10}


def test_diff_is_coloured_by_change_on_a_diverging_scale() -> None:
    rows = [diff_row("r", 0, 0.0, 1.0, "search", 0.0), diff_row("b", 1, 0.0, 0.5, "b", -0.1),
            diff_row("c", 1, 0.5, 1.0, "c", 0.2), diff_row("gone", 1, 0.0, 0.0, "old", -0.3)]
    spec = diff_chart(rows)
    validate_jsonschema(spec, SCHEMA)
    assert json.loads(json.dumps(spec)) == spec
    rect = layers(spec)["rect"]["encoding"]
    color = rect["color"]
    assert color["field"] == "change" and color["type"] == "quantitative"
    # redblue reversed: positive change (grew) is red; the domain is symmetric around zero.
    assert color["scale"]["scheme"] == "redblue" and color["scale"]["reverse"] is True
    assert color["scale"]["domainMid"] == 0 and color["scale"]["domain"] == [-0.2, 0.2]
    assert "href" not in rect
    data = spec["datasets"][DIFF]
    assert [row["key"] for row in data] == ["r", "b", "c"]  # a frame only in the older tree has no width
    assert [row["ink"] for row in data] == ["black", "black", "white"]
    assert data[2]["change_ms"] == 20.0 and {t["field"] for t in rect["tooltip"]} >= {"base_ms", "other_ms", "change"}


def test_a_diff_without_change_keeps_a_minimal_scale() -> None:
    spec = diff_chart([diff_row("r", 0, 0.0, 1.0, "search", 0.0)])
    assert spec["layer"][0]["encoding"]["color"]["scale"]["domain"] == [-0.005, 0.005]


def test_charts_of_a_real_merged_tree() -> None:
    from fmd import trees

    view, a, b, c = (("/app/v.py", n, name, f"{name}()") for n, name in ((1, "view"), (2, "a"), (3, "b"), (4, "c")))
    base = trees.merge([trees.build({(a, b): 6, (a, c): 2}, 0.04, view) for _ in range(3)])
    other = trees.merge([trees.build({(a, b): 6, (a, c): 6}, 0.06, view) for _ in range(3)])
    icicle = icicle_chart(trees.icicle(other), ZOOM)
    sun = sunburst_chart(trees.sunburst(other), ZOOM)
    diff = diff_chart(trees.diff(base, other, 3, 3))
    for spec in (icicle, sun, diff):
        validate_jsonschema(spec, SCHEMA)
        json.dumps(spec)
    assert [row["label"] for row in icicle["datasets"][ICICLE]] == ["view", "a", "b", "c"]
    changes = {row["label"]: row["change"] for row in diff["datasets"][DIFF]}
    assert changes["c"] > 0 > changes["b"]
