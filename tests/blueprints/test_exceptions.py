"""The Exceptions page and the endpoint's Exceptions tab: list, filters and paging in the URL, the traceback
that expands a row, an admin's resolve / reopen / delete (CSRF, 303 without JavaScript), escaping, 400s, 404s."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from dashboard_helpers import PREFIX, add_user, csrf, dashboard, logged_in, post
from exception_data import EVIL, group, traceback
from fmd.queries._range import floor_day, utcnow
from rollup_data import record

GROUP = re.compile(r'<tbody id="fmd-exc-(\d+)"')


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    ids = record(store, [], endpoints=["shop.checkout", EVIL])
    today = floor_day(utcnow())
    day = timedelta(days=1)
    app.ids = {**ids,
               "key": group(store, "builtins.KeyError", [(today - 2 * day, ids["shop.checkout"], "1.0", 3)],
                            message="'sku'"),
               "evil": group(store, "app.EvilError", [(today - day, ids[EVIL], "2.0", 2),
                                                      (today - day, 0, "2.0", 1)], message=EVIL),
               "done": group(store, "builtins.TypeError", [(today - 3 * day, ids["shop.checkout"], "1.0", 1)],
                             resolved_at=today - day, resolved_versions=["1.0"]),
               "pruned": group(store, "builtins.OSError", [(today - 4 * day, 0, "1.0", 1)], tb=None),
               "old": group(store, "builtins.OldError", [(today - 60 * day, ids["shop.checkout"], "0.9", 9)])}
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


@pytest.fixture
def viewer(app):  # noqa: ANN001, ANN201
    add_user(app, "viewer", "password-1")
    return logged_in(app, "viewer", "password-1")


def groups(html: str) -> list[int]:
    return [int(i) for i in GROUP.findall(html)]


def state_of(app, gid: int):  # noqa: ANN001, ANN201
    from fmd.queries.exceptions import group_by_id

    store = app.extensions["fmd"].store
    with store.read() as conn:
        return group_by_id(conn, store.tables, gid)


def test_page_lists_open_groups_newest_first(app, admin) -> None:  # noqa: ANN001
    resp = admin.get(PREFIX + "/exceptions")
    assert resp.status_code == 200 and "<html" in resp.text and "HX-Request" in resp.headers["Vary"]
    ids = app.ids
    assert groups(resp.text) == [ids["evil"], ids["key"], ids["pruned"]]  # open, in the last 7 days
    html = resp.text
    assert ("A resolved group reopens when it occurs in a version it had not been seen in before it was "
            "resolved.") in html
    assert f'href="/dashboard/endpoint/{ids["shop.checkout"]}/exceptions?start=' in html
    assert "outside a request" in html and "builtins.KeyError" in html and "app/pricing.py:price" in html
    assert html.count('class="fmd-chart fmd-sparkline"') == 3
    spec = json.loads(re.search(r'id="fmd-spark-%d">\s*<script type="application/json">(.*?)</script>'
                                % ids["key"], html, re.S).group(1))
    assert [r["count"] for r in spec["datasets"]["sparkline"]] == [3]
    assert 'data-action="resolve"' in html and 'data-action="delete"' in html


def test_htmx_gets_only_the_list(admin) -> None:  # noqa: ANN001
    frag = admin.get(PREFIX + "/exceptions?state=all", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    assert frag.text.lstrip().startswith('<section id="fmd-exceptions"') and len(groups(frag.text)) == 4


def test_filters_by_state_endpoint_version_and_range(app, admin) -> None:  # noqa: ANN001
    ids = app.ids
    get = lambda query: groups(admin.get(PREFIX + "/exceptions?" + query).text)  # noqa: E731
    assert get("state=resolved") == [ids["done"]]
    assert get("state=all") == [ids["evil"], ids["key"], ids["done"], ids["pruned"]]
    assert get(f"state=all&endpoint={ids['shop.checkout']}") == [ids["key"], ids["done"]]
    assert get("endpoint=0") == [ids["evil"], ids["pruned"]]
    assert get("version=2.0") == [ids["evil"]]
    assert get("days=90&version=0.9") == [ids["old"]]
    html = admin.get(PREFIX + f"/exceptions?endpoint={ids['shop.checkout']}&version=1.0&state=all").text
    assert re.search(rf'<option value="{ids["shop.checkout"]}" selected>shop.checkout</option>', html)
    assert '<option value="1.0" selected>1.0</option>' in html and '<option value="all" selected>' in html
    assert "No open exception group" in admin.get(PREFIX + "/exceptions?version=nope").text


def test_paging(app, admin) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    today = floor_day(utcnow())
    for i in range(30):
        group(store, f"E{i}", [(today, 0, "3.0", 1)], message=f"m{i}")
    first = admin.get(PREFIX + "/exceptions").text
    second = admin.get(PREFIX + "/exceptions?page=2").text
    assert len(groups(first)) == 25 and len(groups(second)) == 8
    assert "Page 1 of 2 (33 groups)" in first and 'rel="next"' in first and 'rel="prev"' in second
    assert not set(groups(first)) & set(groups(second))
    assert "past the last page" in admin.get(PREFIX + "/exceptions?page=9").text


@pytest.mark.parametrize("query", ["page=abc", "page=0", "page=-1", "endpoint=xyz", "endpoint=99999999999",
                                   "state=closed", "version=" + "v" * 101, "days=0", "start=2024-02-30"])
def test_bad_arguments_are_400s(admin, query: str) -> None:  # noqa: ANN001
    resp = admin.get(PREFIX + "/exceptions?" + query)
    assert resp.status_code == 400, query
    assert 'class="fmd-error-message"' in resp.text


def test_expanding_a_group_shows_its_traceback(app, admin) -> None:  # noqa: ANN001
    url = PREFIX + f"/exceptions/{app.ids['key']}"
    frag = admin.get(url, headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    html = frag.text
    assert "Traceback from " in html
    # Library frames folded, app frames marked, the failing line marked, locals in a table, the cut notes.
    assert html.count('data-app="true"') == 2 and html.count('data-app="false"') == 2
    assert re.search(r'<details class="fmd-frames-library[^"]*">\s*<summary[^>]*>2 library frames', html)
    assert re.search(r'<mark class="fmd-failing">\s*40 ▶ {5}raise ValueError\(message\)</mark>', html)
    assert "<th scope=\"row\"><code>cart</code></th><td><code>[1, 2]</code></td>" in html
    assert "locals.payload: 200 of 9000 characters kept" in html
    page = admin.get(url)
    assert page.status_code == 200 and "<html" in page.text and "builtins.KeyError" in page.text


def test_a_pruned_traceback_and_a_cause(app, admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + f"/exceptions/{app.ids['pruned']}", headers={"HX-Request": "true"}).text
    assert "The traceback was pruned with old outliers; counts remain." in html
    store = app.extensions["fmd"].store
    chained = group(store, "builtins.RuntimeError", [(floor_day(utcnow()), 0, "1.0", 1)],
                    tb=traceback("outer", cause=traceback("inner")), message="outer")
    html = admin.get(PREFIX + f"/exceptions/{chained}", headers={"HX-Request": "true"}).text
    assert "Caused by" in html and html.index("outer") < html.index("inner")


def test_everything_from_the_app_is_escaped(app, admin) -> None:  # noqa: ANN001
    for url in ("/exceptions", f"/exceptions/{app.ids['evil']}", f"/endpoint/{app.ids[EVIL]}/exceptions"):
        html = admin.get(PREFIX + url).text
        assert EVIL not in html, url
        assert "&lt;script&gt;alert(" in html, url


def test_unknown_group_is_404(admin, app) -> None:  # noqa: ANN001
    assert admin.get(PREFIX + "/exceptions/99999").status_code == 404
    assert admin.get(PREFIX + f"/exceptions/{2**40}").status_code == 404
    assert post(admin, "/exceptions/99999/resolve").status_code == 404
    assert post(admin, "/exceptions/99999/delete", {"confirm": "yes"}).status_code == 404


def test_admin_resolves_and_reopens_in_place(app, admin) -> None:  # noqa: ANN001
    gid = app.ids["key"]
    resp = post(admin, f"/exceptions/{gid}/resolve", {"state": "open"}, htmx=True)
    assert resp.status_code == 200 and "<html" not in resp.text
    assert resp.text.strip().startswith(f'<tbody id="fmd-exc-{gid}"') and 'data-state="resolved"' in resp.text
    assert 'data-action="reopen"' in resp.text and "fmd-spark-%d" % gid in resp.text
    got = state_of(app, gid)
    assert got["resolved_at"] is not None and got["resolved_versions"] == ["1.0"]
    assert gid not in groups(admin.get(PREFIX + "/exceptions").text)  # no longer open
    resp = post(admin, f"/exceptions/{gid}/reopen", {}, htmx=True)
    assert 'data-state="open"' in resp.text and state_of(app, gid)["open"]


def test_plain_posts_redirect_back(app, admin) -> None:  # noqa: ANN001
    gid, eid = app.ids["key"], app.ids["shop.checkout"]
    resp = post(admin, f"/exceptions/{gid}/resolve", {"state": "all", "version": "1.0", "page": "1"})
    assert resp.status_code == 303 and resp.headers["Location"] == PREFIX + "/exceptions?version=1.0&state=all"
    resp = post(admin, f"/exceptions/{gid}/reopen", {"from_endpoint": str(eid), "endpoint": "7", "start": "2024-01-01"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == PREFIX + f"/endpoint/{eid}/exceptions?start=2024-01-01"
    resp = post(admin, f"/exceptions/{gid}/resolve", {"back": "group"})
    assert resp.headers["Location"] == PREFIX + f"/exceptions/{gid}"


def test_csrf_is_required(app, admin) -> None:  # noqa: ANN001
    resp = post(admin, f"/exceptions/{app.ids['key']}/resolve", token=False)
    assert resp.status_code == 400 and state_of(app, app.ids["key"])["open"]


def test_delete_confirms_first(app, admin) -> None:  # noqa: ANN001
    gid = app.ids["key"]
    page = admin.get(PREFIX + f"/exceptions/{gid}/delete?state=all&evil=1")  # the no-JavaScript step
    assert page.status_code == 200 and 'name="confirm" value="yes"' in page.text
    assert '<input type="hidden" name="state" value="all">' in page.text and 'name="evil"' not in page.text
    assert post(admin, f"/exceptions/{gid}/delete").status_code == 400 and state_of(app, gid) is not None
    resp = post(admin, f"/exceptions/{gid}/delete", {"confirm": "yes"}, htmx=True)
    assert resp.status_code == 200 and resp.text == "" and state_of(app, gid) is None
    other = app.ids["done"]
    resp = post(admin, f"/exceptions/{other}/delete", {"confirm": "yes", "back": "group", "state": "all"})
    assert resp.status_code == 303 and resp.headers["Location"] == PREFIX + "/exceptions?state=all"


def test_viewer_sees_no_buttons_and_gets_403(app, viewer) -> None:  # noqa: ANN001
    html = viewer.get(PREFIX + "/exceptions?state=all").text
    assert len(groups(html)) == 4 and "data-action=" not in html and "Mark resolved" not in html
    gid = app.ids["key"]
    assert post(viewer, f"/exceptions/{gid}/resolve").status_code == 403
    assert post(viewer, f"/exceptions/{gid}/delete", {"confirm": "yes"}).status_code == 403
    assert viewer.get(PREFIX + f"/exceptions/{gid}/delete").status_code == 403
    assert state_of(app, gid)["open"]


def test_anonymous_is_sent_to_login(app) -> None:  # noqa: ANN001
    client = app.test_client()
    assert client.get(PREFIX + "/exceptions").status_code == 302
    assert client.get(PREFIX + f"/exceptions/{app.ids['key']}").status_code == 302
    csrf(client)
    assert post(client, f"/exceptions/{app.ids['key']}/resolve").status_code == 401


def test_endpoint_tab_lists_only_that_endpoint(app, admin) -> None:  # noqa: ANN001
    eid = app.ids["shop.checkout"]
    url = PREFIX + f"/endpoint/{eid}/exceptions"
    html = admin.get(url).text
    assert groups(html) == [app.ids["key"]] and "<html" in html
    assert f'<input type="hidden" name="from_endpoint" value="{eid}">' in html
    assert 'name="endpoint"' not in html.split('id="fmd-exc-filter"')[1].split("</form>")[0]
    tabs = admin.get(url + "?state=all", headers={"HX-Request": "true", "HX-Target": "fmd-tabs"})
    assert tabs.text.lstrip().startswith('<div id="fmd-tabs"')
    assert groups(tabs.text) == [app.ids["key"], app.ids["done"]]
    assert admin.get(url + "?state=bogus").status_code == 400
    assert groups(admin.get(PREFIX + f"/endpoint/{app.ids[EVIL]}/exceptions").text) == [app.ids["evil"]]
