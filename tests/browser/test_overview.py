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
