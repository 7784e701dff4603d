"""In Chromium: the Custom graphs page lists graphs, draws each chart (plain and bucketed) with no console error
or warning, and the range and CSV links work; a hostile title stays text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fmd.store import custom_graphs as cg

DRAWN = ".fmd-chart .fmd-chart-view svg, .fmd-chart .fmd-chart-view canvas"
EVIL = '<img src=x onerror="window.fmdPwned=1">'


@pytest.fixture
def graphs(live_dashboard):  # noqa: ANN001, ANN201
    store = live_dashboard.app.extensions["fmd"].store
    t = store.tables
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    with store.write() as conn:
        few = cg.register(conn, t, "Queue length", "every minute")
        for m in range(1, 60):
            cg.claim(conn, t, few, now - timedelta(minutes=m), "test")
            cg.finish(conn, t, few, now - timedelta(minutes=m), value=float(m % 7), duration=0.01)
        cg.claim(conn, t, few, now - timedelta(minutes=61), "test")
        cg.finish(conn, t, few, now - timedelta(minutes=61), error="TimeoutError: <broker>", outcome=cg.ERROR)
        many = cg.register(conn, t, EVIL, "every second")
        for s in range(1, 3000):
            cg.claim(conn, t, many, now - timedelta(seconds=s), "test")
            cg.finish(conn, t, many, now - timedelta(seconds=s), value=float(s % 13), duration=0.0)
    return live_dashboard


def test_the_page_draws_every_graph(page, graphs, login) -> None:  # noqa: ANN001
    warnings: list[str] = []
    page.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    login(page, graphs.base, *graphs.admin)
    page.click("nav a:has-text('Custom graphs')")
    page.wait_for_url("**/custom-graphs")
    page.locator(".fmd-graph").first.wait_for()
    assert page.locator(".fmd-graph").count() == 2
    page.wait_for_function(f"document.querySelectorAll({DRAWN!r}).length >= 2")
    assert not warnings, warnings
    assert page.locator(".fmd-chart-error").count() == 0
    assert page.evaluate("window.fmdPwned") is None
    assert page.locator("h2", has_text=EVIL).count() == 1  # shown as text
    assert "TimeoutError: <broker>" in page.locator(".fmd-graph-error").first.inner_text()
    assert page.locator("text=each point is the mean of").count() == 1  # the busy graph is bucketed
    href = page.locator(".fmd-chart-actions a").first.get_attribute("href")
    download = page.request.get(graphs.base + href)
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.text().startswith("tick_utc,outcome,value,duration_s,error")


def test_the_range_control_keeps_the_page(page, graphs, login) -> None:  # noqa: ANN001
    login(page, graphs.base, *graphs.admin)
    page.goto(graphs.dashboard + "/custom-graphs")
    page.locator(DRAWN).first.wait_for()
    page.evaluate("window.fmdMarker = 'same page'")
    page.click(".fmd-quick a:has-text('30 d')")
    page.wait_for_url("**/custom-graphs?last=30d")
    page.wait_for_function(f"document.querySelectorAll({DRAWN!r}).length >= 2")
    assert page.evaluate("window.fmdMarker") == "same page"
    page.fill("input[name=start]", "2001-01-01")
    page.fill("input[name=end]", "2001-01-07")
    page.click(".fmd-range button[type=submit]")
    page.wait_for_url("**/custom-graphs?start=2001-01-01&end=2001-01-07")
    page.locator(".fmd-empty", has_text="No value was stored from 2001-01-01 to 2001-01-07").first.wait_for()
