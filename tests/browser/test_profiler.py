"""In Chromium: the Profiler tab swapped in by htmx, a request's tree expanded (hot path open) and its library frames
folded; the Grouped profiler tab with its icicle and sunburst drawn, a click on the icicle zooming in; the diff page
of two versions with its differential flame graph."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from profile_data import seed_profile, shape, with_library

from fmd.queries._range import utcnow
from fmd.store import writes

SHOTS = os.environ.get("FMD_TEST_SCREENSHOT")  # a path prefix: keep pictures of the pages, to look at by eye
DRAWN = ".fmd-chart-view svg, .fmd-chart-view canvas"


@pytest.fixture
def with_profiles(live_dashboard):  # noqa: ANN001, ANN201
    """30 profiled requests of "index" over the last days: 15 of version 1.0 then 15 of 2.0 (c() slower), the
    newest with library frames."""
    state = live_dashboard.app.extensions["fmd"]
    store, t = state.store, state.store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=1)
    cache: dict = {}
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, t, ["index"], {})["index"]
        for i in range(30):
            tree = with_library() if i == 0 else shape(30, 10 if i >= 15 else 40)
            seed_profile(conn, t, eid, 50_000 + i, now - timedelta(hours=4 * i), tree,
                         version="1.0" if i >= 15 else "2.0", interval_ms=5.5, cache=cache)
    return eid


def _drawn(page, chart: str) -> None:  # noqa: ANN001
    page.locator(f"{chart} " + DRAWN).first.wait_for()
    assert page.locator(".fmd-chart-error").count() == 0, page.locator(".fmd-chart-error").all_inner_texts()


def test_profiler_tabs_and_diff(page, live_dashboard, login, with_profiles) -> None:  # noqa: ANN001
    warnings: list[str] = []  # Vega logs spec problems as console warnings
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(f"{live_dashboard.dashboard}/endpoint/{with_profiles}")
    page.evaluate("window.fmdMarker = 'same page'")

    # The Profiler tab: a page of requests; one expands below itself into its tree, the hot path open.
    page.click("#fmd-tab-profiler")
    page.wait_for_url("**/endpoint/*/profiler?start=*")
    panel = page.locator("#fmd-tab-panel[data-tab='profiler']")
    rows = panel.locator("#fmd-profiles-table tr.fmd-profile-row")
    rows.first.wait_for()
    assert rows.count() == 25 and "every 5.5 ms" in panel.locator("#fmd-profiler-rate").inner_text()
    second_id = rows.nth(1).get_attribute("id")
    rows.nth(1).locator("a").first.click()
    detail = page.locator(f"#{second_id}-detail.fmd-profile-detail")
    detail.wait_for()
    hot = detail.locator(".fmd-pnode-hot")
    assert hot.count() == 3 and hot.last.is_visible() and "c" in hot.last.locator(".fmd-pnode-func").inner_text()
    assert detail.locator("details[open]").count() == 2
    b_leaf = detail.locator(".fmd-pnode-leaf", has_text="time.sleep(0.03)")
    assert b_leaf.is_visible()  # inside the open hot path

    # The newest request: its library frames fold into one node (htmx swaps the detail row).
    first_id = rows.first.get_attribute("id")
    rows.first.locator("a").first.click()
    first = page.locator(f"#{first_id}-detail.fmd-profile-detail")
    first.wait_for()
    assert "_read_packet" in first.text_content()  # inside a closed <details>: not the hot path
    first.locator("a.fmd-profile-fold").click()
    page.locator(f"#{first_id}-detail .fmd-pnode-fold", has_text="2 library frames").wait_for()
    assert "_read_packet" not in page.locator(f"#{first_id}-detail").text_content()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}-profiler.png", full_page=True)
    assert page.evaluate("window.fmdMarker") == "same page"

    # The Grouped profiler tab: table, icicle and sunburst.
    page.click("#fmd-tab-grouped-profiler")
    page.wait_for_url("**/endpoint/*/grouped-profiler?start=*")
    grouped = page.locator("#fmd-tab-panel[data-tab='grouped-profiler']")
    grouped.locator("#fmd-grouped-table").wait_for()
    assert grouped.locator("tr.fmd-grouped-row").count() >= 5
    _drawn(page, "#fmd-profile-icicle")
    _drawn(page, "#fmd-profile-sunburst")
    assert not warnings, warnings
    if SHOTS:
        page.screenshot(path=f"{SHOTS}-grouped.png", full_page=True)

    # A click on the icicle's root row (full width, just under the title) zooms: the page reloads with root=.
    view = page.locator("#fmd-profile-icicle .fmd-chart-view canvas, #fmd-profile-icicle .fmd-chart-view svg").first
    box = view.bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] - 33)  # a row near the bottom
    assert "root=" in page.url
    page.locator("#fmd-grouped-zoom", has_text="Reset zoom").wait_for()
    _drawn(page, "#fmd-profile-icicle")

    # What changed: version 1.0 against 2.0.
    page.click("#fmd-profiler-diff-link")
    page.locator("h1", has_text="What changed in index").wait_for()
    _drawn(page, "#fmd-profile-diff")
    assert page.locator("#fmd-diff-table tr.fmd-diff-row").first.locator("code").first.inner_text() == "c"
    page.select_option("#fmd-diff-versions select[name=base]", "2.0")
    page.select_option("#fmd-diff-versions select[name=other]", "1.0")
    with page.expect_navigation():
        page.click("#fmd-diff-versions button")
    assert "base=2.0" in page.url and "other=1.0" in page.url
    _drawn(page, "#fmd-profile-diff")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}-diff.png", full_page=True)
    assert not warnings, warnings
