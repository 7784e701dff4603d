"""The endpoint page: header, every tab as page / section / fragment, ranges, CSV, empty states, escaping, level."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from dashboard_helpers import PREFIX, add_user, dashboard, logged_in, post
from lifecycle_data import write

from fmd.blueprints.endpoint import TABS
from fmd.queries._range import utcnow
from fmd.queries.overview import endpoint_by_id
from fmd.store import writes

EVIL = "<script>alert(1)</script>"
SPEC = re.compile(r'<script type="application/json">(.*?)</script>', re.S)
PATHS = [""] + ["/" + tab.path for tab in TABS]


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    """"index" (the host's "/" route): 12 users + an evil one over two versions; an evil endpoint; a silent one."""
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    old = [("index", 0.010 + i / 1000, now - timedelta(hours=30, minutes=i), 200, f"user{i % 12}", f"10.0.0.{i % 15}")
           for i in range(60)]
    new = [("index", 0.050 + i / 1000, now - timedelta(minutes=i), 500 if i < 3 else 200, EVIL if i % 4 == 0 else
            f"user{i % 12}", f"10.0.1.{i % 3}") for i in range(40)]
    ids = write(store, old, version="1.0")
    ids.update(write(store, new, version=EVIL))
    ids.update(write(store, [(EVIL, 0.3, now, 200, "", "::1")], version="1.0"))
    with store.write() as conn:
        ids.update(writes.ensure_endpoints(conn, store.tables, ["silent"], {}))
    app.ids = ids
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


@pytest.fixture
def viewer(app):  # noqa: ANN001, ANN201
    add_user(app, "viewer", "password-1")
    return logged_in(app, "viewer", "password-1")


def specs(html: str) -> list[dict]:
    return [json.loads(text) for text in SPEC.findall(html)]


def url(app, name: str, path: str = "") -> str:  # noqa: ANN001
    return f"{PREFIX}/endpoint/{app.ids[name]}{path}"


def test_every_tab_is_a_page_a_section_and_a_fragment(app, admin) -> None:  # noqa: ANN001
    for path in PATHS:
        page = admin.get(url(app, "index", path))
        tabs = admin.get(url(app, "index", path), headers={"HX-Request": "true"})
        section = admin.get(url(app, "index", path), headers={"HX-Request": "true", "HX-Target": "fmd-endpoint"})
        restore = admin.get(url(app, "index", path), headers={"HX-Request": "true",
                                                              "HX-History-Restore-Request": "true"})
        for resp in (page, tabs, section, restore):
            assert resp.status_code == 200, (path, resp.text[:300])
            assert {"HX-Request", "HX-Target"} <= set(resp.headers["Vary"].replace(" ", "").split(",")), path
        assert "<html" in page.text and "<html" in restore.text
        assert '<h1 class="fmd-endpoint-name">index</h1>' in page.text
        assert "<html" not in tabs.text and tabs.text.lstrip().startswith('<div id="fmd-tabs"'), path
        assert "fmd-endpoint-name" not in tabs.text  # no header in a tab switch...
        assert 'id="fmd-range" class="fmd-toolbar fmd-range" hx-swap-oob="true"' in tabs.text  # ...but its range
        assert "<html" not in section.text and section.text.lstrip().startswith('<section id="fmd-endpoint"'), path
        assert "fmd-endpoint-name" in section.text and 'id="fmd-tabs"' in section.text
        assert "hx-swap-oob" not in section.text
        current = (TABS[0] if not path else next(t for t in TABS if "/" + t.path == path))
        assert re.search(rf'id="fmd-tab-{current.path}" [^>]*aria-current="page"', tabs.text), path
        assert f'data-tab="{current.path}"' in tabs.text, path
        if current.draw:  # every chart tab has a chart with rows and a CSV link
            [spec] = specs(tabs.text)
            assert next(iter(spec["datasets"].values())), path
            assert f'href="{url(app, "index", "/" + current.path)}.csv?start=' in tabs.text, path
        elif current.load:  # a table tab: the rows and the generic CSV link
            assert 'id="fmd-versions-table"' in tabs.text
            assert f'href="{url(app, "index", "/" + current.path)}.csv?start=' in tabs.text, path
        else:  # a tab with its own panel, paging and downloads (outliers, exceptions; their own tests)
            assert current.panel is not None, path
            if current.name == "outliers":
                assert 'id="fmd-outliers"' in tabs.text and "No outliers of “index” were recorded" in tabs.text


def test_header_shows_routes_methods_level_and_figures(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "index")).text
    start = html.index('<header class="fmd-endpoint-head">')
    head = html[start:html.index("</header>", start)]
    assert "<code>/</code>" in head and "<code>GET</code>" in head  # the host app's route for "index"
    assert '<option value="1" selected>' in head and 'hx-post="/dashboard/endpoint/' in head
    assert '<dt>Requests</dt><dd class="num">100</dd>' in head
    assert "3.0 %" in head  # 3 of 100 answered 500
    assert "<code>1.0</code> <code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in head  # versions, oldest first
    assert "Purge recorded data" in head and "Merge into another endpoint" in head
    silent = admin.get(url(app, "silent")).text
    assert "none in this app" in silent and "<dt>First request</dt><dd>never</dd>" in silent


