"""In Chromium at 400 px (issue 12 item 8): no page of the dashboard overflows sideways, the header stays one line
with "Log out" and the user in view, titles are not cut, charts stay inside the page; disabled controls look
disabled in both colour schemes (item 9).

The live dashboard gets what its demo traffic lacks: outliers and profiled requests (so their detail pages and
the profiler diff exist), an exception group, and an endpoint with a long unbroken name.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from exception_data import group
from profile_data import seed_profile, shape

from fmd.blueprints.endpoint import TABS
from fmd.queries._range import floor_day, utcnow
from fmd.store import writes

WIDTH = 400
LONG = "reports.api_v2_monthly_revenue_by_customer_segment_and_region_export_as_csv"

#: Pages of the whole application (paths below the dashboard).
APP_PAGES = ["/overview", "/hourly", "/versions", "/daily", "/performance", "/status-codes", "/exceptions",
             "/custom-graphs", "/reporting", "/health", "/settings", "/users"]

#: Everything measured on one page, in one round trip: the page's overflow, the header's rows, what is cut.
MEASURE = """() => {
  const vw = window.innerWidth, problems = [];
  const box = el => el.getBoundingClientRect();
  // Inside a box that scrolls sideways (a table's wrapper, a chart's view), being wide is fine.
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== 'visible') return true; return false; };
  if (document.documentElement.scrollWidth > vw) {
    const wide = [...document.querySelectorAll('main *, header *')].filter(el => box(el).right > vw + 0.5
      && !scrolls(el) && ![...el.children].some(c => box(c).right > vw + 0.5));  // the innermost ones
    problems.push(`page is ${document.documentElement.scrollWidth} px wide; too wide: ` + wide.slice(0, 4)
      .map(el => `${el.tagName.toLowerCase()}.${el.className}: ${el.textContent.trim().slice(0, 30)}`).join('; '));
  }
  const header = document.querySelector('.fmd-header'), nav = document.querySelector('.fmd-nav');
  if (nav) {
    const link = box(nav.querySelector('a, button')), n = box(nav);
    if (n.height > 1.5 * link.height) problems.push(`nav is ${n.height} px tall, a link ${link.height} px`);
    const tops = new Set([...nav.querySelectorAll('li')].map(li => Math.round(box(li).top)));
    if (tops.size !== 1) problems.push(`nav items on ${tops.size} lines`);
    for (const child of header.children) {  // brand, nav, user: one row
      const c = box(child), middle = (c.top + c.bottom) / 2;
      if (middle < n.top || middle > n.bottom) problems.push(`${child.className} is not on the nav's line`);
    }
    for (const sel of ['.fmd-nav-logout button', '.fmd-whoami']) {  // in view, and not covered
      const el = document.querySelector(sel), r = el && box(el);
      if (!el) { problems.push(`${sel} missing`); continue; }
      if (r.left < 0 || r.right > vw + 0.5 || r.width === 0) problems.push(`${sel} outside the screen`);
      const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
      if (!hit || !(el === hit || el.contains(hit))) problems.push(`${sel} covered`);
    }
  }
  for (const h of document.querySelectorAll('main h1, main h2, .fmd-crumbs')) {
    const r = box(h);
    if (r.width && (h.scrollWidth > h.clientWidth + 1 || r.right > vw + 0.5))
      problems.push(`${h.tagName} "${h.textContent.trim().slice(0, 40)}" cut`);
  }
  for (const v of document.querySelectorAll('.fmd-chart-view')) {
    const r = box(v);
    if (r.width && r.right > vw + 0.5 && !scrolls(v)) problems.push(`chart ${v.parentElement.id} ends at ${r.right} px`);
  }
  return problems;
}"""

#: Every chart on the page drawn (or failed visibly): only then is its final width known.
CHARTS_DONE = """() => [...document.querySelectorAll('.fmd-chart-view')].every(v =>
  !v.getClientRects().length || v.querySelector('svg, canvas, .fmd-chart-error'))"""


@pytest.fixture
def extra(live_dashboard) -> dict[str, Any]:  # noqa: ANN001
    """Outliers and profiles of "index", one outlier of LONG, an exception group; their ids.

    Each has its request row: retention (which may run while the test does) removes outliers and profiles
    whose request is gone."""
    store = live_dashboard.app.extensions["fmd"].store
    t = store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=1)

    def request(conn, eid: int) -> int:  # noqa: ANN001
        return conn.execute(t.request.insert().values(endpoint_id=eid, duration=1.5, time_requested=now,
                                                      status_code=200)).inserted_primary_key[0]

    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["index", LONG], {})
        outliers = {}
        for name in ("index", LONG):
            outliers[name] = conn.execute(t.outlier.insert().values(
                request_id=request(conn, ids[name]), endpoint_id=ids[name], time_requested=now, duration=1.5, status_code=200,
                version="1.0", average=0.1, method="GET", url=f"/{LONG}?q={'x' * 120}",
                request_values=json.dumps({"query": [["q", "x" * 120]], "form": [], "json": None}),
                request_headers=json.dumps([["User-Agent", "Mozilla/5.0 " + "(KHTML, like Gecko) " * 6]]),
                request_environment=json.dumps({"PATH_INFO": "/" + LONG}), stacktrace=json.dumps([
                    {"file": f"/srv/app/{LONG}/views.py", "line": 12, "function": LONG, "code": "return x()",
                     "app": True}]),
                stack_at=0.5, cpu_percent=json.dumps([10.0, 60.0]), memory=json.dumps({"rss": 1 << 27}),
                cut=json.dumps([]))).inserted_primary_key[0]
        cache: dict = {}
        profiles = [seed_profile(conn, t, ids["index"], request(conn, ids["index"]), now - timedelta(hours=i),
                                 shape(30, 10 + 20 * (i % 2)), version=("1.0", "2.0")[i % 2], cache=cache)
                    for i in range(12)]
    gid = group(store, "builtins.KeyError", [(floor_day(utcnow()), ids["index"], "1.0", 3)], message="'sku' " * 30)
    return {"ids": ids, "outliers": outliers, "profile": profiles[0], "group": gid}


def measure(page, url: str) -> list[str]:  # noqa: ANN001
    failed: list[str] = []

    def on_response(r) -> None:  # noqa: ANN001
        if r.status >= 400:
            failed.append(f"{r.status} {r.url}")

    page.on("response", on_response)
    try:
        page.goto(url)
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("response", on_response)
    if failed:
        return [f"{url}: {f}" for f in failed]
    page.wait_for_function(CHARTS_DONE)
    return [f"{url}: {problem}" for problem in page.evaluate(MEASURE)]


def test_every_page_fits_400_px(page, live_dashboard, login, extra) -> None:  # noqa: ANN001
    page.set_viewport_size({"width": WIDTH, "height": 800})
    board = live_dashboard.dashboard
    problems = measure(page, board + "/login")  # logged out: no navigation at all
    login(page, live_dashboard.base, *live_dashboard.admin)
    index, long_id = extra["ids"]["index"], extra["ids"][LONG]
    paths = list(APP_PAGES)
    for eid in (index, long_id):
        paths += [f"/endpoint/{eid}"] + [f"/endpoint/{eid}/{tab.path}" for tab in TABS]
        paths += [f"/endpoint/{eid}/purge", f"/endpoint/{eid}/merge"]
    paths += [f"/endpoint/{index}/outliers/{extra['outliers']['index']}",
              f"/endpoint/{long_id}/outliers/{extra['outliers'][LONG]}",
              f"/endpoint/{index}/profiler/{extra['profile']}",
              f"/endpoint/{index}/profiler-diff?base=1.0&other=2.0",
              f"/exceptions/{extra['group']}", f"/exceptions/{extra['group']}/delete"]
    for path in paths:
        problems += measure(page, board + path)
        assert "/login" not in page.url, f"{path} sent the browser to {page.url}"
    assert not problems, "\n".join(problems)
    # The long name is the heading of its page, wrapped rather than cut (checked above), and named in the crumbs.
    page.goto(f"{board}/endpoint/{long_id}/outliers/{extra['outliers'][LONG]}")
    assert page.locator(".fmd-crumbs .fmd-crumb-endpoint").inner_text() == LONG


def test_the_current_page_and_log_out_are_reachable_in_the_nav(page, live_dashboard, login) -> None:  # noqa: ANN001
    page.set_viewport_size({"width": WIDTH, "height": 800})
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/users")  # the last entry before "Log out"
    in_view = """() => { const a = document.querySelector('.fmd-nav a[aria-current=page]');
      const r = a.getBoundingClientRect(); const hit = document.elementFromPoint((r.left + r.right) / 2,
      (r.top + r.bottom) / 2); return r.right <= window.innerWidth && (hit === a || a.contains(hit)); }"""
    if page.evaluate("CSS.supports('scroll-initial-target', 'nearest')"):
        assert page.evaluate(in_view), "the current page's link does not start in view"
    # Where it is unsupported the user scrolls to it: it must then not end up behind "Log out".
    page.locator(".fmd-nav a[aria-current=page]").scroll_into_view_if_needed()
    assert page.evaluate(in_view), "the current page's link is hidden behind Log out"
    with page.expect_navigation():
        page.locator(".fmd-nav-logout button").click()
    assert "/dashboard/login" in page.url


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_disabled_controls_look_disabled(page, live_dashboard, login, scheme: str) -> None:  # noqa: ANN001
    page.emulate_media(color_scheme=scheme)
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/users")  # the configured admin's row: role, password, remove disabled
    look = """el => { const s = getComputedStyle(el);
      return {cursor: s.cursor, color: s.color, background: s.backgroundColor, border: s.borderTopStyle}; }"""
    # The scheme's own grey: its muted text colour and panel background, as computed colours.
    muted, panel = page.evaluate("""() => { const p = document.createElement('span'); p.className = 'fmd-muted';
      p.style.background = 'var(--panel)'; document.body.append(p); const s = getComputedStyle(p);
      const out = [s.color, s.backgroundColor]; p.remove(); return out; }""")
    for kind in ("select", "button", "input"):
        disabled = page.locator(f"#fmd-users-table {kind}:disabled").first
        enabled = page.locator(f"#fmd-users-table {kind}:enabled:not([type=hidden])").first
        off, on = disabled.evaluate(look), enabled.evaluate(look)
        assert off["cursor"] == "not-allowed" and on["cursor"] != "not-allowed", (kind, off, on)
        assert off["color"] == muted and off["color"] != on["color"], (kind, off, on)  # greyed text
        assert off["background"] == panel != on["background"] and off["border"] == "dashed", (kind, off, on)
        disabled.hover(force=True)  # no hover effect brings the colour back
        assert disabled.evaluate(look)["color"] == muted
    if scheme == "dark":  # the dark palette's grey, not the light one's
        assert muted != "rgb(91, 100, 116)" and panel != "rgb(245, 247, 250)"


def test_a_long_user_name_keeps_the_header_one_line(page, live_dashboard, login) -> None:  # noqa: ANN001
    from fmd.auth.users import create_user

    name = "maximiliane.mustermann-oberhuber"
    create_user(live_dashboard.app.extensions["fmd"].store, name, "long-name-password", is_admin=False)
    page.set_viewport_size({"width": WIDTH, "height": 800})
    login(page, live_dashboard.base, name, "long-name-password")
    assert measure(page, live_dashboard.dashboard + "/overview") == []
    whoami = page.locator(".fmd-whoami")
    assert whoami.get_attribute("title") == f"Logged in as {name} (viewer)"  # the whole name, when shortened
    role = page.locator(".fmd-whoami .fmd-role").bounding_box()
    assert role["x"] + role["width"] <= WIDTH and page.locator(".fmd-whoami .fmd-role").inner_text() == "viewer"


def test_endpoint_tabs_are_one_line_with_the_current_tab_in_view(admin_page, live_dashboard) -> None:  # noqa: ANN001
    page = admin_page
    page.set_viewport_size({"width": WIDTH, "height": 800})
    page.goto(live_dashboard.dashboard + "/overview")
    href = page.locator("#fmd-overview-table tbody a[href*='/endpoint/']").first.get_attribute("href")
    last = TABS[-1]
    page.goto(live_dashboard.base + href.split("?")[0] + "/" + last.path)
    tabs = page.locator(".fmd-tab-list")
    first = page.locator(".fmd-tab-list li").first.bounding_box()
    box = tabs.bounding_box()
    assert box["height"] < 2 * first["height"] + 4, (box, first)  # one line, not wrapped
    current = page.locator(".fmd-tab-list a[aria-current=page]").bounding_box()
    assert 0 <= current["x"] and current["x"] + current["width"] <= WIDTH, current  # scrolled into view
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
