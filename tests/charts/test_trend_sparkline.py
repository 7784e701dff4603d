"""The overview's sparklines (fmd.charts.sparkline.trend_sparklines): the spec written out as plain data equals
what Altair builds and validates (so the overview needs no Altair), bars per bucket, only non-zero ones."""

from __future__ import annotations

import json

from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import _theme, sparkline


def test_the_written_spec_is_altairs() -> None:
    for unit, buckets in (("Day", 7), ("Hour", 25)):
        built = _theme.build(sparkline._trend_sparkline, {}, {"domain": [-0.5, buckets - 0.5]}, unit, padding=0,
                             usermeta={"embedOptions": {"actions": False}})
        built.pop("datasets")
        assert sparkline.trend_spec(unit, buckets) == built, unit


def test_bars_per_bucket_with_labels_in_the_tooltip() -> None:
    labels = [f"2024-03-{d:02d}" for d in range(4, 11)]
    texts = sparkline.trend_sparklines_json({1: {1: 3, 5: 2, 6: 0}, 2: {}}, labels)
    assert set(texts) == {1}  # no requests: no chart
    spec = json.loads(texts[1])
    validate_jsonschema(spec, load_schema())
    assert spec == {**sparkline.trend_spec("Day", 7), "datasets": {"trend": [{"i": 1, "n": 3, "b": "2024-03-05"},
                                                                             {"i": 5, "n": 2, "b": "2024-03-09"}]}}
    assert spec["encoding"]["x"]["scale"]["domain"] == [-0.5, 6.5]
    assert spec["usermeta"] == {"embedOptions": {"actions": False}} and spec["width"] == sparkline.WIDTH
    assert len(texts[1]) < 1100  # travels once per table row


def test_the_json_text_is_safe_inside_a_script_element() -> None:
    text = sparkline.trend_sparklines_json({1: {0: 1}}, ["</script><b>'&"], "Hour")[1]
    assert not any(c in text for c in "<>&'")
    assert json.loads(text)["datasets"]["trend"][0]["b"] == "</script><b>'&"
    assert json.loads(text)["encoding"]["tooltip"][0]["title"] == "Hour"


def test_the_exceptions_sparkline_is_unchanged() -> None:
    spec = sparkline.sparkline_chart([{"day": "2024-03-05", "count": 2}], "2024-03-04", "2024-03-10")
    assert spec["mark"]["color"] == sparkline.COLOR and spec["datasets"]["sparkline"][0]["x"] == 0.6
