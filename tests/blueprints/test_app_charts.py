"""Application-wide chart pages: lazy partials, the date range in the URL, CSV downloads, empty states."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from dashboard_helpers import PREFIX, dashboard, logged_in
from fmd.blueprints.app_charts import CHARTS, rows_to_csv
from fmd.queries import app as queries
from fmd.store import writes
from rollup_data import record

EVIL = "<script>alert(1)</script>"
PATHS = ["/" + c.endpoint.replace("_", "-") for c in CHARTS]
SPEC = re.compile(r'<script type="application/json">(.*?)</script>', re.S)


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    now = time.time() - 60
    records = [("api.items", 0.002 * (1 + i % 7), now - 600 * i, 200 if i % 5 else 500) for i in range(60)]
    records += [(EVIL, 0.3, now, 200), ("=HYPERLINK(\"http://x\")", 0.01, now, 404)]
    record(app.extensions["fmd"].store, records, version="<b>v1</b>")
    return app


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def utc_today():  # noqa: ANN201
    return datetime.now(timezone.utc).date()  # the dashboard's TIMEZONE is UTC here


def spec_of(html: str) -> dict:
    match = SPEC.search(html)
    assert match, html[:500]
    return json.loads(match.group(1))


def test_pages_load_their_chart_lazily(client) -> None:  # noqa: ANN001
    today = utc_today()
    for path in PATHS:
        page = client.get(PREFIX + path)
        assert page.status_code == 200 and "<html" in page.text and "HX-Request" in page.headers["Vary"]
        chart_url = f'{PREFIX}{path}/chart?start={today - timedelta(days=6)}&amp;end={today}'
        assert f'hx-get="{chart_url}" hx-trigger="load"' in page.text, path
        frag = client.get(PREFIX + path, headers={"HX-Request": "true"})
        assert "<html" not in frag.text and frag.text.lstrip().startswith('<section id="fmd-app"'), path


def test_chart_partials_hold_a_spec_with_data(client) -> None:  # noqa: ANN001
    for path in PATHS:
        frag = client.get(PREFIX + path + "/chart", headers={"HX-Request": "true"})
        assert frag.status_code == 200 and "<html" not in frag.text and 'class="fmd-chart"' in frag.text, path
        spec = spec_of(frag.text)
        rows = next(iter(spec["datasets"].values()))
        assert rows and spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6"), path
        assert EVIL not in frag.text  # the spec's JSON escapes "<" (|tojson), names stay data
        assert f'href="{PREFIX}{path}.csv?start=' in frag.text, path
        whole = client.get(PREFIX + path + "/chart")
        assert "<html" in whole.text and 'class="fmd-chart"' in whole.text, path  # works without htmx too


def test_endpoint_names_reach_the_chart_as_data(client) -> None:  # noqa: ANN001
    spec = spec_of(client.get(PREFIX + "/daily/chart", headers={"HX-Request": "true"}).text)
    assert EVIL in {r["endpoint"] for r in spec["datasets"]["daily"]}
    spec = spec_of(client.get(PREFIX + "/versions/chart", headers={"HX-Request": "true"}).text)
    assert {r["version"] for r in spec["datasets"]["versions"]} == {"<b>v1</b>"}


def test_range_is_kept_and_an_empty_range_says_why(client) -> None:  # noqa: ANN001
    resp = client.get(PREFIX + "/daily/chart?start=2001-01-01&end=2001-01-31", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and 'class="fmd-chart"' not in resp.text
    assert "No requests were recorded from 2001-01-01 to 2001-01-31 (UTC)" in resp.text
    page = client.get(PREFIX + "/daily?start=2001-01-01&end=2001-01-31").text
    assert 'value="2001-01-01"' in page and 'value="2001-01-31"' in page
    assert f"{PREFIX}/daily/chart?start=2001-01-01&amp;end=2001-01-31" in page
    quick = client.get(PREFIX + "/hourly?days=30").text
    assert f'value="{utc_today() - timedelta(days=29)}"' in quick


def test_csv_download(client) -> None:  # noqa: ANN001
    resp = client.get(PREFIX + "/status-codes.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="fmd-status-codes-')
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert sum(int(r["hits"]) for r in rows if r["endpoint"] == "api.items") == 60
    assert sum(int(r["hits"]) for r in rows if r["status"] == "500") == 12
    # A name that a spreadsheet would run as a formula is quoted.
    assert "'=HYPERLINK(\"http://x\")" in {r["endpoint"] for r in rows}
    assert client.get(PREFIX + "/hourly.csv?start=2001-01-01&end=2001-01-02").text == ""  # no grid of zeros


def test_rows_to_csv_quotes_formulas() -> None:
    text = rows_to_csv([{"a": "=1+1", "b": "+x", "c": "-y", "d": "@z", "e": "ok", "f": 3}])
    assert text.splitlines() == ["a,b,c,d,e,f", "'=1+1,'+x,'-y,'@z,ok,3"]
    assert rows_to_csv([]) == ""


BAD_RANGES = [
    ("start=2024-02-30", "not a real date"), ("start=yesterday", "YYYY-MM-DD"), ("end=2024-1-1", "YYYY-MM-DD"),
    ("start=2024-03-10&end=2024-03-01", "before the start"), ("start=2001-01-01&end=2024-01-01", "at most 400"),
    ("days=0", "days must be"), ("days=abc", "days must be"), ("start=1999-12-31", "between 2000-01-01"),
]


def test_bad_ranges_are_a_400_with_a_message(client) -> None:  # noqa: ANN001
    for query, message in BAD_RANGES:
        for path in ("/hourly", "/daily/chart", "/performance.csv"):
            resp = client.get(f"{PREFIX}{path}?{query}")
            assert resp.status_code == 400 and message in resp.text, (path, query, resp.text)


def test_login_required(app) -> None:  # noqa: ANN001
    anonymous = app.test_client()
    for path in PATHS:
        for url in (path, path + "/chart", path + ".csv"):
            resp = anonymous.get(PREFIX + url)
            assert resp.status_code == 302 and "/login?next=" in resp.headers["Location"], url


def chart_spec(client, path: str) -> dict:  # noqa: ANN001
    return spec_of(client.get(f"{PREFIX}{path}", headers={"HX-Request": "true"}).text)


@pytest.mark.parametrize("query, grain", [("last=24h", "hour"), ("days=1", "hour"), ("last=48h", "hour"),
                                          ("last=7d", "day"), ("days=7", "day")])
def test_resolution_follows_the_range(client, query: str, grain: str) -> None:  # noqa: ANN001
    daily = chart_spec(client, f"/daily/chart?{query}")
    assert daily["encoding"]["x"]["field"] == grain and daily["encoding"]["x"]["title"] == f"{grain.title()} (UTC)"
    assert all(grain in row for row in daily["datasets"]["daily"])
    domain = daily["encoding"]["x"]["scale"]["domain"]  # every bucket of the range, quiet ones too
    assert domain == sorted(domain) and {row[grain] for row in daily["datasets"]["daily"]} <= set(domain)
    assert len(domain) == {"last=24h": 25, "days=1": 24, "last=48h": 49, "last=7d": 8, "days=7": 7}[query]
    status = chart_spec(client, f"/status-codes/chart?{query}")
    x = status["spec"]["encoding"]["x"]
    assert x["field"] == grain and x["scale"]["domain"] == domain
    rows = list(csv.DictReader(io.StringIO(client.get(f"{PREFIX}/daily.csv?{query}").text)))
    pattern = r"\d{4}-\d\d-\d\d \d\d:00" if grain == "hour" else r"\d{4}-\d\d-\d\d"
    assert rows and all(re.fullmatch(pattern, row[grain]) for row in rows), rows[:3]
    assert sum(int(r["hits"]) for r in rows if r["endpoint"] == "api.items") >= 1


def test_marks_link_to_the_endpoint_page_with_the_same_range(client, app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        ids = {name: e for e, name in queries.endpoint_names(conn, store.tables).items()}
    first, last = utc_today() - timedelta(days=10), utc_today()
    for query, kept in (("last=24h", "last=24h"), (f"start={first}&end={last}", f"start={first}&amp;end={last}")):
        for path, dataset in (("/daily/chart", "daily"), ("/performance/chart", "durations"),
                              ("/versions/chart", "versions"), ("/status-codes/chart", "status")):
            rows = chart_spec(client, f"{path}?{query}")["datasets"][dataset]
            api = [r for r in rows if r["endpoint"] == "api.items"]
            assert api and all(r["href"].replace("&", "&amp;") == f"{PREFIX}/endpoint/{ids['api.items']}?{kept}"
                               for r in api), (path, api[:1])
            assert all(r["href"] == "" for r in rows if r["other"]), path  # no link
        # The link opens that endpoint's page, in the same range.
        page = client.get(api[0]["href"])
        assert page.status_code == 200 and "api.items" in page.text


def test_a_heatmap_day_narrows_the_range_to_that_day(client) -> None:  # noqa: ANN001
    rows = chart_spec(client, "/hourly/chart?days=7")["datasets"]["hourly"]
    day = str(utc_today())
    assert {r["href"] for r in rows if r["day"] == day} == {f"{PREFIX}/hourly?start={day}&end={day}"}
    page = client.get(f"{PREFIX}/hourly?start={day}&end={day}")
    assert page.status_code == 200 and f'value="{day}"' in page.text


def test_unrouted_requests_get_their_own_status_panel(client, app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = time.time() - 60
    with store.write() as conn:
        writes.write_batch(conn, store.tables, writes.new_batch_id(), "1.0",
                           [(None, 0.001, now, 404, "", "1.2.3.4")] * 3 + [(None, 0.001, now, 405, "", "1.2.3.4")],
                           {}, {})
    page = client.get(PREFIX + "/status-codes")
    assert "no route matched" in page.text  # the intro says what the panel is
    rows = chart_spec(client, "/status-codes/chart")["datasets"]["status"]
    unrouted = [r for r in rows if r["endpoint"] == queries.UNROUTED]
    assert sorted((r["status"], r["hits"]) for r in unrouted) == [("404", 3), ("405", 1)]
    assert max(r["rank"] for r in rows) == unrouted[0]["rank"] and unrouted[0]["href"] == ""
    csv_rows = list(csv.DictReader(io.StringIO(client.get(PREFIX + "/status-codes.csv").text)))
    assert sum(int(r["hits"]) for r in csv_rows if r["endpoint"] == queries.UNROUTED) == 4


def test_endpoint_status_tab_and_hourly_tab_follow_the_range(client, app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        eid = {name: e for e, name in queries.endpoint_names(conn, store.tables).items()}["api.items"]
    hourly = chart_spec(client, f"/endpoint/{eid}/status-codes?last=24h")
    assert hourly["encoding"]["x"]["title"] == "Hour (UTC)" and len(hourly["encoding"]["x"]["scale"]["domain"]) == 25
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00", r["time"]) for r in hourly["datasets"]["status_time"])
    daily = chart_spec(client, f"/endpoint/{eid}/status-codes?last=7d")
    assert daily["encoding"]["x"]["title"] == "Day (UTC)"
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", r["time"]) for r in daily["datasets"]["status_time"])
    day = str(utc_today())
    cells = chart_spec(client, f"/endpoint/{eid}/hourly?days=7")["datasets"]["hourly"]
    assert {r["href"] for r in cells if r["day"] == day} == {f"{PREFIX}/endpoint/{eid}/hourly?start={day}&end={day}"}


def test_hourly_load_of_an_empty_range_says_so(client) -> None:  # noqa: ANN001
    resp = client.get(PREFIX + "/hourly/chart?start=2001-01-01&end=2001-01-07", headers={"HX-Request": "true"})
    assert 'class="fmd-chart"' not in resp.text  # no grid of zeros with a "0.000000" legend
    assert "No requests were recorded from 2001-01-01 to 2001-01-07 (UTC)" in resp.text
