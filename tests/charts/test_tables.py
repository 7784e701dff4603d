"""The data tables behind the charts (fmd.charts.tables): human columns only, formatted cells, a capped length."""

from __future__ import annotations

from datetime import datetime

import pytest

from fmd.charts import tables

INTERNAL = {"other", "order", "rank", "endpoint_id", "href", "x", "x2", "position", "label", "dark", "_o"}


def labels(table: tables.Table) -> list[str]:
    return [c.label for c in table.columns]


@pytest.mark.parametrize("fmt, value, text", [
    (tables.count, 1234567, "1,234,567"), (tables.ms, 0.4249, "0.42"), (tables.ms, 8.256, "8.26"),
    (tables.ms, 83.24, "83.2"), (tables.ms, 9.996, "10.0"), (tables.ms, 99.96, "100"), (tables.ms, 1234.4, "1,234"), (tables.percent, 0.1234, "12.3 %"),
    (tables.percent, 1, "100.0 %"), (tables.number, 1234.5678, "1,234.57"), (tables.number, 0.000123, "0.000123"),
    (tables.hour, 7, "07:00"), (tables.hour, "2024-03-05 14:00", "2024-03-05 14:00"),
    (tables.short_duration, 83.4, "83 ms"), (tables.short_duration, 1234, "1.2 s")])
def test_cells_are_formatted_for_reading(fmt, value, text) -> None:  # noqa: ANN001
    assert fmt(value) == text


def test_app_charts_show_human_columns_only() -> None:
    versions = [{"endpoint": "<b>a</b>", "endpoint_id": 3, "other": False, "version": "1.0", "hits": 1200,
                 "share": 0.75, "order": 0, "href": "/dashboard/endpoint/3"}]
    table = tables.for_app_chart("versions", versions, "UTC")
    assert labels(table) == ["Endpoint", "Version", "Requests", "Share of the endpoint"]
    assert table.rows == (("<b>a</b>", "1.0", "1,200", "75.0 %"),)  # escaping is the template's job
    assert [c.numeric for c in table.columns] == [False, False, True, True]
    boxes = [{"endpoint": "a", "endpoint_id": 1, "other": False, "hits": 9, "p5": 0.5, "q1": 1.25, "median": 12.34,
              "q3": 150.2, "p95": 2345.6}]
    table = tables.for_app_chart("performance", boxes, "UTC")
    assert labels(table) == ["Endpoint", "Requests", "p5 (ms)", "p25 (ms)", "Median (ms)", "p75 (ms)", "p95 (ms)"]
    assert table.rows == (("a", "9", "0.50", "1.25", "12.3", "150", "2,346"),)
    for name in ("hourly", "versions", "daily", "performance", "status_codes"):
        assert not INTERNAL & {c.key for c in tables.KINDS[name][1]}, name


def test_charts_over_time_show_the_bucket_their_rows_have() -> None:
    by_day = [{"day": "2024-03-05", "endpoint": "a", "endpoint_id": 1, "other": False, "hits": 3}]
    by_hour = [{"hour": "2024-03-05 14:00", "endpoint": "a", "endpoint_id": 1, "other": False, "hits": 3}]
    assert labels(tables.for_app_chart("daily", by_day, "UTC")) == ["Day", "Endpoint", "Requests"]
    hourly = tables.for_app_chart("daily", by_hour, "Europe/Amsterdam")
    assert labels(hourly) == ["Hour", "Endpoint", "Requests"] and hourly.rows[0][0] == "2024-03-05 14:00"
    assert hourly.caption == "Requests per endpoint over time (Europe/Amsterdam)"
    status = [{"endpoint": "a", "endpoint_id": None, "other": True, "day": "2024-03-05", "status": "404", "hits": 2}]
    assert labels(tables.for_app_chart("status_codes", status, "UTC")) == ["Endpoint", "Day", "Status", "Requests"]


def test_hourly_load_lists_the_hours_with_requests() -> None:
    rows = [{"day": "2024-03-05", "hour": h, "hits": 1000 * h if h in (0, 9, 23) else 0} for h in range(24)]
    table = tables.for_app_chart("hourly", rows, "UTC")
    assert labels(table) == ["Day", "Hour", "Requests"]
    assert table.rows == (("2024-03-05", "09:00", "9,000"), ("2024-03-05", "23:00", "23,000"))
    assert table.total == 2 and not table.truncated


