"""In Chromium: the endpoint page reached from the overview, every tab swapped in by htmx and drawn, the range
control following the tab, the level control, a purge through its confirmation, a <script> name shown as text."""

from __future__ import annotations

import re

import pytest

from fmd.blueprints.endpoint import TABS

DRAWN = ".fmd-chart-view svg, .fmd-chart-view canvas"


@pytest.fixture
def admin_page(page, live_dashboard, login):  # noqa: ANN001, ANN201
    login(page, live_dashboard.base, *live_dashboard.admin)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.fmd_dialogs = dialogs
    return page


def open_endpoint(page, live_dashboard, name: str) -> None:  # noqa: ANN001
    page.goto(live_dashboard.dashboard + "/overview")
    with page.expect_navigation():
        page.locator("#fmd-overview-table th.fmd-name a").filter(has_text=re.compile(f"^{re.escape(name)}$")).click()
    assert "/dashboard/endpoint/" in page.url


def test_every_tab_draws_its_chart(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    warnings: list[str] = []  # Vega logs spec problems (e.g. dropped autosize) as console warnings
    page.on("console", lambda msg: warnings.append(f"{page.url}: {msg.text}") if msg.type == "warning" else None)
    open_endpoint(page, live_dashboard, "index")
    assert page.locator("h1.fmd-endpoint-name").inner_text() == "index"
    page.locator("#fmd-tab-panel " + DRAWN).first.wait_for()
    page.evaluate("window.fmdMarker = 'same page'")
    for tab in TABS:
        page.click(f"#fmd-tab-{tab.path}")
        page.wait_for_url(f"**/endpoint/*/{tab.path}?start=*")
        panel = page.locator(f"#fmd-tab-panel[data-tab='{tab.path}']")
        panel.wait_for()
        if tab.draw:
            panel.locator(DRAWN).first.wait_for()
            charts = panel.locator(".fmd-chart")
            assert charts.count() == 1, tab.name
            assert charts.first.locator(DRAWN).count() >= 1, tab.name
            assert ".csv?start=" in panel.locator(".fmd-chart-actions a").get_attribute("href")
            assert not warnings, warnings
        elif tab.load:
            panel.locator("#fmd-versions-table tbody tr").first.wait_for()
        # (a tab with its own panel, outliers or exceptions, has its own browser test)
        assert page.locator(".fmd-chart-error").count() == 0, page.locator(".fmd-chart-error").all_inner_texts()
        assert page.locator(".fmd-tab-list a[aria-current=page]").get_attribute("id") == f"fmd-tab-{tab.path}"
        # The header's range control now reloads this tab (it came out of band with the tab).
        assert page.locator("#fmd-range").get_attribute("action").endswith(f"/{tab.path}")
    assert page.evaluate("window.fmdMarker") == "same page"  # htmx swapped the tabs: no page load

    page.click("#fmd-tab-versions")  # (the last chart tab: the range control below reloads it)
    page.wait_for_url("**/endpoint/*/versions?start=*")
    page.click("#fmd-range .fmd-quick a:has-text('30 d')")
    page.wait_for_url("**/versions?last=30d")
    page.locator("#fmd-tab-panel[data-tab='versions'] #fmd-versions-table").wait_for()
    page.fill("#fmd-range input[name=start]", "2001-01-01")
    page.fill("#fmd-range input[name=end]", "2001-01-07")
    page.click("#fmd-range button[type=submit]")
    page.wait_for_url("**/versions?start=2001-01-01&end=2001-01-07")
    page.locator(".fmd-empty", has_text="were recorded from 2001-01-01 to 2001-01-07").wait_for()
    page.click("#fmd-tab-users")  # the tabs keep the range
    page.wait_for_url("**/users?start=2001-01-01&end=2001-01-07")
    page.go_back()
    page.wait_for_url("**/versions?start=2001-01-01&end=2001-01-07")
    assert page.evaluate("window.fmdMarker") == "same page"
    assert not page.fmd_dialogs


def test_level_and_purge_from_the_header(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    open_endpoint(page, live_dashboard, "items")
    with page.expect_response(lambda r: r.url.endswith("/level") and r.status == 200):
        page.select_option(".fmd-endpoint-head select[name=level]", "3")
    page.locator(".fmd-endpoint-head select[name=level] option[value='3'][selected]").wait_for(state="attached")
    assert live_dashboard.app.extensions["fmd"].levels.table["items"] == 3
    page.reload()
    assert page.locator(".fmd-endpoint-head select[name=level]").input_value() == "3"

    with page.expect_navigation():
        page.click("text=Purge recorded data…")
    page.check("input[name=confirm]")
    with page.expect_navigation():
        page.click("button:has-text('Purge the data')")
    page.locator(".fmd-notice", has_text="Purged the data of “items” recorded so far").wait_for()
    page.locator(".fmd-empty", has_text="No requests of “items” were recorded").wait_for()
    assert page.locator("h1.fmd-endpoint-name").inner_text() == "items"


def test_a_script_endpoint_name_is_text(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    open_endpoint(page, live_dashboard, live_dashboard.evil_endpoint)
    assert page.locator("h1.fmd-endpoint-name").inner_text() == live_dashboard.evil_endpoint
    page.locator("#fmd-tab-panel " + DRAWN).first.wait_for()
    page.click("#fmd-tab-users")
    page.locator("#fmd-tab-panel[data-tab='users'] " + DRAWN).first.wait_for()
    assert not page.fmd_dialogs and page.evaluate("document.querySelectorAll('main script:not([type])').length") == 0
