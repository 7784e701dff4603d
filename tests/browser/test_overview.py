"""In Chromium: the overview table, its sorting and filtering through htmx, and the inline level control."""

from __future__ import annotations

from .conftest import EVIL_ENDPOINT


def row(page, name: str):  # noqa: ANN001, ANN201
    return page.locator("#fmd-overview-table tbody tr", has=page.locator("th.fmd-name", has_text=name))


def test_admin_changes_a_level_and_it_survives_a_reload(page, live_dashboard, login) -> None:  # noqa: ANN001
    page.add_init_script("window.alert = () => { window.fmdAlerted = true; }")
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/overview")
    assert page.locator("#fmd-overview-table tbody tr").count() >= 10  # demo endpoints and the host's own
    evil = row(page, EVIL_ENDPOINT)
    assert evil.locator("th").inner_text() == EVIL_ENDPOINT  # shown as text, never run
    assert page.evaluate("window.fmdAlerted === undefined")

    page.evaluate("window.fmdMarker = 'same page'")
    select = row(page, "search").locator("select[name=level]")
    assert select.input_value() == "1"
    with page.expect_response(lambda r: "/overview/level/" in r.url and r.status == 200):
        select.select_option("2")
    row(page, "search").locator("option[value='2'][selected]").wait_for(state="attached")
    assert page.evaluate("window.fmdMarker") == "same page"  # the row was swapped, the page not reloaded
    assert live_dashboard.app.extensions["fmd"].levels.table["search"] == 2

    page.reload()
    assert row(page, "search").locator("select[name=level]").input_value() == "2"


