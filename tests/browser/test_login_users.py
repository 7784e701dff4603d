"""In Chromium: logging in, the shell pages, the Users page's HTMX forms, and what a viewer sees."""

from __future__ import annotations

import re

# A viewer must find no enabled control that would post a change (the log-out form is a plain form).
ENABLED_CHANGE_CONTROLS = """() => {
  const bad = [];
  document.querySelectorAll('[hx-post], [hx-put], [hx-patch], [hx-delete]').forEach(el => {
    const controls = el.matches('form') ? el.querySelectorAll('select, button, input:not([type=hidden])') : [el];
    controls.forEach(c => { if (!c.disabled) bad.push(c.outerHTML.slice(0, 120)); });
  });
  return bad;
}"""


def nav_links(page) -> dict[str, str]:  # noqa: ANN001
    return {a.inner_text().strip(): a.get_attribute("href") for a in page.query_selector_all(".fmd-nav a")}


def test_login_and_every_page_renders_without_errors(page, live_dashboard, login) -> None:  # noqa: ANN001
    dash = live_dashboard.dashboard
    page.goto(dash + "/health")
    assert "/dashboard/login?next=" in page.url  # anonymous: sent to the login form, next kept
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert page.locator(".fmd-form-error").inner_text() == "Wrong user name or password."
    page.fill("input[name=username]", live_dashboard.admin[0])
    page.fill("input[name=password]", live_dashboard.admin[1])
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url.endswith("/dashboard/health")  # next= survived the failed attempt and was honoured
    links = nav_links(page)
    for label in ("Health", "Settings", "Users"):
        assert label in links
    assert page.locator(".fmd-nav button", has_text="Log out").count() == 1
    for label, href in links.items():
        page.goto(live_dashboard.base + href)
        assert page.locator("h1").count() >= 1, label
        assert page.evaluate("typeof htmx") == "object", label
    page.goto(dash + "/health")
    assert page.locator("#fmd-processes tbody tr").count() >= 1
    assert page.locator(".fmd-header").evaluate("el => getComputedStyle(el).display") == "flex"  # CSS loaded
    page.goto(dash + "/settings")
    assert page.locator("#fmd-settings-table").inner_text().count("********") >= 1
    assert live_dashboard.admin[1] not in page.content()
    with page.expect_navigation():
        page.click(".fmd-nav button:has-text('Log out')")
    assert "/dashboard/login" in page.url
    page.goto(dash + "/health")
    assert "/dashboard/login" in page.url


def test_admin_manages_users_in_place(page, live_dashboard, login) -> None:  # noqa: ANN001
    evil = live_dashboard.evil_endpoint  # as a user name: shown as text, never run
    login(page, live_dashboard.base, *live_dashboard.admin)
    page.goto(live_dashboard.dashboard + "/users")
    page.evaluate("window.fmdMarker = 'still the same page'")  # gone if the page reloads instead of swapping
    form = page.locator("#fmd-add-user")
    form.locator("input[name=username]").fill(evil)
    form.locator("input[name=password]").fill("new-user-password")
    form.locator("select[name=role]").select_option("viewer")
    form.locator("button[type=submit]").click()
    row = page.locator("#fmd-users-table tr", has_text=evil)
    row.wait_for()
    assert page.locator(".fmd-notice").inner_text().startswith("Added")
    assert page.evaluate("window.fmdMarker") == "still the same page"
    assert page.evaluate("window.fmdAlerted === undefined")

    row.locator("select[name=role]").select_option("admin")
    row.locator("button", has_text="Change role").click()
    page.locator(".fmd-notice", has_text="The role is now admin.").wait_for()

    # A refused change (a too short password is caught by the browser; the server refuses a taken name).
    form = page.locator("#fmd-add-user")
    form.locator("input[name=username]").fill("viewer")
    form.locator("input[name=password]").fill("another-password")
    form.locator("button[type=submit]").click()
    toast = page.locator("#fmd-toast")
    toast.wait_for(state="visible")
    assert "already a user called" in toast.inner_text()
    page.fmd_errors[:] = [e for e in page.fmd_errors if not re.search(r"400|Response Status Error", e)]

    page.on("dialog", lambda dialog: dialog.accept())
    row = page.locator("#fmd-users-table tr", has_text=evil)
    row.locator("button", has_text="Remove").click()
    page.locator(".fmd-notice", has_text="The user was removed.").wait_for()
    assert page.locator("#fmd-users-table tr", has_text=evil).count() == 0
    assert page.evaluate("window.fmdMarker") == "still the same page"


def test_a_viewer_finds_no_admin_controls(page, live_dashboard, login) -> None:  # noqa: ANN001
    login(page, live_dashboard.base, *live_dashboard.viewer)
    links = nav_links(page)
    assert "Users" not in links and "Settings" not in links and "Health" in links
    for label, href in links.items():
        page.goto(live_dashboard.base + href)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(ENABLED_CHANGE_CONTROLS) == [], label
    response = page.goto(live_dashboard.dashboard + "/users")
    assert response.status == 403
    assert "viewer" in page.locator(".fmd-error-message").inner_text()
    page.fmd_errors[:] = [e for e in page.fmd_errors if "403" not in e]
