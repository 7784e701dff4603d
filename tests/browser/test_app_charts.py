"""In Chromium: every application-wide chart page loads its chart lazily and vega-embed draws it."""

from __future__ import annotations

from fmd.blueprints.app_charts import CHARTS

DRAWN = ".fmd-chart .fmd-chart-view svg, .fmd-chart .fmd-chart-view canvas"


def test_every_chart_page_draws_its_chart(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    warnings: list[str] = []  # Vega logs spec problems (e.g. dropped autosize) as console warnings
    page.on("console", lambda msg: warnings.append(f"{page.url}: {msg.text}") if msg.type == "warning" else None)
    for chart in CHARTS:
        page.goto(live_dashboard.dashboard + "/" + chart.endpoint.replace("_", "-"))
        page.locator(DRAWN).first.wait_for()
        assert not warnings, warnings
        containers = page.locator(".fmd-chart")
        assert containers.count() == 1, chart.endpoint
        assert containers.first.locator(".fmd-chart-view svg, .fmd-chart-view canvas").count() >= 1
        assert page.locator(".fmd-chart-error").count() == 0, page.locator(".fmd-chart-error").all_inner_texts()
        href = page.locator(".fmd-chart-actions a").get_attribute("href")
        assert ".csv?start=" in href
        download = page.request.get(live_dashboard.base + href)  # the page's cookies: logged in
        assert download.status == 200 and download.headers["content-type"].startswith("text/csv")


def test_range_change_redraws_and_stays_in_the_url(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.goto(live_dashboard.dashboard + "/daily")
    page.locator(DRAWN).first.wait_for()
    page.evaluate("window.fmdMarker = 'same page'")
    page.click(".fmd-quick a:has-text('30 d')")
    page.wait_for_url("**/daily?last=30d")
    page.locator(DRAWN).first.wait_for()
    assert page.evaluate("window.fmdMarker") == "same page"
    start = page.locator("input[name=start]").input_value()
    page.fill("input[name=start]", "2001-01-01")
    page.fill("input[name=end]", "2001-01-07")
    page.click(".fmd-range button[type=submit]")
    page.wait_for_url("**/daily?start=2001-01-01&end=2001-01-07")
    page.locator(".fmd-empty", has_text="No requests were recorded from 2001-01-01 to 2001-01-07").wait_for()
    page.go_back()
    page.wait_for_url("**/daily?last=30d")
    page.locator(DRAWN).first.wait_for()
    assert page.locator("input[name=start]").input_value() == start


def test_charts_follow_the_dark_colour_scheme(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.emulate_media(color_scheme="dark")
    page.goto(live_dashboard.dashboard + "/daily")
    title = page.locator(".fmd-chart-view svg .role-title-text text").first
    title.wait_for()
    assert title.get_attribute("fill") == "#fff"  # vega-embed's dark theme
    assert page.evaluate("getComputedStyle(document.querySelector('.fmd-chart-view svg')).backgroundColor") in (
        "rgba(0, 0, 0, 0)", "transparent")  # the page shows through, not a grey panel
    page.emulate_media(color_scheme="light")  # a scheme change redraws with the default theme
    page.locator(".fmd-chart-view svg .role-title-text text[fill='#000']").wait_for()
    assert page.locator(".fmd-chart-view svg.marks").count() == 1  # redrawn in place, not added


def test_without_javascript_only_the_link_shows(browser, live_dashboard, login) -> None:  # noqa: ANN001
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        login(page, live_dashboard.base, *live_dashboard.admin)
        page.goto(live_dashboard.dashboard + "/hourly")
        assert page.locator("noscript a", has_text="Show the chart").is_visible()
        assert page.locator(".fmd-loading").count() == 1 and not page.locator(".fmd-loading").is_visible()
    finally:
        context.close()
