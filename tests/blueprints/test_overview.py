"""The overview page: table, sorting and filtering in the URL, the inline level control and its guards."""

from __future__ import annotations

import re
import time

import pytest

from dashboard_helpers import PREFIX, add_user, dashboard, logged_in, post
from fmd.queries.overview import SORT_KEYS, endpoint_by_id
from rollup_data import record

EVIL = "<script>alert(1)</script>"
ROW = re.compile(r'<tr id="fmd-endpoint-\d+" data-endpoint="([^"]*)"')


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    now = time.time() - 60
    # Hit counts 9, 10 and 100: sorted as text they would come out 10, 100, 9.
    records = [("api.items", 0.002, now - i, 200) for i in range(100)]
    records += [("api.item", 0.050, now - i, 500 if i < 2 else 200) for i in range(10)]
    records += [("index", 0.001, now - i, 200) for i in range(9)]
    records += [(EVIL, 0.3, now, 200)]
    app.ids = record(app.extensions["fmd"].store, records)
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


@pytest.fixture
def viewer(app):  # noqa: ANN001, ANN201
    add_user(app, "viewer", "password-1")
    return logged_in(app, "viewer", "password-1")


def names(html: str) -> list[str]:
    return ROW.findall(html)


def level_of(app, name: str) -> int:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        return endpoint_by_id(conn, store.tables, app.ids[name])["level"]


def test_page_and_fragment(admin) -> None:  # noqa: ANN001
    page = admin.get(PREFIX + "/overview")
    frag = admin.get(PREFIX + "/overview", headers={"HX-Request": "true"})
    assert page.status_code == frag.status_code == 200
    assert "<html" in page.text and "<html" not in frag.text
    assert frag.text.lstrip().startswith("<section id=\"fmd-overview\"") and 'id="fmd-filter"' not in frag.text
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in frag.headers["Vary"]
    assert set(names(page.text)) == {"api.items", "api.item", "index", "&lt;script&gt;alert(1)&lt;/script&gt;"}


def test_anonymous_is_sent_to_login(app) -> None:  # noqa: ANN001
    client = app.test_client()
    resp = client.get(PREFIX + "/overview?sort=total")
    assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"]
    assert post(client, f"/overview/level/{app.ids['index']}", {"level": "0"}).status_code == 401
    assert post(client, "/overview/level", {"level": "0"}).status_code == 401
    assert level_of(app, "index") == 1


def test_numbers_sort_as_numbers(admin) -> None:  # noqa: ANN001
    asc = names(admin.get(PREFIX + "/overview?sort=total&dir=asc").text)
    assert [n for n in asc if n.startswith(("api", "index"))] == ["index", "api.item", "api.items"]
    desc = names(admin.get(PREFIX + "/overview?sort=total&dir=desc").text)
    assert desc[:3] == ["api.items", "api.item", "index"]
    by_median = names(admin.get(PREFIX + "/overview?sort=median&dir=desc").text)
    assert by_median[0] == "&lt;script&gt;alert(1)&lt;/script&gt;" and by_median[-1] == "index"


def test_every_column_sorts_and_says_so(admin) -> None:  # noqa: ANN001
    for key in SORT_KEYS:
        for direction, aria in (("asc", "ascending"), ("desc", "descending")):
            resp = admin.get(PREFIX + f"/overview?sort={key}&dir={direction}", headers={"HX-Request": "true"})
            assert resp.status_code == 200 and len(names(resp.text)) == 4, key
            assert re.search(rf'aria-sort="{aria}">\s*<a href="[^"]*"[^>]*data-sort="{key}"', resp.text), key


