"""In Chromium: the Exceptions page with seeded groups: sparklines drawn, a row expanded into its traceback,
resolved and deleted through the admin's buttons (htmx, no reload), the endpoint filter; nothing from the app runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from exception_data import EVIL, group
from fmd.queries._range import floor_day, utcnow
from fmd.queries.overview import endpoints

from .conftest import EVIL_ENDPOINT


@pytest.fixture
def seeded(live_dashboard):  # noqa: ANN001, ANN201
    store = live_dashboard.app.extensions["fmd"].store
    with store.read() as conn:
        ids = {e["name"]: e["id"] for e in endpoints(conn, store.tables)}
    today = floor_day(utcnow())
    return {"ids": ids,
            "key": group(store, "builtins.KeyError", [(today - timedelta(days=2), ids["search"], "1.0", 3),
                                                      (today, ids["search"], "1.1", 2)], message="'sku'"),
            "evil": group(store, "app.EvilError", [(today - timedelta(days=1), ids[EVIL_ENDPOINT], "1.0", 1),
                                                   (today - timedelta(days=1), 0, "1.0", 1)], message=EVIL)}


def tbody(page, gid: int):  # noqa: ANN001, ANN201
    return page.locator(f"#fmd-exc-{gid}")


def test_expand_resolve_delete_and_filter(page, live_dashboard, login, seeded) -> None:  # noqa: ANN001
    page.add_init_script("window.alert = () => { window.fmdAlerted = true; }")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm of Delete
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/exceptions")
    key, evil = seeded["key"], seeded["evil"]
    assert page.locator("tbody.fmd-exc-group").count() == 2
    assert tbody(page, key).locator("code.fmd-exc-type").inner_text() == "builtins.KeyError"
    assert tbody(page, evil).locator(".fmd-exc-message").inner_text() == EVIL  # shown as text
    assert EVIL_ENDPOINT in tbody(page, evil).locator(".fmd-exc-endpoints").inner_text()
    page.locator(f"#fmd-spark-{key} svg, #fmd-spark-{key} canvas").first.wait_for()  # vega-embed drew it

    page.evaluate("window.fmdMarker = 'same page'")
    with page.expect_response(lambda r: r.url.endswith(f"/exceptions/{key}") and r.status == 200):
        tbody(page, key).locator("summary", has_text="Traceback").click()
    app_frames = tbody(page, key).locator(".fmd-frame-app")
    app_frames.first.wait_for()
    assert app_frames.count() == 2
    assert tbody(page, key).locator("details.fmd-frames-library .fmd-frame").count() == 2
    assert not tbody(page, key).locator("details.fmd-frames-library").get_attribute("open")  # folded
    assert "raise ValueError(message)" in tbody(page, key).locator("mark.fmd-failing").last.inner_text()
    assert "cart" in tbody(page, key).locator("table.fmd-locals").first.inner_text()

    with page.expect_response(lambda r: r.url.endswith(f"/exceptions/{key}/resolve") and r.status == 200):
        tbody(page, key).locator("button[data-action=resolve]").click()
    page.locator(f"#fmd-exc-{key}[data-state=resolved]").wait_for()
    assert tbody(page, key).locator("button[data-action=reopen]").is_visible()
    store = live_dashboard.app.extensions["fmd"].store
    from fmd.queries.exceptions import group_by_id
    with store.read() as conn:
        assert group_by_id(conn, store.tables, key)["resolved_versions"] == ["1.0", "1.1"]

    with page.expect_response(lambda r: r.url.endswith(f"/exceptions/{evil}/delete") and r.status == 200):
        tbody(page, evil).locator("button[data-action=delete]").click()
    tbody(page, evil).wait_for(state="detached")
    with store.read() as conn:
        assert group_by_id(conn, store.tables, evil) is None
    assert page.evaluate("window.fmdMarker") == "same page"

    # The filter: state "all" and one endpoint, swapped in by htmx and kept in the URL.
    with page.expect_response(lambda r: "state=all" in r.url):
        page.select_option("#fmd-exc-filter select[name=state]", "all")
    tbody(page, key).wait_for()
    # (htmx done swapping and settling: a change on a select it is about to replace would be lost)
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    with page.expect_response(lambda r: "endpoint=" in r.url):
        page.select_option("#fmd-exc-filter select[name=endpoint]", str(seeded["ids"]["search"]))
    page.wait_for_url(f"**/exceptions?**endpoint={seeded['ids']['search']}**")
    assert page.locator("tbody.fmd-exc-group").count() == 1
    assert page.evaluate("window.fmdMarker") == "same page"
    assert page.evaluate("window.fmdAlerted === undefined")


def test_endpoint_tab_and_overview_column(page, live_dashboard, login, seeded) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.viewer)
    page.goto(live_dashboard.dashboard + "/overview")
    link = page.locator("#fmd-overview-table tbody tr", has=page.locator("th.fmd-name", has_text="search")) \
        .locator("td.fmd-exc-count a")
    assert link.inner_text() == "1"
    link.click()
    page.wait_for_url(f"**/endpoint/{seeded['ids']['search']}/exceptions")
    assert page.locator("tbody.fmd-exc-group").count() == 1 and page.locator("[data-action]").count() == 0
    page.locator(f"#fmd-spark-{seeded['key']} svg, #fmd-spark-{seeded['key']} canvas").first.wait_for()
