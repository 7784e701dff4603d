"""Purge and merge from the dashboard: only admins, only with the CSRF token and the confirmation, and the row
counts change as they should (raw rows and every rollup)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from dashboard_helpers import PREFIX, add_user, csrf, dashboard, logged_in, post
from lifecycle_data import counts, sums, write

from fmd.queries._range import utcnow

EVIL = "<script>alert(1)</script>"


def seed(app) -> dict[str, int]:  # noqa: ANN001
    """"old" on two UTC days (8 + 5 requests), "new" (3), "evil" (1): users, IPs and versions included."""
    store = app.extensions["fmd"].store
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    ids = write(store, [("old", 0.01 * (i + 1), today - timedelta(days=2) + timedelta(hours=i), 200, f"u{i % 2}",
                         "10.0.0.1") for i in range(8)])
    ids.update(write(store, [("old", 0.02, today - timedelta(days=1) + timedelta(hours=i), 500 if i else 200, "u0",
                              "10.0.0.2") for i in range(5)], version="2.0"))
    ids.update(write(store, [("new", 0.03, today - timedelta(days=1) + timedelta(hours=i), 200, "u1", "10.0.0.3")
                             for i in range(3)], version="2.0"))
    ids.update(write(store, [(EVIL, 0.03, today - timedelta(days=1), 200, "", "::1")]))
    return ids


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    app.ids = seed(app)
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def form(client, path: str, data: dict, htmx: bool = False, token: bool = True):  # noqa: ANN001, ANN201
    """POST a form as the confirmation page does (the token as a hidden field, not a header)."""
    if token:
        data = {"csrf_token": csrf(client), **data}
    return client.post(PREFIX + path, data=data, headers={"HX-Request": "true"} if htmx else {})


def test_confirmation_pages(app, admin) -> None:  # noqa: ANN001
    old = app.ids["old"]
    purge = admin.get(f"{PREFIX}/endpoint/{old}/purge")
    assert purge.status_code == 200 and "Purge the data of “old”" in purge.text and "13 requests in all" in purge.text
    assert 'name="csrf_token"' in purge.text and 'name="confirm" value="yes" required' in purge.text
    assert f'action="{PREFIX}/endpoint/{old}/purge"' in purge.text
    merge = admin.get(f"{PREFIX}/endpoint/{old}/merge")
    assert merge.status_code == 200 and "Merge “old” into another endpoint" in merge.text
    options = re.findall(r'<option value="(\d+)">(.*?)</option>', merge.text)
    assert sorted(options) == sorted([(str(app.ids["new"]), "new"),
                                      (str(app.ids[EVIL]), "&lt;script&gt;alert(1)&lt;/script&gt;")])
    frag = admin.get(f"{PREFIX}/endpoint/{old}/merge", headers={"HX-Request": "true"})
    assert "<html" not in frag.text and frag.text.lstrip().startswith('<section id="fmd-endpoint-merge"')
    assert "HX-Request" in frag.headers["Vary"]
    evil = admin.get(f"{PREFIX}/endpoint/{app.ids[EVIL]}/purge").text
    assert EVIL not in evil and "&lt;script&gt;alert(1)&lt;/script&gt;" in evil
    for path in ("purge", "merge"):
        resp = admin.get(f"{PREFIX}/endpoint/424242/{path}")
        assert resp.status_code == 404 and "no endpoint with id 424242" in resp.text


def test_viewers_and_anonymous_users_cannot_purge_or_merge(app) -> None:  # noqa: ANN001
    old, new = app.ids["old"], app.ids["new"]
    before = sums(app.extensions["fmd"].store)
    add_user(app, "viewer", "password-1")
    viewer = logged_in(app, "viewer", "password-1")
    anonymous = app.test_client()
    for path in (f"/endpoint/{old}/purge", f"/endpoint/{old}/merge"):
        assert viewer.get(PREFIX + path).status_code == 403
        resp = anonymous.get(PREFIX + path)
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]
    data = {"confirm": "yes", "target": str(new)}
    for path in (f"/endpoint/{old}/purge", f"/endpoint/{old}/merge"):
        resp = form(viewer, path, data)
        assert resp.status_code == 403 and "viewer" in resp.text
        assert form(anonymous, path, data).status_code == 401
        assert post(anonymous, path, data, htmx=True).status_code == 401
    assert sums(app.extensions["fmd"].store) == before


def test_csrf_token_and_confirmation_are_required(app, admin) -> None:  # noqa: ANN001
    old, new = app.ids["old"], app.ids["new"]
    store = app.extensions["fmd"].store
    before = sums(store)
    for path, data in ((f"/endpoint/{old}/purge", {}), (f"/endpoint/{old}/merge", {"target": str(new)})):
        resp = form(admin, path, {**data, "confirm": "yes"}, token=False)
        assert resp.status_code == 400 and "CSRF" in resp.text
        resp = form(admin, path, {**data, "csrf_token": "forged", "confirm": "yes"}, token=False)
        assert resp.status_code == 400
        for confirm in ({}, {"confirm": ""}, {"confirm": "no"}, {"confirm": "YES"}):
            resp = form(admin, path, {**data, **confirm})
            assert resp.status_code == 400 and "Tick “I understand”" in resp.text and "nothing was changed" in resp.text
    assert sums(store) == before


def test_merging_into_itself_or_nowhere_is_refused(app, admin) -> None:  # noqa: ANN001
    old = app.ids["old"]
    store = app.extensions["fmd"].store
    before = sums(store)
    resp = form(admin, f"/endpoint/{old}/merge", {"target": str(old), "confirm": "yes"})
    assert resp.status_code == 400 and "cannot be merged into itself" in resp.text
    for target, message in (("", "target is missing"), ("999999", "no endpoint with id 999999"),
                            ("x1", "must be an endpoint id"), ("-3", "must be an endpoint id"),
                            ("²", "must be an endpoint id"), ("1" * 40, "must be an endpoint id")):
        resp = form(admin, f"/endpoint/{old}/merge", {"target": target, "confirm": "yes"}, htmx=True)
        assert resp.status_code == 400 and message in resp.text and "fmd-error-message" in resp.text, target
    resp = form(admin, "/endpoint/999999/merge", {"target": str(old), "confirm": "yes"})
    assert resp.status_code == 404
    resp = form(admin, f"/endpoint/{old}/purge", {"before": "2024-02-30", "confirm": "yes"})
    assert resp.status_code == 400 and "before is not a real date" in resp.text
    assert sums(store) == before


def test_purge_through_the_ui(app, admin) -> None:  # noqa: ANN001
    old, new = app.ids["old"], app.ids["new"]
    store = app.extensions["fmd"].store
    others = counts(store, new)
    assert counts(store, old)["request"] == 13
    resp = form(admin, f"/endpoint/{old}/purge", {"confirm": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"{PREFIX}/endpoint/{old}"
    assert set(counts(store, old).values()) == {0}  # raw rows and every rollup
    assert counts(store, new) == others
    page = admin.get(resp.headers["Location"]).text
    assert "Purged the data of “old” recorded so far:" in page and "rows deleted" in page
    assert "No requests of “old” were recorded" in page  # the endpoint stays, without data
    assert "Purged" not in admin.get(resp.headers["Location"]).text  # the message is shown once


def test_purge_before_a_date(app, admin) -> None:  # noqa: ANN001
    old = app.ids["old"]
    store = app.extensions["fmd"].store
    cut = (utcnow() - timedelta(days=1)).date()  # the day the 5 newer requests of "old" were made
    resp = form(admin, f"/endpoint/{old}/purge", {"before": str(cut), "confirm": "yes"}, htmx=True)
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == f"{PREFIX}/endpoint/{old}"
    left = sums(store, old)
    assert left["request"] == 5 and left["rollup_hour"] == 5 and left["histogram_day"] == 5
    assert f"recorded before {cut} (UTC)" in admin.get(f"{PREFIX}/endpoint/{old}").text


def test_merge_through_the_ui(db_url, make_app) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    ids = seed(app)
    store = app.extensions["fmd"].store
    admin = logged_in(app)
    source, target = sums(store, ids["old"]), sums(store, ids["new"])
    resp = form(admin, f"/endpoint/{ids['old']}/merge", {"target": str(ids["new"]), "confirm": "yes"})
    assert resp.status_code == 303 and resp.headers["Location"] == f"{PREFIX}/endpoint/{ids['new']}"
    assert sums(store, ids["new"]) == {k: source[k] + target[k] for k in source}
    assert set(sums(store, ids["old"]).values()) == {0}
    assert admin.get(f"{PREFIX}/endpoint/{ids['old']}").status_code == 404  # the source is gone
    page = admin.get(resp.headers["Location"]).text
    assert "Merged “old” into “new”" in page and '<dt>Requests</dt><dd class="num">16</dd>' in page