def test_overview_links_to_the_endpoint_page(app, admin) -> None:  # noqa: ANN001
    html = admin.get(PREFIX + "/overview").text
    assert f'<a href="{url(app, "index")}">index</a>' in html
    assert f'<a href="{url(app, EVIL)}">&lt;script&gt;alert(1)&lt;/script&gt;</a>' in html


def test_unknown_endpoint_is_a_404_with_a_message(admin) -> None:  # noqa: ANN001
    for eid in (987654, 2**63, 2**70):  # ids past 2**63 once overflowed SQLite's integer binding (a 500)
        for path in PATHS + ["/users.csv", "/versions.csv"]:
            for headers in ({}, {"HX-Request": "true"}):
                resp = admin.get(f"{PREFIX}/endpoint/{eid}{path}", headers=headers)
                assert resp.status_code == 404, path
                assert f"There is no endpoint with id {eid}" in resp.text and "fmd-error-message" in resp.text
    assert post(admin, "/endpoint/987654/level", {"level": "2"}, htmx=True).status_code == 404


@pytest.mark.parametrize("query", ["start=2024-02-30", "start=2024-13-01&end=2024-12-01", "end=yesterday",
                                   "start=2024-03-10&end=2024-03-01", "days=0", "days=401", "days=x",
                                   "start=2000-01-01&end=2024-01-01", "start=1999-12-31"])
def test_bad_dates_are_a_400_with_a_message(app, admin, query: str) -> None:  # noqa: ANN001
    for path in ("", "/users", "/status-codes.csv"):
        resp = admin.get(url(app, "index", path) + "?" + query, headers={"HX-Request": "true"})
        assert resp.status_code == 400, (path, query)
        assert "fmd-error-message" in resp.text and re.search(r"start|end|days|range", resp.text), query


def test_the_range_stays_in_every_link(app, admin) -> None:  # noqa: ANN001
    today = utcnow().date()
    start, end = today - timedelta(days=3), today
    html = admin.get(url(app, "index", "/users") + f"?start={start}&end={end}").text
    for tab in TABS:
        assert f'href="{url(app, "index", "/" + tab.path)}?start={start}&amp;end={end}"' in html, tab.name
    assert f'{url(app, "index", "/users")}.csv?start={start}&amp;end={end}' in html
    assert f'value="{start}"' in html and f'action="{url(app, "index", "/users")}"' in html
    assert f'hx-get="{url(app, "index", "/users")}?last=30d" hx-target="#fmd-endpoint"' in html


def test_top_users_and_other(app, admin) -> None:  # noqa: ANN001
    [spec] = specs(admin.get(url(app, "index", "/users"), headers={"HX-Request": "true"}).text)
    rows = spec["datasets"]["circles"]
    users = list(dict.fromkeys(r["user"] for r in rows))
    assert len(users) == 11 and users[-1] == "other (3 users)" and rows[-1]["other"]  # 13 users: top 10 + other
    assert {r["version"] for r in rows} == {"1.0", EVIL}
    assert sum(r["hits"] for r in rows) == 100 and all(r["mean_ms"] > 0 for r in rows)
    [boxes] = specs(admin.get(url(app, "index", "/user-performance"), headers={"HX-Request": "true"}).text)
    assert [r["user"] for r in boxes["datasets"]["boxes"]][-1] == "other (3 users)"
    [ips] = specs(admin.get(url(app, "index", "/ips"), headers={"HX-Request": "true"}).text)
    assert {r["ip"] for r in ips["datasets"]["circles"]} >= {"10.0.1.0", "other (8 IPs)"}


