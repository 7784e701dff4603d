"""Drill-down links, resolution titles, integer counts and status colours in the chart specs (no database)."""

from __future__ import annotations

import json

import pytest
from altair.utils.schemapi import validate_jsonschema
from altair.vegalite.v6.schema import load_schema

from fmd.charts import _theme, bars, boxplot, heatmap, status_time, versions

SCHEMA = load_schema()
OTHER = "other (2 endpoints)"
LINKS = {1: "/dashboard/endpoint/1?last=24h", 2: "/dashboard/endpoint/2?last=24h"}
BOX = {"p5": 1.0, "q1": 2.0, "median": 3.0, "q3": 4.0, "p95": 5.0}


def named(name: str, eid: int | None, **fields: object) -> dict:
    return {"endpoint": name, "endpoint_id": eid, "other": eid is None, **fields}


def specs() -> dict[str, tuple[dict, str]]:
    """chart -> (spec, dataset name), each with rows of endpoints 1 and 2 and "other"."""
    hourly = [named("a", 1, hour="2024-03-05 10:00", hits=3), named("b", 2, hour="2024-03-05 11:00", hits=2),
              named(OTHER, None, hour="2024-03-05 11:00", hits=1)]
    status = [{**row, "status": "200", "unrouted": False} for row in hourly] + [
        {"endpoint": "no route matched", "endpoint_id": None, "other": False, "unrouted": True,
         "hour": "2024-03-05 10:00", "status": "404", "hits": 7}]
    return {
        "daily": (bars.daily_chart(hourly, grain="hour", tz="Europe/Amsterdam", links=LINKS), bars.DAILY),
        "status": (bars.status_chart(status, grain="hour", tz="UTC", links=LINKS), bars.STATUS),
        "versions": (versions.versions_chart([named("a", 1, version="1", hits=1, share=1.0, order=0),
                                              named("b", 2, version="1", hits=1, share=1.0, order=0),
                                              named(OTHER, None, version="1", hits=1, share=1.0, order=0)],
                                             links=LINKS), versions.DATASET),
        "box": (boxplot.boxplot_chart([named("a", 1, hits=1, **BOX), named("b", 2, hits=1, **BOX),
                                       named(OTHER, None, hits=1, **BOX)], links=LINKS), boxplot.DATASET),
    }


def encodings(spec: dict) -> list[dict]:
    """Every encoding block of a spec (single, layered or faceted)."""
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "encoding" in node:
                found.append(node["encoding"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in spec.items() if k != "datasets"})
    return found


@pytest.mark.parametrize("name", ["daily", "status", "versions", "box"])
def test_endpoint_marks_link_to_their_page_and_other_does_not(name: str) -> None:
    spec, dataset = specs()[name]
    validate_jsonschema(spec, SCHEMA)
    marks = [enc for enc in encodings(spec) if "x" in enc or "y" in enc]
    assert marks and all(enc["href"] == {"field": "href", "type": "nominal"} for enc in marks)
    rows = spec["datasets"][dataset]
    assert {r["endpoint"]: r["href"] for r in rows} == {  # "" is no link; a missing one would read "undefined"
        "a": LINKS[1], "b": LINKS[2], OTHER: "", **({"no route matched": ""} if name == "status" else {})}
    assert "pointer" in json.dumps(spec)  # the cursor says the mark is a link


def test_without_links_no_row_has_an_href() -> None:
    spec = bars.daily_chart([named("a", 1, day="2024-03-05", hits=1)])
    assert spec["datasets"][bars.DAILY][0]["href"] == ""


