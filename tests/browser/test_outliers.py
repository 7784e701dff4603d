"""In Chromium: the Outliers tab of an endpoint with stored outliers, swapped in by htmx; a row expands (htmx) into
its stack with the application frames highlighted and library frames folded; both charts are drawn; paging."""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest

from fmd.queries._range import utcnow
from fmd.store import writes

SHOTS = os.environ.get("FMD_TEST_SCREENSHOT")  # a path: keep a picture of the tab, to look at by eye
DRAWN = ".fmd-chart-view svg, .fmd-chart-view canvas"
MB = 1024 * 1024
STACK = [{"file": "/srv/app/views.py", "line": 12, "function": "index", "code": "return slow()", "app": True},
         {"file": "/usr/lib/python3/site-packages/sqlalchemy/engine/base.py", "line": 1412, "function": "execute",
          "code": "", "app": False},
         {"file": "/usr/lib/python3/site-packages/pymysql/connections.py", "line": 731, "function": "_read_packet",
          "code": "", "app": False},
         {"file": "/srv/app/models.py", "line": 40, "function": "slow", "code": "time.sleep(2)", "app": True}]


@pytest.fixture
def with_outliers(live_dashboard):  # noqa: ANN001, ANN201
    """30 outliers of "index" over the last days (the newest with a <script> URL), the endpoint at level 2."""
    state = live_dashboard.app.extensions["fmd"]
    store, t = state.store, state.store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, t, ["index"], {})["index"]
        for i in range(30):
            when = now - timedelta(hours=4 * i)
            conn.execute(t.outlier.insert().values(
                request_id=10_000 + i, endpoint_id=eid, time_requested=when, duration=1.5 + i / 10,
                status_code=200, version="1.0", average=0.1, method="GET",
                url="/?q=<script>alert('url')</script>" if i == 0 else f"/?page={i}",
                request_values=json.dumps({"query": [["page", str(i)]], "form": [], "json": None}),
                request_headers=json.dumps([["Host", "127.0.0.1"], ["User-Agent", "<script>alert('ua')</script>"]]),
                request_environment=json.dumps({"SERVER_NAME": "127.0.0.1"}), stacktrace=json.dumps(STACK),
                stack_at=0.5, cpu_percent=json.dumps([10.0 + i, 60.0 - i, 35.0]),
                memory=json.dumps({"rss": (120 + i) * MB, "system_percent": 40.0 + i / 2,
                                   "system_available": 4096 * MB}),
                cut=json.dumps([])))
    state.set_level("index", 2)
    return eid


def test_outliers_tab_expands_a_row_and_draws_its_charts(page, live_dashboard, login, with_outliers) -> None:  # noqa: ANN001
    warnings: list[str] = []  # Vega logs spec problems (e.g. a dropped autosize) as console warnings
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(f"{live_dashboard.dashboard}/endpoint/{with_outliers}")
    page.evaluate("window.fmdMarker = 'same page'")
    page.click("#fmd-tab-outliers")
    page.wait_for_url("**/endpoint/*/outliers?start=*")
    panel = page.locator("#fmd-tab-panel[data-tab='outliers']")
    panel.wait_for()
    rows = panel.locator("#fmd-outliers-table tr.fmd-outlier-row")
    assert rows.count() == 25
    first = rows.first
    assert "<script>alert('url')</script>" in first.locator(".fmd-outlier-url").inner_text()  # text, not markup

    # Both charts drawn by vega-embed.
    for chart in ("#fmd-outliers-cpu", "#fmd-outliers-memory"):
        panel.locator(f"{chart} " + DRAWN).first.wait_for()
    assert page.locator(".fmd-chart-error").count() == 0, page.locator(".fmd-chart-error").all_inner_texts()
    assert not warnings, warnings

    # A row expands below itself, through htmx (no page load).
    second = rows.nth(1)
    second_id = second.get_attribute("id")
    second.locator("a").first.click()
    detail = page.locator(f"#{second_id}-detail.fmd-outlier-detail")
    detail.wait_for()
    assert detail.is_visible()
    assert page.evaluate(f"document.getElementById('{second_id}').nextElementSibling.id") == f"{second_id}-detail"
    assert "stack taken 500 ms into the request" in detail.inner_text()
    app_frames = detail.locator("li.fmd-frame-app")
    assert app_frames.count() == 2 and app_frames.first.is_visible()
    assert "/srv/app/models.py" in app_frames.nth(1).inner_text()
    folded = detail.locator("details")
    assert folded.count() == 1 and "2 library frames" in folded.locator("summary").inner_text()
    library = folded.locator("li.fmd-frame").first
    assert not library.is_visible()  # folded until opened
    folded.locator("summary").click()
    assert library.is_visible() and "sqlalchemy/engine/base.py" in library.inner_text()
    assert "<script>alert('ua')</script>" in detail.inner_text()  # a header value, as text
    if SHOTS:
        page.screenshot(path=SHOTS, full_page=True)
    assert page.evaluate("window.fmdMarker") == "same page"

    # Older outliers: the pager swaps the tab in place and keeps the range in the URL.
    panel.locator(".fmd-pager a", has_text="Older").click()
    page.wait_for_url("**/outliers?start=*&page=2")
    page.locator("#fmd-tab-panel[data-tab='outliers'] .fmd-pager span", has_text="page 2 of 2").wait_for()
    assert page.locator("#fmd-outliers-table tr.fmd-outlier-row").count() == 5
    page.locator("#fmd-outliers-cpu " + DRAWN).first.wait_for()
    assert page.evaluate("window.fmdMarker") == "same page"


def test_a_row_opens_as_a_page_without_htmx(page, live_dashboard, login, with_outliers) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(f"{live_dashboard.dashboard}/endpoint/{with_outliers}/outliers")
    href = page.locator("#fmd-outliers-table tr.fmd-outlier-row a").first.get_attribute("href")
    page.goto(live_dashboard.base + href)
    assert page.locator("h1").inner_text() == "Outlier of index"
    assert page.locator("li.fmd-frame-app").count() == 2
    page.click("text=Back to the outliers")
    page.locator("#fmd-outliers-table").wait_for()