def test_status_codes_table_counts_and_share(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "index", "/status-codes"), headers={"HX-Request": "true"}).text
    table = html[html.index('id="fmd-status-table"'):]
    assert re.search(r'<th scope="row">200</th>\s*<td class="num">97</td><td class="num">97.0 %</td>', table)
    assert re.search(r'<th scope="row" class="fmd-bad">500</th>\s*<td class="num">3</td><td class="num">3.0 %</td>',
                     table)
    [spec] = specs(html)
    assert sum(r["hits"] for r in spec["datasets"]["status_time"]) == 100


def test_versions_table(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "index", "/versions"), headers={"HX-Request": "true"}).text
    rows = re.findall(r"<tr>\s*<th scope=\"row\"><code>(.*?)</code></th>.*?<td class=\"num\">([\d,]+)</td>", html, re.S)
    assert rows == [("1.0", "60"), ("&lt;script&gt;alert(1)&lt;/script&gt;", "40")]
    assert re.search(r'<td class="num fmd-bad">\+\d+\.\d %</td>', html)  # the new version is slower


def test_every_tab_downloads_as_csv(app, admin) -> None:  # noqa: ANN001
    for tab in (t for t in TABS if t.load):  # tabs with their own panel bring their own downloads
        resp = admin.get(url(app, "index", f"/{tab.path}.csv"))
        assert resp.status_code == 200 and resp.mimetype == "text/csv", tab.name
        assert f'filename="fmd-endpoint-{app.ids["index"]}-{tab.path}-' in resp.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert rows, tab.name
    users = list(csv.DictReader(io.StringIO(admin.get(url(app, "index", "/users.csv")).text)))
    assert sum(int(r["hits"]) for r in users) == 100 and {"user", "version", "mean_ms"} <= set(users[0])


def test_empty_states_say_why(app, admin) -> None:  # noqa: ANN001
    for path in [""] + ["/" + tab.path for tab in TABS if tab.load]:  # panel tabs say it their own way
        html = admin.get(url(app, "index", path) + "?start=2001-01-01&end=2001-01-07",
                         headers={"HX-Request": "true"}).text
        assert "No requests of “index” were recorded from 2001-01-01 to 2001-01-07 (UTC)" in html, path
        assert 'class="fmd-chart"' not in html and "choose a later range" in html, path
    past = admin.get(url(app, "index", "/users") + "?start=2999-01-01").text
    assert "Its last request was" in past and "choose a range that includes it" in past
    silent = admin.get(url(app, "silent", "/status-codes")).text
    assert "It has not been requested since fmd started recording" in silent
    app.extensions["fmd"].set_level("silent", 0)
    assert "Its monitoring level is 0 (off)" in admin.get(url(app, "silent", "/versions")).text


def test_script_names_and_group_by_values_are_text(app, admin) -> None:  # noqa: ANN001
    for path in PATHS:
        html = admin.get(url(app, EVIL, path)).text + admin.get(url(app, "index", path)).text
        assert EVIL not in html, path  # autoescaped in the page, \u003c-escaped inside the specs' JSON
    page = admin.get(url(app, EVIL)).text
    assert '<h1 class="fmd-endpoint-name">&lt;script&gt;alert(1)&lt;/script&gt;</h1>' in page
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; · Hourly load · fmd</title>" in page
    [spec] = specs(admin.get(url(app, "index", "/users"), headers={"HX-Request": "true"}).text)
    assert EVIL in {r["user"] for r in spec["datasets"]["circles"]}  # shown by vega as text, not parsed as HTML
    assert EVIL not in json.dumps(spec["encoding"])  # never part of an expression


def test_a_missing_group_by_is_explained(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, EVIL, "/users"), headers={"HX-Request": "true"}).text
    assert "No user is known for these requests (shown as “(none)”)" in html and 'class="fmd-chart"' in html
    assert "No user is known" not in admin.get(url(app, "index", "/users"), headers={"HX-Request": "true"}).text
    assert "No user is known" not in admin.get(url(app, EVIL, "/ips"), headers={"HX-Request": "true"}).text


def test_anonymous_is_sent_to_login(app) -> None:  # noqa: ANN001
    client = app.test_client()
    for path in PATHS + ["/users.csv"]:
        resp = client.get(url(app, "index", path))
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], path
    assert post(client, f"/endpoint/{app.ids['index']}/level", {"level": "0"}).status_code == 401


