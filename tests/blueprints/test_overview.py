"""The overview page: table, sorting and filtering in the URL, the inline level control and its guards."""

from __future__ import annotations

import json
import re
import time
from html import unescape as html_unescape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# ------------------------------------------------------------------------------- issue 12: range, trends, bulk
def bulk(admin, level: str, confirm: bool = False, htmx: bool = True, **fields):  # noqa: ANN001, ANN003, ANN201
    data = {"level": level, **fields, **({"confirm": "yes"} if confirm else {})}
    return post(admin, "/overview/level", data, htmx=htmx)


def test_bulk_asks_for_a_confirmation_stating_the_count(app, admin) -> None:  # noqa: ANN001
    post(admin, f"/overview/level/{app.ids['api.item']}", {"level": "2"}, htmx=True)
    resp = bulk(admin, "2", q="api.", last="24h")
    assert resp.status_code == 200 and "<html" not in resp.text
    assert resp.headers["HX-Retarget"] == "#fmd-bulk" and resp.headers["HX-Reswap"] == "outerHTML"
    text = " ".join(resp.text.split())
    assert "Set 1 endpoint to level 2 · + outliers?" in text
    assert "2 endpoints match the filter “api.”: 1 changes to level 2 · + outliers, 1 is already at level 2." in text
    assert "Yes, set 1 endpoint to level 2 · + outliers</button>" in text
    for hidden in ('name="confirm" value="yes"', 'name="expected" value="2"', 'name="last" value="24h"',
                   'name="q" value="api."', 'name="level" value="2"', 'name="csrf_token"'):
        assert hidden in resp.text, hidden
    assert 'href="/dashboard/overview?q=api.&amp;last=24h"' in resp.text  # Cancel keeps filter and range
    assert level_of(app, "api.items") == 1  # nothing changed yet

    done = bulk(admin, "2", confirm=True, q="api.", last="24h", expected="2")
    assert done.status_code == 200 and done.text.lstrip().startswith('<section id="fmd-overview"')
    assert "Level 2 set for 2 endpoints." in done.text and level_of(app, "api.items") == 2


def test_bulk_level_zero_warns_and_a_changed_set_is_confirmed_again(app, admin) -> None:  # noqa: ANN001
    resp = bulk(admin, "0")
    assert "Set 4 endpoints to level 0 · off?" in resp.text and "turns monitoring off" in resp.text
    stale = bulk(admin, "0", confirm=True, expected="3")  # the page showed 3; there are 4 now
    assert "matching the filter changed" in stale.text and 'name="expected" value="4"' in stale.text
    assert all(level_of(app, n) == 1 for n in app.ids)
    same = bulk(admin, "1")
    assert "is already at level 1 · timing" in same.text and "Yes, set" not in same.text


def test_bulk_without_javascript_confirms_on_a_page_then_redirects(app, admin) -> None:  # noqa: ANN001
    page = bulk(admin, "3", htmx=False, q="index", sort="total", dir="desc")
    assert page.status_code == 200 and "<html" in page.text and "HX-Retarget" not in page.headers
    assert "Set 1 endpoint to level 3 · + profiler?" in page.text and 'method="post"' in page.text
    assert "Level 3 samples" not in page.text  # one endpoint under investigation is what level 3 is for
    assert "Level 3 samples the call stack" in bulk(admin, "3").text
    assert level_of(app, "index") == 1
    done = bulk(admin, "3", confirm=True, htmx=False, q="index", sort="total", dir="desc", expected="1")
    assert done.status_code == 303 and level_of(app, "index") == 3
    location = done.headers["Location"]
    assert location == PREFIX + "/overview?q=index&sort=total&dir=desc&bulk_level=3&bulk_count=1"
    notice = admin.get(location).text
    assert '<p class="fmd-notice" role="status">Level 3 set for 1 endpoint.</p>' in notice
    assert "bulk_level" not in notice.split("fmd-notice")[1]  # links do not carry the notice on
    for query in ("bulk_level=9&bulk_count=1", "bulk_level=1&bulk_count=x", "bulk_count=5"):
        assert admin.get(PREFIX + "/overview?" + query).status_code == 400, query