def test_filter_and_sort_stay_in_the_url(admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview?q=API&sort=week&dir=desc").text
    assert names(html) == ["api.items", "api.item"]
    assert 'value="API"' in html  # the filter box keeps the text
    assert '<input type="hidden" form="fmd-filter" name="sort" value="week">' in html
    # Column links keep the filter, and a click on the current column flips its direction.
    assert 'href="/dashboard/overview?q=API&amp;sort=week"' in html  # dir=asc is the default, left out
    assert 'href="/dashboard/overview?q=API&amp;sort=name"' not in html
    assert "No endpoint name contains “nothing”" in admin.get(PREFIX + "/overview?q=nothing").text


def test_admin_changes_a_level_in_place(app, admin) -> None:  # noqa: ANN001
    eid = app.ids["api.item"]
    resp = post(admin, f"/overview/level/{eid}", {"level": "2"}, htmx=True)
    assert resp.status_code == 200 and "<html" not in resp.text
    assert resp.text.strip().startswith(f'<tr id="fmd-endpoint-{eid}"')
    assert '<option value="2" selected>' in resp.text and ">10<" in resp.text  # the row with its counts
    assert level_of(app, "api.item") == 2
    assert app.extensions["fmd"].levels.table["api.item"] == 2
    page = admin.get(PREFIX + "/overview").text
    assert re.search(rf'fmd-endpoint-{eid}".*?<option value="2" selected>', page, re.S)


def test_plain_form_post_redirects_back(app, admin) -> None:  # noqa: ANN001
    resp = post(admin, f"/overview/level/{app.ids['index']}", {"level": "0", "q": "ind", "sort": "total"})
    assert resp.status_code == 302 and resp.headers["Location"] == PREFIX + "/overview?q=ind&sort=total"
    assert level_of(app, "index") == 0


def test_viewer_sees_a_disabled_select_and_cannot_post(app, viewer) -> None:  # noqa: ANN001
    html = viewer.get(PREFIX + "/overview").text
    assert "<select name=\"level\"" in html and "hx-post" not in html
    assert html.count(" disabled title=\"Only an admin can change the monitoring level\"") == 4
    assert "fmd-bulk" not in html
    assert post(viewer, f"/overview/level/{app.ids['index']}", {"level": "0"}, htmx=True).status_code == 403
    resp = post(viewer, "/overview/level", {"level": "0"})
    assert resp.status_code == 403 and "viewer" in resp.text
    assert level_of(app, "index") == 1


def test_invalid_level_is_a_400_with_a_message(app, admin) -> None:  # noqa: ANN001
    for value in ("7", "-1", "x", "", " ", "1.5", "²", None):
        data = {} if value is None else {"level": value}
        for path in (f"/overview/level/{app.ids['index']}", "/overview/level"):
            resp = post(admin, path, data, htmx=True)
            assert resp.status_code == 400 and "level" in resp.text and "fmd-error-message" in resp.text, value
    assert level_of(app, "index") == 1


def test_post_without_csrf_token_is_refused(app, admin) -> None:  # noqa: ANN001
    assert post(admin, f"/overview/level/{app.ids['index']}", {"level": "0"}, token=False).status_code == 400
    assert post(admin, "/overview/level", {"level": "0"}, token=False, htmx=True).status_code == 400
    assert level_of(app, "index") == 1


def test_unknown_endpoint_is_a_404(admin) -> None:  # noqa: ANN001
    resp = post(admin, "/overview/level/999999", {"level": "2"}, htmx=True)
    assert resp.status_code == 404 and "999999" in resp.text


def test_bulk_sets_every_endpoint_matching_the_filter(app, admin) -> None:  # noqa: ANN001
    confirmed = {"confirm": "yes"}
    resp = post(admin, "/overview/level", {"level": "2", "q": "api.", "sort": "total", "dir": "desc", **confirmed},
                htmx=True)
    assert resp.status_code == 200 and "Level 2 set for 2 endpoints." in resp.text
    assert names(resp.text) == ["api.items", "api.item"]
    assert level_of(app, "api.items") == level_of(app, "api.item") == 2
    assert level_of(app, "index") == 1 and level_of(app, EVIL) == 1
    resp = post(admin, "/overview/level", {"level": "0", **confirmed})  # no filter: all of them
    assert resp.status_code == 303 and all(level_of(app, n) == 0 for n in app.ids)


def test_endpoint_names_are_text(admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview").text
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = admin.get(PREFIX + "/overview", query_string={"q": EVIL}).text
    assert EVIL not in html and 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html


def test_bad_arguments_are_a_400_with_a_message(admin) -> None:  # noqa: ANN001
    for query, message in (("sort=bogus", "sort must be one of"), ("dir=up", "dir must be asc or desc"),
                           ("q=" + "x" * 251, "at most 250")):
        resp = admin.get(PREFIX + "/overview?" + query)
        assert resp.status_code == 400 and message in resp.text, query


def test_exceptions_column_links_to_the_endpoint_tab(app, admin) -> None:  # noqa: ANN001
    from exception_data import group
    from fmd.queries._range import floor_day, utcnow

    store = app.extensions["fmd"].store
    eid, today = app.ids["api.item"], floor_day(utcnow())
    group(store, "KeyError", [(today, eid, "1.0", 3)])
    group(store, "ValueError", [(today, eid, "1.0", 1)], message="other")
    group(store, "TypeError", [(today, app.ids["index"], "1.0", 1)], resolved_at=today, resolved_versions=["1.0"])
    html = admin.get(PREFIX + "/overview").text
    assert 'data-sort="exceptions">Exceptions</a>' in html
    row = re.search(rf'<tr id="fmd-endpoint-{eid}".*?</tr>', html, re.S).group(0)
    assert re.search(rf'<a class="fmd-bad" href="/dashboard/endpoint/{eid}/exceptions"\s+title="2 open exception '
                     r'groups">2</a>', row)
    index_id = app.ids["index"]
    index_row = re.search(rf'<tr id="fmd-endpoint-{index_id}".*?</tr>', html, re.S).group(0)
    assert "/exceptions" not in index_row and re.search(r'fmd-exc-count">–</td>', index_row)  # resolved only
    desc = names(admin.get(PREFIX + "/overview?sort=exceptions&dir=desc").text)
    assert desc[0] == "api.item"