def test_viewer_reads_but_cannot_change(app, viewer) -> None:  # noqa: ANN001
    html = viewer.get(url(app, "index")).text
    assert 'disabled title="Only an admin can change the monitoring level"' in html
    assert "hx-post" not in html and "Purge recorded data" not in html and "Merge into" not in html
    resp = post(viewer, f"/endpoint/{app.ids['index']}/level", {"level": "0"}, htmx=True)
    assert resp.status_code == 403 and "viewer" in resp.text
    assert level(app, "index") == 1


def level(app, name: str) -> int:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        return endpoint_by_id(conn, store.tables, app.ids[name])["level"]


def test_admin_changes_the_level_in_the_header(app, admin) -> None:  # noqa: ANN001
    eid = app.ids["index"]
    resp = post(admin, f"/endpoint/{eid}/level", {"level": "2"}, htmx=True)
    assert resp.status_code == 200 and resp.text.lstrip().startswith('<form class="fmd-inline fmd-level"')
    assert '<option value="2" selected>' in resp.text and 'hx-target="closest form"' in resp.text
    assert level(app, "index") == 2 and app.extensions["fmd"].levels.table["index"] == 2
    plain = post(admin, f"/endpoint/{eid}/level", {"level": "0"})
    assert plain.status_code == 303 and plain.headers["Location"] == url(app, "index")
    assert level(app, "index") == 0
    for bad in ("7", "", "x"):
        assert post(admin, f"/endpoint/{eid}/level", {"level": bad}, htmx=True).status_code == 400
    assert post(admin, f"/endpoint/{eid}/level", {"level": "1"}, token=False).status_code == 400  # no CSRF token
    assert level(app, "index") == 0


@pytest.mark.parametrize("query", ["last=0h", "last=6x", "last=9601h", "last=401d", "last=-1h", "last=h",
                                   "refresh=7", "refresh=off"])
def test_bad_rolling_ranges_and_refresh_are_a_400(app, admin, query: str) -> None:  # noqa: ANN001
    resp = admin.get(url(app, "index", "/users") + "?" + query, headers={"HX-Request": "true"})
    assert resp.status_code == 400 and "fmd-error-message" in resp.text
    assert ("last must be" in resp.text) if query.startswith("last") else ("refresh must be" in resp.text)


def test_a_rolling_range_and_refresh_stay_in_every_link(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "index", "/users") + "?last=6h&refresh=30").text
    for tab in TABS:
        assert f'href="{url(app, "index", "/" + tab.path)}?last=6h&amp;refresh=30"' in html, tab.name
    assert '<input type="hidden" name="last" value="6h">' in html
    assert '<input type="hidden" name="refresh" value="30">' in html
    assert re.search(r'the last 6 hours \(since \d\d:00\)', html)
    assert f'href="{url(app, "index", "/users")}?last=24h&amp;refresh=30"' in html
    assert 'aria-current="true">6 h</a>' in html
    # The poller reloads the whole section every 30 s, only while the page is visible; the no-JS page reloads.
    assert ('hx-trigger="every 30s [document.visibilityState === \'visible\' && !document.querySelector('
            '\'#fmd-endpoint input:focus, #fmd-endpoint select:focus, #fmd-endpoint .fmd-chart-table[open]\')]"') in html
    assert f'hx-get="{url(app, "index", "/users")}?last=6h&amp;refresh=30" hx-target="#fmd-endpoint"' in html
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html
    # Refresh off by default: no poller, no meta refresh.
    plain = admin.get(url(app, "index", "/users") + "?last=6h").text
    assert "fmd-poller" not in plain and 'http-equiv="refresh"' not in plain


def test_a_rolling_range_form_keeps_rolling_unless_its_dates_change(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "index", "/users") + "?last=24h").text
    first, last = re.findall(r'name="(?:start|end)" value="([0-9-]+)"', html)
    # Sent without JavaScript, the form's URL redirects to "last" alone, so a bookmark of it stays rolling.
    resp = admin.get(url(app, "index", "/users") + f"?last=24h&refresh=30&start={first}&end={last}")
    assert resp.status_code == 303 and resp.headers["Location"] == url(app, "index", "/users") + "?last=24h&refresh=30"
    assert "the last 24 hours" in admin.get(resp.headers["Location"]).text
    # htmx asks for the fragment directly (its pushed URL drops the dates on the client).
    same = admin.get(url(app, "index", "/users") + f"?last=24h&start={first}&end={last}",
                     headers={"HX-Request": "true"})
    assert same.status_code == 200 and "the last 24 hours" in same.text
    other = admin.get(url(app, "index", "/users") + "?last=24h&start=2024-01-01&end=2024-01-02").text
    assert "the last 24 hours" not in other and 'value="2024-01-01"' in other


