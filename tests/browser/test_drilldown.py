"""In Chromium: a click on a mark that stands for an endpoint opens that endpoint's page with the same range, and a
click on a day of the Hourly load heatmap narrows the range to that day (Vega's own href handler, no script of
ours). Marks are found by the label Vega gives each one (aria-label, built from its encoded fields)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

ENDPOINT = "api.items"  # a host route the live dashboard's demo traffic and real requests both hit


def mark(page, role: str, *parts: str):  # noqa: ANN001, ANN201
    """The first drawn mark of *role* (Vega's aria-roledescription) whose label holds every one of *parts*."""
    selector = f'.fmd-chart-view svg [aria-roledescription="{role}"]'
    page.locator(selector).first.wait_for()
    for part in parts:
        selector += f'[aria-label*="{part}"]'
    found = page.locator(selector)
    assert found.count() >= 1, (role, parts)
    return found.first


def today() -> date:
    return datetime.now(timezone.utc).date()  # the live dashboard's TIMEZONE is UTC


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def open_from(page, live_dashboard, path: str, role: str, *parts: str) -> str:  # noqa: ANN001
    """Load chart page *path*, click the mark, wait for the endpoint page; returns its URL."""
    page.goto(live_dashboard.dashboard + path)
    target = mark(page, role, *parts)
    with page.expect_navigation():
        target.click()
    return page.url


@pytest.mark.parametrize("path, role", [("/daily", "bar"), ("/performance", "bar"), ("/versions", "text mark"),
                                        ("/status-codes", "bar")])
def test_an_endpoint_mark_opens_its_page_with_the_same_range(admin_page, live_dashboard, path: str,
                                                             role: str) -> None:  # noqa: ANN001
    page = admin_page
    first, last = today() - timedelta(days=6), today()
    for args, expected in ((f"start={first}&end={last}", {"start": [str(first)], "end": [str(last)]}),
                           ("last=24h", {"last": ["24h"]})):
        url = open_from(page, live_dashboard, f"{path}?{args}", role, f"Endpoint: {ENDPOINT};")
        assert re.search(r"/dashboard/endpoint/\d+\?", url), url
        assert query(url) == expected, url
        page.locator("h1", has_text=ENDPOINT).wait_for()  # that endpoint's page, not another's
        if "start" in expected:
            assert page.locator("input[name=start]").input_value() == str(first)


def test_other_and_no_route_matched_do_not_link(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.goto(live_dashboard.dashboard + "/status-codes?days=7")
    unrouted = mark(page, "bar", "Endpoint: no route matched;")  # the live dashboard asked for /no-such-page
    assert "href: /" not in (unrouted.get_attribute("aria-label") or "")  # Vega labels a missing one "undefined"
    before = page.url
    unrouted.click()
    page.wait_for_timeout(500)
    assert page.url == before


def test_a_heatmap_day_narrows_the_range(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    day = str(today() - timedelta(days=1))
    url = open_from(page, live_dashboard, "/hourly?days=7", "rect mark", f"Day: {day};")
    assert urlsplit(url).path.endswith("/dashboard/hourly") and query(url) == {"start": [day], "end": [day]}
    mark(page, "rect mark", f"Day: {day};")  # the narrowed page draws that day's row
    assert page.locator(f'.fmd-chart-view svg [aria-roledescription="rect mark"]:not([aria-label*="Day: {day};"])'
                        ).count() == 0


def test_an_endpoint_heatmap_day_narrows_the_tab(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    open_from(page, live_dashboard, "/daily?days=7", "bar", f"Endpoint: {ENDPOINT};")
    eid = re.search(r"/endpoint/(\d+)", page.url)[1]
    day = str(today() - timedelta(days=1))
    url = open_from(page, live_dashboard, f"/endpoint/{eid}/hourly?days=7", "rect mark", f"Day: {day};")
    assert urlsplit(url).path.endswith(f"/endpoint/{eid}/hourly") and query(url) == {"start": [day], "end": [day]}


def test_hourly_resolution_draws_without_warnings(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    warnings: list[str] = []  # Vega logs spec problems as console warnings
    page.on("console", lambda msg: warnings.append(f"{page.url}: {msg.text}") if msg.type == "warning" else None)
    for path in ("/daily", "/status-codes", "/hourly", "/performance", "/versions"):
        page.goto(f"{live_dashboard.dashboard}{path}?last=24h")
        page.locator(".fmd-chart-view svg [aria-roledescription]").first.wait_for()
        assert page.locator(".fmd-chart-error").count() == 0
        if path in ("/daily", "/status-codes"):  # bars per hour, and the axis says so
            assert page.locator(".fmd-chart-view svg text", has_text="Hour (UTC)").count() >= 1, path
    assert not warnings, warnings