def test_bars_say_their_resolution_and_zone_and_count_in_whole_numbers() -> None:
    daily = specs()["daily"][0]
    assert daily["title"] == "Requests per hour"
    assert daily["encoding"]["x"]["field"] == "hour" and daily["encoding"]["x"]["title"] == "Hour (Europe/Amsterdam)"
    assert daily["encoding"]["tooltip"][0]["title"] == "Hour (Europe/Amsterdam)"
    assert daily["encoding"]["y"]["axis"]["format"] == ",d" and daily["encoding"]["y"]["axis"]["tickMinStep"] == 1
    per_day = bars.daily_chart([named("a", 1, day="2024-03-05", hits=1)], tz="UTC")
    assert per_day["title"] == "Requests per day" and per_day["encoding"]["x"]["title"] == "Day (UTC)"
    status = specs()["status"][0]["spec"]["encoding"]
    assert status["x"]["field"] == "hour" and status["y"]["axis"]["format"] == ",d"
    assert status["y"]["axis"]["tickMinStep"] == 1
    one = status_time.status_time_chart([{"time": "2024-03-05 10:00", "status": "200", "hits": 1}], "t", "Hour (UTC)")
    assert one["encoding"]["y"]["axis"]["format"] == ",d" and one["encoding"]["x"]["title"] == "Hour (UTC)"


def test_status_small_multiples_wrap_in_columns_and_no_route_comes_last() -> None:
    spec = specs()["status"][0]
    assert spec["columns"] == 3 and spec["spec"]["width"] == bars.STATUS_WIDTHS[3]
    assert spec["facet"]["field"] == "endpoint"
    rows = sorted(spec["datasets"][bars.STATUS], key=lambda r: r["rank"])
    assert list(dict.fromkeys(r["endpoint"] for r in rows))[-1] == "no route matched"
    two = bars.status_chart([{**named("a", 1, day="2024-03-05", hits=1), "status": "200"}])
    assert two["columns"] == 1 and two["spec"]["width"] == bars.STATUS_WIDTHS[1]


def test_unrouted_rows_are_never_folded_into_other() -> None:
    rows = [{**named(f"e{i}", i, day="2024-03-05", hits=100 - i), "status": "200"} for i in range(12)]
    rows.append({"endpoint": "no route matched", "endpoint_id": None, "other": False, "unrouted": True,
                 "day": "2024-03-05", "status": "404", "hits": 500})
    folded = bars.fold_status(rows, top=3)
    order = list(dict.fromkeys(r["endpoint"] for r in folded))
    assert order == ["e0", "e1", "e2", "other (9 endpoints)", "no route matched"]
    assert [r["hits"] for r in folded if r["endpoint"] == "no route matched"] == [500]


def test_404_and_500_look_clearly_different() -> None:
    def rgb(code: str) -> tuple[int, ...]:
        colour = _theme.status_color(code)
        return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))

    a, b = rgb("404"), rgb("500")
    assert sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5 > 120  # far apart in RGB
    luma = [0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] for c in (a, b)]
    assert abs(luma[0] - luma[1]) > 60  # and in lightness, for readers who do not tell orange from red
    common = ["200", "201", "204", "301", "302", "304", "400", "401", "403", "404", "405", "409", "422", "429",
              "500", "502", "503", "504"]
    assert len({_theme.status_color(c) for c in common}) == len(common)


def test_heatmap_links_days_and_counts_in_whole_numbers() -> None:
    rows = [{"day": "2024-03-05", "hour": h, "hits": h % 2} for h in range(24)]
    link = "/dashboard/hourly?start=2024-03-05&end=2024-03-05"
    spec = heatmap.heatmap_chart(rows, "UTC", day_links={"2024-03-05": link})
    validate_jsonschema(spec, SCHEMA)
    assert {r["href"] for r in spec["datasets"][heatmap.DATASET]} == {link}
    color = spec["encoding"]["color"]
    assert color["legend"]["format"] == ",d" and color["legend"]["tickMinStep"] == 1
    assert color["scale"]["domainMin"] == 0
    axis = spec["encoding"]["x"]["axis"]
    assert axis["labelOverlap"] == "parity" and spec["width"] == "container"  # labels thin out when narrow
    assert spec["encoding"]["href"]["field"] == "href"