def test_the_hourly_tab_shows_only_the_range_s_days_in_a_fractional_offset_zone(make_app, sqlite_url) -> None:  # noqa: ANN001
    """India (+05:30): a local day widens to whole UTC hours (23:30 the day before to 00:30 the day after); the
    UTC hour that starts at 23:30 the day before is that day's (as on the Hourly load page), so it adds no row."""
    from fmd.queries._range import local_midnight_utc, local_today

    app = dashboard(make_app, sqlite_url, timezone="Asia/Kolkata")
    day = local_today(utcnow(), "Asia/Kolkata") - timedelta(days=1)
    midnight = local_midnight_utc(day, "Asia/Kolkata")  # 18:30 UTC the day before
    ids = write(app.extensions["fmd"].store, [("index", 0.01, midnight - timedelta(minutes=20), 200, "u", "::1"),
                                              ("index", 0.01, midnight + timedelta(minutes=40), 200, "u", "::1")])
    client = logged_in(app)
    html = client.get(f"{PREFIX}/endpoint/{ids['index']}/hourly?start={day}&end={day}").text
    rows = next(iter(specs(html)[0]["datasets"].values()))
    assert {row["day"] for row in rows} == {day.isoformat()}
    assert [(row["hour"], row["hits"]) for row in rows if row["hits"]] == [(0, 1)]
    csv_rows = list(csv.DictReader(io.StringIO(
        client.get(f"{PREFIX}/endpoint/{ids['index']}/hourly.csv?start={day}&end={day}").text)))
    assert {row["day"] for row in csv_rows} == {day.isoformat()} and sum(int(r["hits"]) for r in csv_rows) == 1


def test_a_tab_switch_moves_auto_refresh_to_the_new_tab(app, admin) -> None:  # noqa: ANN001
    """The poller and the auto-refresh choices live outside the tabs: a tab switch sends them out of band for the
    new tab, else the poller kept reloading the tab open before (and 'off' led back to it)."""
    users, status = url(app, "index", "/users"), url(app, "index", "/status-codes")
    tabs = admin.get(status + "?last=6h&refresh=30", headers={"HX-Request": "true"}).text
    slot = re.search(r'<div id="fmd-autorefresh" hx-swap-oob="true">(.*?)</div>\s*</div>', tabs, re.S)
    assert slot and f'hx-get="{status}?last=6h&amp;refresh=30" hx-target="#fmd-endpoint"' in slot.group(1)
    bar = re.search(r'<p id="fmd-refresh-bar" [^>]*hx-swap-oob="true">(.*?)</p>', tabs, re.S).group(1)
    assert f'href="{status}?last=6h"' in bar and f'href="{status}?last=6h&amp;refresh=60"' in bar
    assert tabs.count(users + "?") == 2  # only the Users tab's link (href and hx-get) leads to the old tab
    off = admin.get(status + "?last=6h", headers={"HX-Request": "true"}).text
    assert re.search(r'<div id="fmd-autorefresh" hx-swap-oob="true">\s*</div>', off) and "fmd-poller" not in off
    page = admin.get(users + "?last=6h&refresh=30").text  # the page itself: one slot, one bar, nothing out of band
    assert page.count('id="fmd-autorefresh"') == 1 and page.count('id="fmd-refresh-bar"') == 1
    assert 'hx-swap-oob="true">' not in page.split('id="fmd-range"')[0] and page.count("hx-swap-oob") == 0


def test_per_day_tabs_say_which_utc_days_they_count(app, admin) -> None:  # noqa: ANN001
    # The per-user and per-IP rollups are daily: a rolling hour is read as its whole UTC day, and the tab says so.
    for path in ("/users", "/ips", "/user-performance"):
        html = admin.get(url(app, "index", path) + "?last=1h", headers={"HX-Request": "true"}).text
        assert "fmd-day-note" in html and re.search(r"so this tab counts the UTC days? \d{4}-", html), path
        assert "not exactly the last hour (since" in html
    # Whole UTC days (the dashboard's TIMEZONE is UTC here): nothing to say; other tabs never say it.
    assert "fmd-day-note" not in admin.get(url(app, "index", "/users") + "?days=7").text
    assert "fmd-day-note" not in admin.get(url(app, "index", "/status-codes") + "?last=1h").text
