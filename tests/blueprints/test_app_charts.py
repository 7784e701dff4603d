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
    assert client.get(PREFIX + "/hourly.csv?start=2001-01-01&end=2001-01-02").text.count("\n") == 1 + 48


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