def test_sorting_and_filtering_keep_the_url(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/overview")
    page.evaluate("window.fmdMarker = 'same page'")
    with page.expect_response(lambda r: "sort=total" in r.url):
        page.click("th a[data-sort=total]")
    page.wait_for_url("**/overview?sort=total&dir=desc")
    page.locator("th[aria-sort=descending] a[data-sort=total]").wait_for()
    totals = [int(t.replace(",", "")) for t in page.locator("#fmd-overview-table tbody tr td:nth-child(5)").all_inner_texts()]
    assert totals == sorted(totals, reverse=True) and totals[0] > 100

    with page.expect_response(lambda r: "q=api" in r.url):
        page.fill("#fmd-q", "api")
    page.wait_for_url("**/overview?q=api&sort=total&dir=desc")
    names = page.locator("#fmd-overview-table tbody th.fmd-name").all_inner_texts()
    assert names and all("api" in n.lower() for n in names)
    assert page.evaluate("window.fmdMarker") == "same page"

    page.reload()  # a shared link shows the same table
    assert page.locator("#fmd-q").input_value() == "api"
    assert page.locator("#fmd-overview-table tbody th.fmd-name").all_inner_texts() == names


def test_a_viewer_sees_the_level_read_only(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.viewer)
    page.goto(live_dashboard.dashboard + "/overview")
    selects = page.locator("#fmd-overview-table select[name=level]")
    assert selects.count() >= 10
    assert all(selects.nth(i).is_disabled() for i in range(selects.count()))
    assert page.locator(".fmd-bulk").count() == 0


# ------------------------------------------------------------------------- issue 12: bulk, narrow, feedback
def levels(live, names: list[str]) -> list[int]:  # noqa: ANN001
    table = live.app.extensions["fmd"].levels.table
    return [table.get(n, 1) for n in names]


def shown_names(page) -> list[str]:  # noqa: ANN001
    return page.locator("#fmd-overview-table tbody th.fmd-name").all_inner_texts()


def test_bulk_change_is_confirmed_inline_with_javascript(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/overview?q=api&last=7d")
    names = shown_names(page)
    assert names and levels(live_dashboard, names) == [1] * len(names)
    page.evaluate("window.fmdMarker = 'same page'")
    assert page.locator("#fmd-bulk-level").input_value() == ""  # no level chosen yet
    page.select_option("#fmd-bulk-level", "2")
    with page.expect_response(lambda r: r.url.endswith("/overview/level") and r.status == 200):
        page.click("#fmd-bulk button[type=submit]")
    confirm = page.locator(".fmd-confirm")
    confirm.wait_for()
    assert f"Set {len(names)} endpoint" in confirm.inner_text()
    assert levels(live_dashboard, names) == [1] * len(names)  # asked, not done

    with page.expect_response(lambda r: "/overview?" in r.url):
        confirm.locator("a", has_text="Cancel").click()
    page.locator("#fmd-bulk select").wait_for()
    assert page.locator(".fmd-confirm").count() == 0 and levels(live_dashboard, names) == [1] * len(names)

    page.select_option("#fmd-bulk-level", "2")
    page.click("#fmd-bulk button[type=submit]")
    page.locator(".fmd-confirm button[type=submit]").click()
    page.locator(".fmd-notice", has_text=f"Level 2 set for {len(names)} endpoint").wait_for()
    assert levels(live_dashboard, names) == [2] * len(names)
    assert page.evaluate("window.fmdMarker") == "same page"
    assert "last=7d" in page.url and "q=api" in page.url


def test_bulk_change_is_confirmed_on_a_page_without_javascript(browser, live_dashboard) -> None:  # noqa: ANN001
    from .conftest import _login

    context = browser.new_context(java_script_enabled=False, viewport={"width": 1200, "height": 800})
    try:
        page = context.new_page()
        _login(page, live_dashboard.base, *live_dashboard.admin)
        page.goto(live_dashboard.dashboard + "/overview?q=api&sort=total&dir=desc")
        names = shown_names(page)
        page.select_option("#fmd-bulk-level", "0")
        with page.expect_navigation():
            page.click("#fmd-bulk button[type=submit]")
        assert page.url.endswith("/overview/level")
        text = page.locator(".fmd-confirm").inner_text()
        assert f"Set {len(names)} endpoint" in text and "turns monitoring off" in text
        assert levels(live_dashboard, names) == [1] * len(names)
        with page.expect_navigation():
            page.locator(".fmd-confirm button[type=submit]").click()
        assert "/overview?q=api&sort=total&dir=desc&bulk_level=0" in page.url
        assert page.locator(".fmd-notice").inner_text() == f"Level 0 set for {len(names)} endpoints."
        assert levels(live_dashboard, names) == [0] * len(names)
    finally:
        context.close()


def test_overview_at_400_pixels_scrolls_the_table_not_the_page(browser, live_dashboard) -> None:  # noqa: ANN001
    from .conftest import _login

    context = browser.new_context(viewport={"width": 400, "height": 800})
    try:
        page = context.new_page()
        _login(page, live_dashboard.base, *live_dashboard.admin)
        page.goto(live_dashboard.dashboard + "/overview?last=24h")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        wrap = page.locator(".fmd-overview-wrap")
        assert wrap.evaluate("el => el.scrollWidth > el.clientWidth + 100")  # the table is wider: it scrolls
        cell = page.locator("#fmd-overview-table tbody th.fmd-name").first
        assert cell.evaluate("el => getComputedStyle(el).position") == "sticky"
        left = cell.bounding_box()["x"]
        wrap.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        page.wait_for_timeout(100)
        assert wrap.evaluate("el => el.scrollLeft") > 100
        assert abs(cell.bounding_box()["x"] - left) < 1  # the endpoint column stayed in view
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()


def test_level_change_says_saved_or_goes_back(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/overview")
    select = row(page, "search").locator("select[name=level]")
    with page.expect_response(lambda r: "/overview/level/" in r.url and r.status == 200):
        select.select_option("3")
    saved = row(page, "search").locator(".fmd-saved")
    saved.wait_for()
    assert saved.is_visible() and saved.inner_text() == "Saved" and saved.get_attribute("role") == "status"

    # A refused change: the server's message is toasted and the select shows the stored level again.
    page.route("**/overview/level/**", lambda route: route.fulfill(
        status=400, content_type="text/html", body='<p class="fmd-error-message">level refused for the test</p>'))
    select = row(page, "search").locator("select[name=level]")
    with page.expect_response(lambda r: "/overview/level/" in r.url and r.status == 400):
        select.select_option("0")
    page.locator("#fmd-toast", has_text="level refused for the test").wait_for()
    page.wait_for_function("document.querySelector('#fmd-endpoint-' + %s + ' select').value === '3'"
                           % row(page, "search").get_attribute("id").split("-")[-1])
    page.fmd_errors.clear()  # the 400 is logged by the browser: expected here
    assert live_dashboard.app.extensions["fmd"].levels.table["search"] == 3
