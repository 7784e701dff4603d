"""The Outliers tab: page and htmx fragment, paging, rows that expand (htmx and plain), the stack with application
frames highlighted and library frames folded, escaping, downloads, access, 404s and 400s, the level hint."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta

import pytest
from dashboard_helpers import PREFIX, dashboard, logged_in
from flask import Flask, request

import fmd

from fmd.blueprints.endpoint_outliers import fold_frames
from fmd.queries._range import utcnow
from fmd.store import writes

EVIL = "<script>alert(1)</script>"
MB = 1024 * 1024
STACK = [{"file": "/srv/app/views.py", "line": 10, "function": "index", "code": "return render()", "app": True},
         {"file": "/usr/lib/flask/templating.py", "line": 150, "function": "render_template", "code": "", "app": False},
         {"file": "/usr/lib/jinja2/environment.py", "line": 1301, "function": "render", "code": "", "app": False},
         {"file": "/srv/app/helpers.py", "line": 7, "function": "slow_helper", "code": "time.sleep(1)", "app": True},
         {"file": "/usr/lib/python3.11/socket.py", "line": 705, "function": "readinto", "code": "", "app": False}]


def outlier(endpoint_id: int, request_id: int, when, i: int, **more):  # noqa: ANN001, ANN201
    row = {"request_id": request_id, "endpoint_id": endpoint_id, "time_requested": when, "duration": 1.0 + i / 100,
           "status_code": 500 if i == 0 else 200, "version": "1.0", "average": 0.25, "method": "POST",
           "url": f"/items/{i}?q={i}",
           "request_values": json.dumps({"query": [["q", str(i)]], "form": [["name", "bob"]], "json": {"n": i}}),
           "request_headers": json.dumps([["Host", "example.test"], ["User-Agent", "curl/8"]]),
           "request_environment": json.dumps({"SERVER_NAME": "example.test"}),
           "stacktrace": json.dumps(STACK), "stack_at": 0.14, "cpu_percent": json.dumps([12.0, 48.0]),
           "memory": json.dumps({"rss": 150 * MB, "system_percent": 42.5, "system_available": 2048 * MB}),
           "cut": json.dumps(["headers.User-Agent: 4096 of 9000 characters kept"])}
    row.update(more)
    return row


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    """"index" at level 2 with 30 outliers in the last days (the newest has hostile values), "old" at level 1 with
    2 outliers stored earlier, "silent" at level 1 with none."""
    app = dashboard(make_app, sqlite_url)
    state = app.extensions["fmd"]
    store, t = state.store, state.store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["index", "old", "silent"], {})
        for name, count in (("index", 30), ("old", 2)):
            for i in range(count):
                when = now - timedelta(hours=3 * i)
                rid = conn.execute(t.request.insert().values(endpoint_id=ids[name], duration=1.0, time_requested=when,
                                                             status_code=200)).inserted_primary_key[0]
                more = {}
                if name == "index" and i == 0:
                    more = {"url": f"/items/0?q={EVIL}", "request_headers": json.dumps([["X-Evil", EVIL]]),
                            "request_environment": json.dumps({"HTTP_X_EVIL": EVIL}),
                            "request_values": json.dumps({"query": [["q", EVIL]], "form": [], "json": {EVIL: EVIL}}),
                            "stacktrace": json.dumps([{**STACK[0], "code": EVIL}] + STACK[1:]),
                            "cut": json.dumps([f"headers.X-Evil: {EVIL}"])}
                conn.execute(t.outlier.insert().values(**outlier(ids[name], rid, when, i, **more)))
    state.set_level("index", 2)
    app.ids = ids
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def tab(app, name: str = "index", suffix: str = "") -> str:  # noqa: ANN001
    return f"{PREFIX}/endpoint/{app.ids[name]}/outliers{suffix}"


def ids_of(app, name: str = "index") -> list[int]:  # noqa: ANN001
    store = app.extensions["fmd"].store
    t = store.tables
    with store.read() as conn:
        return [row[0] for row in conn.execute(t.outlier.select().with_only_columns(t.outlier.c.id)
                                               .where(t.outlier.c.endpoint_id == app.ids[name])
                                               .order_by(t.outlier.c.time_requested.desc()))]


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="fmd-outlier-(\d+)" class="fmd-outlier-row">', html)]


def test_page_and_fragment_newest_first(app, admin) -> None:  # noqa: ANN001
    page = admin.get(tab(app))
    frag = admin.get(tab(app), headers={"HX-Request": "true"})
    assert page.status_code == frag.status_code == 200
    assert "<html" in page.text and "<html" not in frag.text and frag.text.lstrip().startswith('<div id="fmd-tabs"')
    assert row_ids(frag.text) == ids_of(app)[:25]
    assert "30 outliers from" in frag.text and "showing 1–25" in frag.text
    start = frag.text.index('class="fmd-outlier-row"')
    first = frag.text[start:frag.text.index("</tr>", start)]
    assert re.search(r'<td class="num">1,000\.0</td>\s*<td class="num">4\.0×</td>', first)  # 1 s / 0.25 s
    assert '<td class="num fmd-bad">500</td>' in first and "<code>POST</code>" in first
    assert "30.0 %" in first and "150.0" in first  # CPU mean over the cores, RSS in MB
    assert "Outliers are captured at monitoring level 2" not in frag.text


def test_times_are_shown_in_the_dashboard_zone(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, timezone="Asia/Kolkata")
    store = app.extensions["fmd"].store
    t = store.tables
    when = utcnow().replace(microsecond=0, second=0) - timedelta(hours=1)
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, t, ["index"], {})["index"]
        conn.execute(t.outlier.insert().values(**outlier(eid, 1, when, 1)))
    html = logged_in(app).get(f"{PREFIX}/endpoint/{eid}/outliers", headers={"HX-Request": "true"}).text
    local = when + timedelta(hours=5, minutes=30)
    assert f">{local:%Y-%m-%d %H:%M:%S}</time>" in html and f'datetime="{when.isoformat()}Z"' in html


def test_paging_keeps_the_range_and_clamps(app, admin) -> None:  # noqa: ANN001
    today = utcnow().date()
    rng = f"start={today - timedelta(days=6)}&end={today}"
    first = admin.get(tab(app) + "?" + rng, headers={"HX-Request": "true"}).text
    nxt = f'{tab(app)}?start={today - timedelta(days=6)}&amp;end={today}&amp;page=2'
    assert f'href="{nxt}" hx-get="{nxt}" hx-target="#fmd-tabs"' in first and "page 1 of 2" in first
    second = admin.get(tab(app) + f"?{rng}&page=2", headers={"HX-Request": "true"}).text
    assert row_ids(second) == ids_of(app)[25:30] and "showing 26–30" in second and "page 2 of 2" in second
    past = admin.get(tab(app) + f"?{rng}&page=999", headers={"HX-Request": "true"})
    assert past.status_code == 200 and row_ids(past.text) == row_ids(second)  # the last page
    narrow = admin.get(tab(app) + f"?start={today}&end={today}&page=3", headers={"HX-Request": "true"})
    assert narrow.status_code == 200 and 0 < len(row_ids(narrow.text)) <= 9  # outliers 3 h apart: today only


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "2" * 12, "%00"])
def test_a_bad_page_is_a_400_with_a_message(app, admin, value: str) -> None:  # noqa: ANN001
    for headers in ({}, {"HX-Request": "true"}):
        resp = admin.get(tab(app) + f"?page={value}", headers=headers)
        assert resp.status_code == 400 and "page must be a whole number from 1" in resp.text
        assert "fmd-error-message" in resp.text


def test_an_empty_range_says_so(app, admin) -> None:  # noqa: ANN001
    html = admin.get(tab(app) + "?start=2001-01-01&end=2001-01-07&page=4", headers={"HX-Request": "true"}).text
    assert "No outliers of “index” were recorded from 2001-01-01 to 2001-01-07 (UTC)" in html
    assert 'class="fmd-chart"' not in html and row_ids(html) == []


def test_charts_cover_the_range(app, admin) -> None:  # noqa: ANN001
    html = admin.get(tab(app), headers={"HX-Request": "true"}).text
    specs = {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r'<div class="fmd-chart" id="([^"]+)">\s*<script type="application/json">(.*?)</script>', html, re.S)}
    assert set(specs) == {"fmd-outliers-cpu", "fmd-outliers-memory"}
    cpu = specs["fmd-outliers-cpu"]["datasets"]["outlier_cpu"]
    assert [(r["core"], r["outliers"], r["median"]) for r in cpu] == [(0, 30, 12.0), (1, 30, 48.0)]
    memory = specs["fmd-outliers-memory"]["datasets"]["outlier_memory"]
    assert len(memory) == 30 and {r["rss_mb"] for r in memory} == {150.0}


def test_a_row_expands_into_its_details(app, admin) -> None:  # noqa: ANN001
    oid = ids_of(app)[1]
    html = admin.get(tab(app), headers={"HX-Request": "true"}).text
    link = f'{tab(app)}/{oid}?start='
    assert re.search(rf'<a href="{re.escape(link)}[^"]*" hx-get="{re.escape(link)}[^"]*" '
                     rf'hx-target="#fmd-outlier-{oid}-detail"\s+hx-swap="outerHTML"', html)
    assert f'<tr id="fmd-outlier-{oid}-detail" class="fmd-outlier-slot" hidden></tr>' in html
    frag = admin.get(f"{tab(app)}/{oid}", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "HX-Request" in frag.headers["Vary"]
    text = frag.text
    assert text.lstrip().startswith(f'<tr id="fmd-outlier-{oid}-detail" class="fmd-outlier-detail">')
    assert "<html" not in text and '<td colspan="8">' in text
    assert "stack taken 140 ms into the request" in text
    # Application frames highlighted; each run of library frames folded into one <details>.
    assert len(re.findall(r'<li class="fmd-frame fmd-frame-app">', text)) == 2
    assert re.search(r"<details><summary>2 library frames\s*<span class=\"fmd-muted\">\(render in "
                     r"/usr/lib/jinja2/environment.py\)</span>", text)
    assert "<summary>1 library frame\n" in text and text.count("<details>") == 2
    assert text.index("/srv/app/views.py") < text.index("templating.py") < text.index("/srv/app/helpers.py")
    for value in ("example.test", "curl/8", "SERVER_NAME", "bob", "&#34;n&#34;: 1", "core 1", "48.0 %",
                  "150.0 MB", "42.5 %", "2,048 MB", "shortened: headers.User-Agent: 4096 of 9000 characters kept"):
        assert value in text, value


def test_a_row_works_without_javascript(app, admin) -> None:  # noqa: ANN001
    oid = ids_of(app)[1]
    resp = admin.get(f"{tab(app)}/{oid}?days=30")
    assert resp.status_code == 200 and "<html" in resp.text and "Outlier of index" in resp.text
    assert f'href="{tab(app)}?start=' in resp.text  # back to the tab, the range kept
    assert "stack taken 140 ms into the request" in resp.text and "/srv/app/helpers.py" in resp.text


def test_no_stack_taken(app, admin) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    oid = ids_of(app)[2]
    with store.write() as conn:
        conn.execute(store.tables.outlier.update().where(store.tables.outlier.c.id == oid)
                     .values(stack_at=None, stacktrace=json.dumps([]), cpu_percent=None, memory=None, cut=None))
    text = admin.get(f"{tab(app)}/{oid}", headers={"HX-Request": "true"}).text
    assert "the request ended before the watchdog saw it; no stack" in text and "library frame" not in text
    assert "No CPU use recorded." in text and "No memory use recorded." in text and "shortened" not in text


def test_a_stack_too_large_and_a_cut_body_are_explained(app, admin) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    oid = ids_of(app)[3]
    with store.write() as conn:  # as fmd.instrument.prepare stores them when they exceed their budget
        conn.execute(store.tables.outlier.update().where(store.tables.outlier.c.id == oid).values(
            stacktrace=json.dumps({"cut": "90000 characters: too large to keep"}),
            request_values=json.dumps({"query": [], "form": [], "json": '{"long": "aaaa'})))
    text = admin.get(f"{tab(app)}/{oid}", headers={"HX-Request": "true"}).text
    assert "The stack was too large to keep (90000 characters: too large to keep)." in text
    assert '<pre class="fmd-outlier-pre">{&#34;long&#34;: &#34;aaaa</pre>' in text


def test_an_outlier_captured_by_fmd_shows_where_it_was_stuck(make_app, sqlite_url) -> None:  # noqa: ANN001
    host = Flask("outliers")

    def stuck_in_the_database(seconds: float) -> None:
        time.sleep(seconds)

    @host.route("/sometimes")
    def sometimes() -> str:
        if request.args.get("slow"):
            stuck_in_the_database(float(request.args["slow"]))
        return "ok"

    app = dashboard(make_app, sqlite_url, app=host, monitor_level=2, sync_interval=0.1)
    state, client = app.extensions["fmd"], app.test_client()
    deadline = time.monotonic() + 10
    while "sometimes" not in state.baselines.thresholds:  # the writer judges after enough fast requests
        assert time.monotonic() < deadline, "no outlier threshold"
        for _ in range(10):
            client.get("/sometimes")
        fmd.flush(1)
    assert client.get("/sometimes?slow=0.3&who=<b>x</b>").status_code == 200
    assert fmd.flush(10)
    with state.store.read() as conn:
        eid = endpoint_by_name(conn, state.store.tables, "sometimes")
    admin = logged_in(app)
    html = admin.get(f"{PREFIX}/endpoint/{eid}/outliers", headers={"HX-Request": "true"}).text
    [oid] = row_ids(html)
    assert "/sometimes?slow=0.3&amp;who=&lt;b&gt;x&lt;/b&gt;" in html and "Outliers are captured" not in html
    text = admin.get(f"{PREFIX}/endpoint/{eid}/outliers/{oid}", headers={"HX-Request": "true"}).text
    assert re.search(r"stack taken \d+ ms into the request", text)
    app_frames = re.findall(r'<li class="fmd-frame fmd-frame-app">.*?</li>', text, re.S)
    assert "stuck_in_the_database" in app_frames[-1] and "time.sleep(seconds)" in app_frames[-1]
    assert "<code>who</code></th><td><code>&lt;b&gt;x&lt;/b&gt;</code>" in text and "core 0" in text


def endpoint_by_name(conn, t, name: str) -> int:  # noqa: ANN001
    return conn.execute(t.endpoint.select().with_only_columns(t.endpoint.c.id).where(t.endpoint.c.name == name)
                        ).scalar_one()


def test_hostile_values_are_text(app, admin) -> None:  # noqa: ANN001
    oid = ids_of(app)[0]
    pages = [admin.get(tab(app)).text, admin.get(f"{tab(app)}/{oid}", headers={"HX-Request": "true"}).text,
             admin.get(f"{tab(app)}/{oid}").text]
    for html in pages:
        assert EVIL not in html
    assert "/items/0?q=&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    for html in pages[1:]:
        assert "<code>X-Evil</code></th><td><code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in html
        assert "<code>HTTP_X_EVIL</code>" in html and "shortened: headers.X-Evil: &lt;script&gt;" in html
        assert '<pre class="fmd-frame-code">&lt;script&gt;' in html


def test_downloads(app, admin) -> None:  # noqa: ANN001
    got = admin.get(tab(app, suffix=".csv"))
    assert got.status_code == 200 and got.mimetype == "text/csv"
    assert f'filename="fmd-endpoint-{app.ids["index"]}-outliers-' in got.headers["Content-Disposition"]
    assert got.headers["X-FMD-Limit"] == "10000" and got.headers["X-FMD-Truncated"] == "false"
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert [int(r["id"]) for r in rows] == ids_of(app) and got.headers["X-FMD-Rows"] == "30"
    assert json.loads(rows[1]["stacktrace"]) == STACK and json.loads(rows[1]["cpu_percent"]) == [12.0, 48.0]
    assert rows[0]["url"] == f"/items/0?q={EVIL}" and rows[0]["time_requested"].endswith("Z")
    data = admin.get(tab(app, suffix=".json"))
    assert data.status_code == 200 and data.mimetype == "application/json"
    body = data.get_json()
    assert body["limit"] == 10000 and body["truncated"] is False and body["endpoint_id"] == app.ids["index"]
    assert [o["id"] for o in body["outliers"]] == ids_of(app)
    second = body["outliers"][1]
    assert second["stacktrace"] == STACK and second["memory"]["system_percent"] == 42.5
    assert second["request_values"]["json"] == {"n": 1} and second["request_headers"][0] == ["Host", "example.test"]
    empty = admin.get(tab(app, suffix=".json") + "?start=2001-01-01&end=2001-01-02").get_json()
    assert empty["outliers"] == [] and admin.get(tab(app, suffix=".csv") + "?days=x").status_code == 400


def test_download_says_when_it_is_cut(app, admin, monkeypatch) -> None:  # noqa: ANN001
    from fmd.queries import outliers

    monkeypatch.setattr(outliers, "DOWNLOAD_LIMIT", 7)
    monkeypatch.setattr(outliers.outliers_for_download, "__defaults__", (7,))
    resp = admin.get(tab(app, suffix=".csv"))
    assert resp.headers["X-FMD-Truncated"] == "true" and resp.headers["X-FMD-Limit"] == "7"
    assert len(list(csv.DictReader(io.StringIO(resp.text)))) == 7
    body = admin.get(tab(app, suffix=".json")).get_json()
    assert body["truncated"] is True and len(body["outliers"]) == 7 and "newest 7" in body["note"]


def test_login_required(app) -> None:  # noqa: ANN001
    client = app.test_client()
    oid = ids_of(app)[0]
    for path in ("", ".csv", ".json", f"/{oid}"):
        resp = client.get(tab(app, suffix=path))
        assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], path
    htmx = client.get(tab(app, suffix=f"/{oid}"), headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "HX-Redirect" in htmx.headers


def test_unknown_ids_are_404s_with_a_message(app, admin) -> None:  # noqa: ANN001
    other = ids_of(app, "old")[0]
    for path, message in ((f"/{other}", "has no outlier with id"), ("/987654321", "has no outlier with id"),
                          (f"/{2**70}", "has no outlier with id")):
        for headers in ({}, {"HX-Request": "true"}):
            resp = admin.get(tab(app, suffix=path), headers=headers)
            assert resp.status_code == 404 and message in resp.text and "fmd-error-message" in resp.text, path
    for suffix in ("", ".csv", ".json", f"/{other}"):
        resp = admin.get(f"{PREFIX}/endpoint/987654/outliers{suffix}")
        assert resp.status_code == 404 and "There is no endpoint with id 987654" in resp.text, suffix


def test_below_level_2_says_how_to_enable_and_still_shows_stored(app, admin) -> None:  # noqa: ANN001
    hint = "Outliers are captured at monitoring level 2 or higher; an admin can set\n    the level above."
    old = admin.get(tab(app, "old"), headers={"HX-Request": "true"}).text
    assert hint in old and row_ids(old) == ids_of(app, "old") and "stored while the level was higher" in old
    silent = admin.get(tab(app, "silent"), headers={"HX-Request": "true"}).text
    assert hint in silent and "No outliers of “silent” were recorded" in silent
    app.extensions["fmd"].set_level("silent", 2)
    assert hint not in admin.get(tab(app, "silent"), headers={"HX-Request": "true"}).text


def test_fold_frames() -> None:
    runs = fold_frames(STACK)
    assert [(r["app"], len(r["frames"])) for r in runs] == [(True, 1), (False, 2), (True, 1), (False, 1)]
    assert [(r["app"], len(r["frames"])) for r in fold_frames([STACK[0], STACK[3]])] == [(True, 1), (True, 1)]
    assert fold_frames(None) == [] and fold_frames(["junk", STACK[1]]) == [{"app": False, "frames": [STACK[1]]}]
