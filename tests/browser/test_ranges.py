"""In Chromium: rolling ranges live in the URL (a link reproduces the view), keep across tabs and reloads, and
auto-refresh reloads the endpoint section on its own when switched on."""

from __future__ import annotations

import re

DRAWN = ".fmd-chart .fmd-chart-view svg, .fmd-chart .fmd-chart-view canvas"


def open_an_endpoint(page, live_dashboard) -> None:  # noqa: ANN001
    """From the overview, as a user would: the first endpoint's page."""
    page.goto(live_dashboard.dashboard + "/overview")
    page.click("#fmd-overview-table tbody a[href*='/endpoint/']")
    page.wait_for_url("**/endpoint/*")


def test_a_rolling_range_is_in_the_url_and_a_link_reproduces_it(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.goto(live_dashboard.dashboard + "/daily")
    page.locator(DRAWN).first.wait_for()
    page.click(".fmd-quick a:has-text('24 h')")
    page.wait_for_url("**/daily?last=24h")
    page.locator(DRAWN).first.wait_for()
    label = page.locator(".fmd-range-now").inner_text()
    assert re.search(r"the last 24 hours \(since (\d{4}-\d\d-\d\d )?\d\d:00\)", label), label
    assert page.locator(".fmd-quick a[aria-current=true]").inner_text() == "24 h"
    # The date inputs show the ISO dates the range touches, whatever the browser's locale.
    start = page.locator("input[name=start]").input_value()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", start)
    # A fresh page on the same URL shows the same view (a shared link).
    other = page.context.new_page()
    other.goto(page.url)
    other.locator(DRAWN).first.wait_for()
    assert other.locator(".fmd-range-now").inner_text() == label
    other.close()
    # The CSV of a range up to 72 hours is per hour.
    href = page.locator(".fmd-chart-actions a").first.get_attribute("href")
    assert "last=24h" in href
    body = page.request.get(live_dashboard.base + href).text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:00", body), body[:300]


def test_the_endpoint_page_keeps_a_rolling_range_across_tabs(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    open_an_endpoint(page, live_dashboard)
    page.evaluate("window.fmdMarker = 'same page'")
    page.click("#fmd-range .fmd-quick a:has-text('7 d')")
    page.wait_for_url("**/endpoint/*/hourly?last=7d")
    page.click("#fmd-tab-users")
    page.wait_for_url("**/users?last=7d")
    page.click("#fmd-tab-status-codes")
    page.wait_for_url("**/status-codes?last=7d")
    assert "the last 7 days" in page.locator("#fmd-range .fmd-range-now").inner_text()
    # Typing dates turns the rolling range into those calendar days.
    page.fill("#fmd-range input[name=start]", "2001-01-01")
    page.fill("#fmd-range input[name=end]", "2001-01-02")
    page.click("#fmd-range button[type=submit]")
    page.wait_for_url("**/status-codes?start=2001-01-01&end=2001-01-02")
    assert page.evaluate("window.fmdMarker") == "same page"


def test_auto_refresh_reloads_the_endpoint_section(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.clock.install()
    open_an_endpoint(page, live_dashboard)
    page.click(".fmd-refresh a:has-text('30 s')")
    page.wait_for_url("**refresh=30*")
    assert page.locator(".fmd-refresh a[aria-current=true]").inner_text() == "30 s"
    page.evaluate("document.querySelector('#fmd-endpoint').dataset.marker = 'old'")
    with page.expect_request(lambda r: "refresh=30" in r.url and r.headers.get("hx-target") == "fmd-endpoint"):
        page.clock.run_for(31_000)
    page.wait_for_function("!document.querySelector('#fmd-endpoint').dataset.marker")
    assert "refresh=30" in page.url and page.locator(".fmd-poller").count() == 1
    # Off again: no poller.
    page.click(".fmd-refresh a:has-text('off')")
    page.wait_for_function("!location.search.includes('refresh')")
    assert page.locator(".fmd-poller").count() == 0


def test_show_keeps_the_url_rolling_and_auto_refresh_follows_the_tab(admin_page, live_dashboard) -> None:  # noqa: ANN001
    """Show with the dates as they were asks for the rolling range alone (dates in the URL would pin it to those
    days once they no longer match); after a tab switch the poller and the refresh links are the new tab's."""
    page = admin_page
    page.clock.install()
    open_an_endpoint(page, live_dashboard)
    page.click("#fmd-range .fmd-quick a:has-text('24 h')")
    page.wait_for_url("**/hourly?last=24h")
    page.click(".fmd-refresh a:has-text('30 s')")
    page.wait_for_url("**/hourly?last=24h&refresh=30")
    page.click("#fmd-range button[type=submit]")
    page.wait_for_url(re.compile(r".*/hourly\?refresh=30&last=24h$"))
    page.click("#fmd-tab-status-codes")
    page.wait_for_url("**/status-codes?last=24h&refresh=30")
    assert all("/status-codes?" in (a.get_attribute("href") or "") for a in page.locator(".fmd-refresh a").all())
    with page.expect_request(lambda r: r.headers.get("hx-target") == "fmd-endpoint") as poll:
        page.clock.run_for(31_000)
    assert "/status-codes?last=24h&refresh=30" in poll.value.url
    page.wait_for_timeout(500)
    assert page.locator("#fmd-tab-status-codes[aria-current=page]").count() == 1