def test_endpoint_tabs_name_the_endpoint_and_leave_out_drawing_fields() -> None:
    rows = [{"user": "alice", "other": False, "version": "1.0", "hits": 40, "mean_ms": 12.5, "rank": 0, "order": 0}]
    table = tables.for_endpoint_tab("users", rows, "<script>", "UTC")
    assert table.caption == "<script>: mean duration per user and version"
    assert labels(table) == ["User", "Version", "Requests", "Mean (ms)"] and table.rows == (("alice", "1.0", "40",
                                                                                              "12.5"),)
    ips = tables.for_endpoint_tab("ips", [{**rows[0], "ip": "10.0.0.1"}], "e", "UTC")
    assert labels(ips)[0] == "IP address" and ips.rows[0][0] == "10.0.0.1"
    status = tables.for_endpoint_tab("status_codes", [{"time": "2024-03-05 10:00", "status": "500", "hits": 2}],
                                     "e", "Asia/Tokyo")
    assert labels(status) == ["Time", "Status", "Requests"] and status.caption.endswith("(Asia/Tokyo)")
    box = {"hits": 5, "p5": 1.0, "q1": 2.0, "median": 3.0, "q3": 4.0, "p95": 5.0, "order": 1, "position": 0}
    assert labels(tables.for_endpoint_tab("version_performance", [{"version": "2", **box}], "e", "UTC"))[:2] == [
        "Version", "Requests"]
    assert labels(tables.for_endpoint_tab("user_performance", [{"user": "u", "other": True, **box}], "e", "UTC"))[
        :2] == ["User", "Requests"]
    assert tables.for_endpoint_tab("outliers", [], "e", "UTC") is None  # a tab without a chart of rows


def test_long_tables_stop_at_the_limit_and_say_so() -> None:
    rows = [{"day": f"d{i}", "endpoint": "a", "hits": i} for i in range(tables.LIMIT + 20)]
    table = tables.for_app_chart("daily", rows, "UTC")
    assert len(table.rows) == tables.LIMIT and table.total == tables.LIMIT + 20 and table.truncated
    assert table.rows[-1][0] == f"d{tables.LIMIT - 1}"
    small = tables.build(rows[:3], tables.KINDS["daily"][1], "c", limit=2)
    assert len(small.rows) == 2 and small.total == 3 and small.truncated


def test_missing_values_show_a_dash_and_empty_rows_keep_their_headings() -> None:
    table = tables.for_outliers_memory([{"id": 1, "time_requested": datetime(2024, 3, 5, 23, 30), "rss_mb": 51.25,
                                         "system_percent": None}], "Europe/Amsterdam")
    assert labels(table) == ["Time (Europe/Amsterdam)", "Process RSS (MB)", "System memory used (%)"]
    assert table.rows == (("2024-03-06 00:30:00", "51.2", "–"),)  # local time: CET is UTC+1
    empty = tables.for_app_chart("versions", [], "UTC")
    assert empty.rows == () and empty.total == 0 and labels(empty)[0] == "Endpoint"


def test_custom_graphs_outliers_and_profile_diffs() -> None:
    plain = tables.for_custom_graph("Queue <len>", [{"time": datetime(2024, 3, 5, 10), "value": 12345.678}], "UTC",
                                    bucketed=False)
    assert plain.caption == "Queue <len>: values over time" and labels(plain) == ["Time (UTC)", "Value"]
    assert plain.rows == (("2024-03-05 10:00:00", "12,345.7"),)
    banded = tables.for_custom_graph("q", [{"time": "2024-03-05 10:00:00", "value": 1.5, "low": 1, "high": 2,
                                            "count": 1500}], "UTC", bucketed=True)
    assert labels(banded) == ["From (UTC)", "Mean", "Min", "Max", "Values"]
    assert banded.rows == (("2024-03-05 10:00:00", "1.5", "1", "2", "1,500"),)
    cpu = tables.for_outliers_cpu([{"core": 0, "outliers": 3, "min": 1.0, "q1": 2.25, "median": 50.0, "q3": 75.5,
                                    "max": 99.94, "mean": 45.0}])
    assert cpu.rows == (("0", "3", "1.0", "2.2", "50.0", "75.5", "99.9", "45.0"),)
    diff = tables.for_profile_diff([
        {"key": "k", "depth": 0, "x0": 0, "x1": 1, "label": "root", "base_mean": 0.1, "other_mean": 0.15,
         "change_s": 0.05, "base_share": 1.0, "other_share": 1.0, "change": 0.0},
        {"key": "k2", "depth": 1, "x0": 0, "x1": 1, "label": "app.py:3 f", "base_mean": 0.0004, "other_mean": 0.0,
         "change_s": -0.0004, "base_share": 0.004, "other_share": 0.0, "change": -0.004}])
    assert labels(diff)[0] == "Frame" and "key" not in {c.key for c in diff.columns}
    assert diff.rows[1][:5] == ("\u00a0\u00a0app.py:3 f", "1", "0.40", "0.00", "-0.40")