def test_bulk_select_starts_without_a_level(admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview").text
    assert '<select id="fmd-bulk-level" name="level" required>' in html
    assert '<option value="" disabled selected>choose a level…</option>' in html
    assert "hx-confirm" not in html


def test_range_and_refresh_stay_in_every_link_and_form(admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview?last=24h&q=api&sort=week&dir=desc&refresh=60").text
    kept = "last=24h&amp;refresh=60"
    assert f'href="/dashboard/overview?q=api&amp;sort=week&amp;{kept}"' in html  # the current column flips
    assert f'href="/dashboard/overview?q=api&amp;sort=change&amp;dir=desc&amp;{kept}"' in html
    assert '<input type="hidden" form="fmd-filter" name="last" value="24h">' in html
    assert '<input type="hidden" form="fmd-filter" name="refresh" value="60">' in html
    level_forms = re.findall(r'<form class="fmd-inline fmd-level".*?</form>', html, re.S)
    assert level_forms and all('name="last" value="24h"' in f and 'name="refresh" value="60"' in f
                               for f in level_forms)
    bulk_form = re.search(r'<form id="fmd-bulk".*?</form>', html, re.S).group(0)
    assert 'name="last" value="24h"' in bulk_form and 'name="q" value="api"' in bulk_form
    # Quick ranges keep filter, sort and refresh; refresh choices keep the range.
    assert 'href="/dashboard/overview?last=7d&amp;q=api&amp;sort=week&amp;dir=desc&amp;refresh=60"' in html
    assert 'href="/dashboard/overview?q=api&amp;sort=week&amp;dir=desc&amp;last=24h&amp;refresh=30"' in html
    # The endpoint's page opens with the same range.
    eid = admin.application.ids["api.item"]
    assert f'<a href="/dashboard/endpoint/{eid}?last=24h">api.item</a>' in html
    # A plain level post goes back to the same view.
    resp = post(admin, f"/overview/level/{admin.application.ids['index']}",
                {"level": "2", "q": "ind", "last": "24h", "refresh": "60"})
    assert resp.headers["Location"] == PREFIX + "/overview?q=ind&last=24h&refresh=60"


def test_auto_refresh_polls_the_same_url(admin) -> None:  # noqa: ANN001
    off = admin.get(PREFIX + "/overview").text
    assert "fmd-poller" not in off and 'http-equiv="refresh"' not in off
    page = admin.get(PREFIX + "/overview?refresh=30&last=6h&sort=p95").text
    poller = re.search(r'<div class="fmd-poller".*?</div>', page, re.S).group(0)
    assert 'hx-get="/dashboard/overview?sort=p95&amp;last=6h&amp;refresh=30"' in poller
    assert 'hx-trigger="every 30s [' in poller and 'hx-target="#fmd-overview"' in poller
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in page
    frag = admin.get(PREFIX + "/overview?refresh=300", headers={"HX-Request": "true"}).text
    assert "every 300s" in frag  # the swapped section keeps polling


def test_bad_range_and_refresh_are_a_400(admin) -> None:  # noqa: ANN001
    for query, message in (("refresh=7", "refresh must be one of"), ("refresh=abc", "refresh must be one of"),
                           ("last=5x", "last must be"), ("sort=delta", "sort must be one of"),
                           ("start=2024-02-30", "start is not a real date")):
        resp = admin.get(PREFIX + "/overview?" + query)
        assert resp.status_code == 400 and message in resp.text, query


def test_a_range_at_the_earliest_date_has_nothing_to_compare_with(admin) -> None:  # noqa: ANN001
    resp = admin.get(PREFIX + "/overview?start=2000-01-01&end=2000-01-07&sort=change")
    assert resp.status_code == 200 and "changes against nothing (the range starts at the earliest date" in resp.text


def test_headline_and_trend_columns(app, admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview?last=24h").text
    strip = " ".join(re.search(r'<div class="fmd-headline".*?</p>\s*</div>', html, re.S).group(0).split())
    # 120 requests in the last minute, 2 of them 5xx; nothing before to compare with.
    assert '<span class="fmd-figure">120</span>' in strip and '<span class="fmd-figure">1.7 %</span>' in strip
    assert strip.count('class="fmd-change fmd-muted"') == 3 and "the previous 25 hours (" in strip
    row = re.search(rf'<tr id="fmd-endpoint-{app.ids["api.item"]}".*?</tr>', html, re.S).group(0)
    spec = json.loads(html_unescape(re.search(r'<script type="application/json">(.*?)</script>', row, re.S).group(1)))
    assert spec["usermeta"] == {"embedOptions": {"actions": False}}
    assert spec["encoding"]["tooltip"][0]["title"] == "Hour"
    assert [r["n"] for r in spec["datasets"]["trend"]] == [10]  # one hourly bucket holds all ten
    assert '<span class="fmd-trend-total">10</span>' in row
    assert 'data-sort="change">Δ p95</a>' in html


def test_sort_by_change_puts_endpoints_without_a_comparison_last(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    now = time.time() - 60
    week = 8 * 86400  # in the previous 7 days of the default range
    records = [("slower", 0.010, now - week, 200), ("slower", 0.020, now, 200),
               ("faster", 0.020, now - week, 200), ("faster", 0.010, now, 200), ("new", 0.5, now, 200)]
    record(app.extensions["fmd"].store, records)
    admin = logged_in(app)
    desc = admin.get(PREFIX + "/overview?sort=change&dir=desc").text
    asc = admin.get(PREFIX + "/overview?sort=change&dir=asc").text
    assert names(desc) == ["slower", "faster", "new"] and names(asc) == ["faster", "slower", "new"]
    assert re.search(r'fmd-delta fmd-bad"\s+title="p95 [^"]+ before, [^"]+ now">\+', desc)
    assert re.search(r'fmd-delta fmd-ok"\s+title="p95 [^"]+ before, [^"]+ now">−', desc)
    assert re.search(r'<td class="num fmd-delta">–</td>', desc)
    # Headline: 3 requests against 2 (+50 %, never coloured), p95 up from ~20 ms to ~450 ms (worse: red).
    assert '<span class="fmd-change ">+50 %</span>' in desc
    assert re.search(r'<dt>p95</dt>\s*<dd><span class="fmd-figure">[^<]+</span>\s*'
                     r'<span class="fmd-change fmd-bad">\+', desc)


def test_level_change_says_saved_and_resets_on_error(app, admin) -> None:  # noqa: ANN001
    page = admin.get(PREFIX + "/overview").text
    assert "fmd-saved" not in page and 'hx-on::response-error="this.form.reset()"' in page
    row = post(admin, f"/overview/level/{app.ids['index']}", {"level": "3", "last": "6h"}, htmx=True).text
    assert '<span role="status" class="fmd-saved">Saved</span>' in row and '<option value="3" selected>' in row
    assert 'name="last" value="6h"' in row
    endpoint = post(admin, f"/endpoint/{app.ids['index']}/level", {"level": "2"}, htmx=True).text
    assert '<span role="status" class="fmd-saved">Saved</span>' in endpoint
    assert "fmd-saved" not in admin.get(PREFIX + f"/endpoint/{app.ids['index']}").text


ODD = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40), st.sampled_from(
    ["1h", "24h", "0h", "9601h", "400d", "401d", "0", "30", "300", "2000-01-01", "2999-12-31", "yes", "3", "-1"]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(last=ODD, refresh=ODD, start=ODD, days=ODD, bulk_level=ODD, bulk_count=ODD,
       sort=st.sampled_from(["change", "requests", None]), htmx=st.booleans())
def test_any_range_or_refresh_is_a_page_or_a_400(admin, htmx, **args) -> None:  # noqa: ANN001, ANN003
    query = {k: v for k, v in args.items() if v is not None}
    resp = admin.get(PREFIX + "/overview", query_string=query, headers={"HX-Request": "true"} if htmx else {})
    assert resp.status_code in (200, 400), query


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(level=ODD, confirm=ODD, expected=ODD, last=ODD, htmx=st.booleans())
def test_any_bulk_form_is_answered_or_refused(admin, htmx, **fields) -> None:  # noqa: ANN001, ANN003
    data = {k: v for k, v in fields.items() if v is not None}
    assert post(admin, "/overview/level", data, htmx=htmx).status_code in (200, 303, 400), data
