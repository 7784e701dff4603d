"""In Chromium: the Reporting page lists a known regression first, switches comparisons in place (htmx, URL
kept), compares two versions and two ranges, and its links open the endpoint page; no console errors."""

from __future__ import annotations

import random
import time

import pytest

from rollup_data import record


@pytest.fixture
def admin_page(page, live_dashboard, login):  # noqa: ANN001, ANN201
    # A known regression on top of the demo traffic: "report.slow" got 60% slower in version "rc-2".
    rnd = random.Random(5)
    now = time.time()
    rows = {"rc-1": [], "rc-2": []}
    for version, median, hours_ago in (("rc-1", 0.05, 30), ("rc-2", 0.08, 1)):
        rows[version] = [("report.slow", median * rnd.lognormvariate(0, 0.3), now - hours_ago * 3600 - 5 * i, 200)
                         for i in range(150)]
        record(live_dashboard.app.extensions["fmd"].store, rows[version], version=version)
    login(page, live_dashboard.base, *live_dashboard.admin)
    return page


def test_reporting_page_in_the_browser(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.goto(live_dashboard.dashboard + "/reporting")
    first = page.locator(".fmd-report-row").first
    assert first.get_attribute("data-endpoint") == "report.slow"
    assert page.locator("table[data-verdict=regression] .fmd-report-row").count() >= 1
    assert page.locator("#fmd-report-outcome").inner_text().endswith("regressed.")

    page.evaluate("window.fmdMarker = 'same page'")
    page.click("#fmd-report-quick a:has-text('Today vs yesterday')")
    page.wait_for_url("**/reporting?compare=today")
    page.locator("#fmd-report-sides", has_text="today so far").wait_for()
    assert page.evaluate("window.fmdMarker") == "same page"  # swapped by htmx, not reloaded

    page.select_option("#fmd-report-versions select[name=b_version]", "rc-1")
    page.select_option("#fmd-report-versions select[name=c_version]", "rc-2")
    page.click("#fmd-report-versions button[type=submit]")
    page.wait_for_url("**/reporting?compare=versions&b_version=rc-1&c_version=rc-2")
    page.locator("#fmd-report-sides", has_text="version rc-1").wait_for()
    rows = page.locator("table[data-verdict=regression] .fmd-report-row")
    assert rows.count() == 1 and rows.first.get_attribute("data-endpoint") == "report.slow"
    assert rows.first.locator("a.fmd-report-diff").count() == 1

    page.fill("input[name=b_start]", "2001-01-01")
    page.fill("input[name=b_end]", "2001-01-02")
    page.fill("input[name=c_start]", "2001-01-03")
    page.fill("input[name=c_end]", "2001-01-04")
    page.click("#fmd-report-ranges button[type=submit]")
    page.locator("#fmd-report-empty").wait_for()
    assert page.evaluate("window.fmdMarker") == "same page"

    page.go_back()
    page.locator("#fmd-report-sides", has_text="version rc-1").wait_for()
    with page.expect_navigation():
        page.locator("table[data-verdict=regression] .fmd-report-row a").first.click()
    assert "/dashboard/endpoint/" in page.url
    assert page.locator("h1.fmd-endpoint-name", has_text="report.slow").count() == 1
