"""In Chromium with JavaScript off, every chart is still readable: "Show the chart" and the endpoint tabs lead to
a page whose data table is open; with JavaScript on, the table waits behind its <details> and opens on a click."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from sqlalchemy import select

DRAWN = ".fmd-chart .fmd-chart-view svg, .fmd-chart .fmd-chart-view canvas"
SHOWN_TABLE = "details.fmd-chart-table[open]:visible"


@pytest.fixture
def nojs_page(browser, live_dashboard, login) -> Iterator[Any]:  # noqa: ANN001
    context = browser.new_context(java_script_enabled=False, viewport={"width": 400, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    login(page, live_dashboard.base, *live_dashboard.admin)  # a plain form post: works without scripts
    yield page
    context.close()


def endpoint_id(live: Any, name: str) -> int:
    store = live.app.extensions["fmd"].store
    with store.read() as conn:
        return conn.execute(select(store.tables.endpoint.c.id).where(store.tables.endpoint.c.name == name)).scalar_one()


def rows_of(table: Any) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in table.locator("tbody tr").all()]


def test_show_the_chart_leads_to_an_open_data_table(nojs_page, live_dashboard) -> None:  # noqa: ANN001
    page = nojs_page
    page.goto(live_dashboard.dashboard + "/daily")
    link = page.get_by_role("link", name="Show the chart")
    assert link.is_visible()
    with page.expect_navigation():
        link.click()
    assert "/daily/chart?" in page.url
    table = page.locator(SHOWN_TABLE)
    assert table.count() == 1
    assert page.locator("details.fmd-chart-table-js").is_hidden()  # the closed copy (for scripts) is hidden
    assert page.locator(".fmd-chart-view").is_hidden()  # and so is the empty drawing box
    headers = table.locator("thead th").all_inner_texts()
    assert headers[-2:] == ["Endpoint", "Requests"], headers
    rows = rows_of(table)
    assert len(rows) > 7 and all(row[-1].replace(",", "").isdigit() for row in rows)
    summary = table.locator("summary").inner_text()
    assert summary == f"Data table ({len(rows):,} rows)" or "first" in table.locator("caption").inner_text()
    # Closing and opening the table needs no script either.
    table.locator("summary").click()
    assert page.locator("details.fmd-chart-table[open]").count() == 0


def test_an_endpoint_tab_shows_its_table_and_escapes_names(nojs_page, live_dashboard) -> None:  # noqa: ANN001
    page = nojs_page
    evil = live_dashboard.evil_endpoint
    page.goto(f"{live_dashboard.dashboard}/endpoint/{endpoint_id(live_dashboard, evil)}")
    table = page.locator(SHOWN_TABLE)
    assert table.count() == 1  # hourly load
    assert table.locator("caption").inner_text().startswith(evil + ": requests per day and hour")  # text, not markup
    assert rows_of(table) and all(row[1].endswith(":00") for row in rows_of(table))
    page.goto(f"{live_dashboard.dashboard}/endpoint/{endpoint_id(live_dashboard, 'api.items')}")
    with page.expect_navigation():
        page.click("#fmd-tab-users")  # a plain link without JavaScript
    assert "/users" in page.url
    table = page.locator(SHOWN_TABLE)
    assert table.locator("thead th").all_inner_texts() == ["User", "Version", "Requests", "Mean (ms)"]
    rows = rows_of(table)
    assert rows and all(float(row[3].replace(",", "")) > 0 for row in rows)


def test_with_javascript_the_table_waits_behind_its_summary(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/performance")
    page.locator(DRAWN).first.wait_for()  # loaded by htmx: a fragment, one closed copy
    details = page.locator("details.fmd-chart-table")
    assert details.count() == 1 and details.get_attribute("open") is None
    view = page.locator(".fmd-chart-view")
    assert view.get_attribute("role") == "img" and "data table below" in view.get_attribute("aria-label")
    assert details.locator("table").is_hidden()
    details.locator("summary").click()
    assert details.get_attribute("open") is not None and details.locator("table").is_visible()
    assert details.locator("thead th").first.inner_text() == "Endpoint"
    assert len(rows_of(details)) >= 2
    # A whole page with JavaScript (an endpoint tab opened directly): the <noscript> copy stays inert.
    page.goto(f"{live_dashboard.dashboard}/endpoint/{endpoint_id(live_dashboard, 'api.items')}/users")
    page.locator(DRAWN).first.wait_for()
    assert page.locator("details.fmd-chart-table").count() == 1
    assert page.locator("details.fmd-chart-table").get_attribute("open") is None
    assert page.locator("details.fmd-chart-table").is_visible()
