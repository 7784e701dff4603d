"""Every chart's data table in the pages: a <details> of the same rows as the chart and its CSV, escaped, capped,
and open without JavaScript on a whole page (a <noscript> copy) while htmx fragments carry it once, closed."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from dashboard_helpers import PREFIX, dashboard, logged_in
from lifecycle_data import write
from rollup_data import record

from fmd.blueprints.app_charts import CHARTS
from fmd.charts import tables
from fmd.queries._range import utcnow

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
HTMX = {"HX-Request": "true"}
INTERNAL = {"other", "order", "rank", "endpoint_id", "endpoint id", "href", "x", "x2", "position", "dark", "label"}


class Tables(HTMLParser):
    """The chart tables of a page: [{open, noscript, classes, summary, caption, headers, numeric, rows}]."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict] = []
        self.noscript = 0
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self.inside = False  # within a chart table's <details>

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "noscript":
            self.noscript += 1
        elif tag == "details" and "fmd-chart-table" in (a.get("class") or "").split():
            self.found.append({"open": "open" in a, "noscript": self.noscript > 0, "classes": a["class"].split(),
                               "summary": "", "caption": "", "headers": [], "numeric": [], "rows": []})
            self.inside = True
        elif not self.inside:
            return
        elif tag in ("summary", "caption", "th", "td"):
            self._text = []
            if tag == "th":
                self.found[-1]["numeric"].append("num" in (a.get("class") or "").split())
        elif tag == "tr":
            self._row = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "noscript":
            self.noscript -= 1
        if tag == "details":
            self.inside = False
        if not self.inside:
            return
        if self._text is None or tag not in ("summary", "caption", "th", "td"):
            if tag == "tr" and self._row is not None and self.found:
                if self._row:
                    self.found[-1]["rows"].append(self._row)
                self._row = None
            return
        text = " ".join("".join(self._text).split())
        self._text = None
        table = self.found[-1]
        if tag in ("summary", "caption"):
            table[tag] = text
        elif tag == "th":
            table["headers"].append(text)
        elif self._row is not None:
            self._row.append(text)


def chart_tables(html: str) -> list[dict]:
    parser = Tables()
    parser.feed(html)
    return parser.found


def csv_rows(client, path: str) -> list[dict]:  # noqa: ANN001
    resp = client.get(path)
    assert resp.status_code == 200, path
    return list(csv.DictReader(io.StringIO(resp.text)))


def rows_word(n: int) -> str:
    return f"Data table ({n:,} row{'s' if n != 1 else ''})"


# -- application-wide charts ---------------------------------------------------------------------------------

@pytest.fixture
def app_charts(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    now = time.time() - 60
    records = [("api.items", 0.002 * (1 + i % 7), now - 600 * i, 200 if i % 5 else 500) for i in range(60)]
    records += [(EVIL, 0.3, now, 200), ("api.users", 1.5, now - 3600, 404)]
    record(app.extensions["fmd"].store, records, version="<b>v1</b>")
    return logged_in(app)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.endpoint)
def test_each_app_chart_fragment_has_its_rows_as_one_closed_table(app_charts, chart) -> None:  # noqa: ANN001
    path = PREFIX + "/" + chart.endpoint.replace("_", "-")
    html = app_charts.get(path + "/chart", headers=HTMX).text
    [table] = chart_tables(html)  # a fragment (JavaScript runs): one copy, no <noscript>
    assert not table["open"] and not table["noscript"]
    data = csv_rows(app_charts, path + ".csv?" + re.search(r'\.csv\?([^"]+)"', html).group(1).replace("&amp;", "&"))
    expected = [r for r in data if int(r["hits"])] if chart.endpoint == "hourly" else data
    assert len(table["rows"]) == len(expected) > 0 and table["summary"] == rows_word(len(expected))
    assert not INTERNAL & {h.lower() for h in table["headers"]}, table["headers"]
    assert all(len(row) == len(table["headers"]) for row in table["rows"])
    requests = table["headers"].index("Requests")
    assert table["numeric"][requests] and not table["numeric"][0]
    assert sum(int(row[requests].replace(",", "")) for row in table["rows"]) == sum(int(r["hits"]) for r in expected)
    assert EVIL not in html  # the endpoint name is escaped in the table (and \u003c-escaped in the spec)
    if chart.endpoint != "hourly":
        assert ESCAPED in html and EVIL in {row[table["headers"].index("Endpoint")] for row in table["rows"]}
    view = re.search(r'<div class="fmd-chart-view" role="img" aria-label="([^"]+)"', html)
    assert view and view.group(1) == table["caption"] + " (chart; the data table below holds its values)"


def test_app_chart_values_are_formatted(app_charts) -> None:  # noqa: ANN001
    [perf] = chart_tables(app_charts.get(PREFIX + "/performance/chart", headers=HTMX).text)
    assert perf["headers"] == ["Endpoint", "Requests", "p5 (ms)", "p25 (ms)", "Median (ms)", "p75 (ms)", "p95 (ms)"]
    users = next(row for row in perf["rows"] if row[0] == "api.users")
    assert users[1] == "1" and all(re.fullmatch(r"1,\d{3}", cell) for cell in users[2:])  # ~1,500 ms
    [versions] = chart_tables(app_charts.get(PREFIX + "/versions/chart", headers=HTMX).text)
    assert versions["headers"] == ["Endpoint", "Version", "Requests", "Share of the endpoint"]
    assert ["api.items", "<b>v1</b>", "60", "100.0 %"] in versions["rows"]
    [hourly] = chart_tables(app_charts.get(PREFIX + "/hourly/chart", headers=HTMX).text)
    assert hourly["headers"][:2] == ["Day", "Hour"] and all(re.fullmatch(r"\d\d:00", row[1]) for row in hourly["rows"])
    assert hourly["caption"] == "Requests per day and hour (UTC), the hours with requests"


def test_a_whole_chart_page_shows_the_table_open_without_javascript(app_charts) -> None:  # noqa: ANN001
    html = app_charts.get(PREFIX + "/daily/chart").text
    assert "<html" in html
    closed, shown = chart_tables(html)
    assert not closed["open"] and "fmd-chart-table-js" in closed["classes"] and not closed["noscript"]
    assert shown["open"] and shown["noscript"] and shown["rows"] == closed["rows"] and shown["rows"]
    # Without scripts the <noscript> style hides the closed copy and the empty drawing box.
    style = re.search(r"<noscript><style>(.*?)</style>", html[html.index('id="fmd-app-daily"'):], re.S).group(1)
    assert "#fmd-app-daily .fmd-chart-table-js" in style and "#fmd-app-daily .fmd-chart-view" in style


def test_long_tables_are_capped_with_a_link_to_the_csv(app_charts, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(tables, "LIMIT", 3)
    html = app_charts.get(PREFIX + "/hourly/chart", headers=HTMX).text
    [table] = chart_tables(html)
    # 60 requests 10 minutes apart: 10 or 11 clock hours, by the minute the test runs at; the CSV says which.
    csv_rows = list(csv.DictReader(io.StringIO(app_charts.get(PREFIX + "/hourly.csv").text)))
    hours = sum(1 for row in csv_rows if int(row["hits"]))
    assert hours in (10, 11)
    assert len(table["rows"]) == 3 and table["summary"] == rows_word(hours)
    assert table["caption"].endswith(f": the first 3 of {hours} rows; download the CSV for all")
    note = html[html.index('class="fmd-table-note"'):]
    assert re.match(r'class="fmd-table-note">[^<]*<a href="/dashboard/hourly\.csv\?start=[^"]+" download>', note)


# -- endpoint tabs ---------------------------------------------------------------------------------------------

@pytest.fixture
def endpoint_app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    """Endpoint EVIL (a name that is markup): users, IPs and two versions (one of them markup too)."""
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    old = [(EVIL, 0.010 + i / 1000, now - timedelta(hours=30, minutes=i), 200, f"user{i % 12}", f"10.0.0.{i % 15}")
           for i in range(60)]
    new = [(EVIL, 1.2 + i / 1000, now - timedelta(minutes=i), 500 if i < 3 else 200,
            EVIL if i % 4 == 0 else f"user{i % 12}", f"10.0.1.{i % 3}") for i in range(40)]
    ids = write(store, old, version="1.0")
    ids.update(write(store, new, version="2.0<i>"))
    app.eid = ids[EVIL]
    return app


CHART_TABS = {"hourly": "hourly", "users": "users", "ips": "ips", "version-performance": "version_performance",
              "user-performance": "user_performance", "status-codes": "status_codes"}


@pytest.mark.parametrize("path", list(CHART_TABS))
def test_each_endpoint_tab_has_its_rows_as_a_table(endpoint_app, path) -> None:  # noqa: ANN001
    admin = logged_in(endpoint_app)
    base = f"{PREFIX}/endpoint/{endpoint_app.eid}/{path}"
    html = admin.get(base, headers=HTMX).text
    [table] = chart_tables(html)
    assert not table["open"] and EVIL not in html
    assert table["caption"].startswith(EVIL + ": ") and ESCAPED + ": " in html  # the endpoint's name, escaped
    data = csv_rows(admin, base + ".csv")
    expected = [r for r in data if int(r["hits"])] if path == "hourly" else data
    assert len(table["rows"]) == len(expected) > 0 and table["summary"] == rows_word(len(expected))
    assert not INTERNAL & {h.lower() for h in table["headers"]}, table["headers"]
    requests = table["headers"].index("Requests")
    assert sum(int(row[requests].replace(",", "")) for row in table["rows"]) == sum(int(r["hits"]) for r in expected)
    page = admin.get(base).text  # a whole page: the table again, open, for a browser without JavaScript
    assert [t["open"] for t in chart_tables(page)] == [False, True]


def test_users_and_versions_read_as_text_with_their_durations(endpoint_app) -> None:  # noqa: ANN001
    admin = logged_in(endpoint_app)
    html = admin.get(f"{PREFIX}/endpoint/{endpoint_app.eid}/users", headers=HTMX).text
    [table] = chart_tables(html)
    assert table["headers"] == ["User", "Version", "Requests", "Mean (ms)"]
    assert [EVIL, "2.0<i>", "10"] == next(row for row in table["rows"] if row[0] == EVIL)[:3]
    means = {(row[0], row[1]): float(row[3].replace(",", "")) for row in table["rows"]}
    assert all(10 <= m < 100 for (_, v), m in means.items() if v == "1.0")
    assert all(1200 <= m < 1300 for (_, v), m in means.items() if v != "1.0")
    assert table["rows"][-1][0].startswith("other (")  # busiest first, the rest last, as the chart
    # The heatmap prints the same means in its cells.
    spec = json.loads(re.search(r'<script type="application/json">(.*?)</script>', html, re.S).group(1))
    labels = {(r["user"], r["version"]): r["label"] for r in spec["datasets"]["circles"]}
    assert all(re.fullmatch(r"\d+ ms", labels[k]) for k in labels if k[1] == "1.0")
    assert all(re.fullmatch(r"1\.2 s", labels[k]) for k in labels if k[1] != "1.0")


def test_the_versions_and_exceptions_tabs_have_no_chart_table(endpoint_app) -> None:  # noqa: ANN001
    admin = logged_in(endpoint_app)
    for path in ("versions", "outliers", "exceptions"):
        html = admin.get(f"{PREFIX}/endpoint/{endpoint_app.eid}/{path}", headers=HTMX).text
        assert chart_tables(html) == [], path  # already tables (or no chart with rows)


# -- custom graphs, outliers ---------------------------------------------------------------------------------

def test_a_custom_graph_chart_has_its_values_as_a_table(make_app, sqlite_url) -> None:  # noqa: ANN001
    from fmd.store import custom_graphs as cg

    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0)
    with store.write() as conn:
        gid = cg.register(conn, store.tables, EVIL, "every minute")
        for m in range(1, 6):
            tick = now - timedelta(minutes=m)
            assert cg.claim(conn, store.tables, gid, tick, "test")
            cg.finish(conn, store.tables, gid, tick, value=1234.5 * m, error=None, outcome=cg.OK, duration=0.01)
    admin = logged_in(app)
    html = admin.get(f"{PREFIX}/custom-graphs/{gid}/chart", headers=HTMX).text
    [table] = chart_tables(html)
    assert table["caption"] == f"{EVIL}: values over time" and ESCAPED + ": values" in html and EVIL not in html
    assert table["headers"] == ["Time (UTC)", "Value"] and table["summary"] == rows_word(5)
    assert [row[1] for row in table["rows"]] == ["6,172.5", "4,938", "3,703.5", "2,469", "1,234.5"]  # oldest first
    assert table["rows"][-1][0] == (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert [t["open"] for t in chart_tables(admin.get(f"{PREFIX}/custom-graphs/{gid}/chart").text)] == [False, True]


def test_the_outliers_resource_charts_have_tables(make_app, sqlite_url) -> None:  # noqa: ANN001
    from fmd.store import writes

    from .test_endpoint_outliers import outlier

    app = dashboard(make_app, sqlite_url)
    state = app.extensions["fmd"]
    store, t = state.store, state.store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, t, ["index"], {})["index"]
        for i in range(3):
            when = now - timedelta(hours=i)
            rid = conn.execute(t.request.insert().values(endpoint_id=eid, duration=1.0, time_requested=when,
                                                         status_code=200)).inserted_primary_key[0]
            conn.execute(t.outlier.insert().values(**outlier(eid, rid, when, i)))
    state.set_level("index", 2)
    html = logged_in(app).get(f"{PREFIX}/endpoint/{eid}/outliers", headers=HTMX).text
    cpu, memory = chart_tables(html)
    assert cpu["headers"][:2] == ["CPU core", "Outliers"] and [row[:2] for row in cpu["rows"]] == [["0", "3"],
                                                                                                   ["1", "3"]]
    assert cpu["rows"][0][4] == "12.0" and cpu["rows"][1][4] == "48.0"  # the median of each core, in %
    assert memory["headers"] == ["Time (UTC)", "Process RSS (MB)", "System memory used (%)"]
    assert [row[1:] for row in memory["rows"]] == [["150.0", "42.5"]] * 3


def test_an_exception_sparkline_lists_its_days(make_app, sqlite_url) -> None:  # noqa: ANN001
    from exception_data import group

    from fmd.queries._range import floor_day

    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    ids = record(store, [], endpoints=["shop.checkout"])
    today = floor_day(utcnow())
    gid = group(store, "builtins.KeyError", [(today - timedelta(days=2), ids["shop.checkout"], "1.0", 1234),
                                             (today, ids["shop.checkout"], "1.1", 5)])
    html = logged_in(app).get(f"{PREFIX}/exceptions").text
    row = html[html.index(f'id="fmd-exc-{gid}"'):]
    [table] = chart_tables(html)  # the only group
    assert table["caption"] == "Occurrences per UTC day" and table["headers"] == ["UTC day", "Occurrences"]
    assert table["rows"] == [[(today - timedelta(days=2)).date().isoformat(), "1,234"],
                             [today.date().isoformat(), "5"]]
    assert re.search(r'<div class="fmd-chart-view" role="img"\s+aria-label="Occurrences per UTC day', row)


def test_the_profile_comparison_lists_every_frame(make_app, sqlite_url) -> None:  # noqa: ANN001
    from profile_data import seed_profile, shape

    from fmd.store import writes

    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    cache: dict = {}
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, store.tables, ["search"], {})["search"]
        for i in range(20):  # 10 of "1.0" where c sleeps 10 ms, then 10 of "2.0" where it sleeps 40 ms
            old = i >= 10
            seed_profile(conn, store.tables, eid, 100 + i, now - timedelta(hours=i), shape(30, 10 if old else 40),
                         version="1.0" if old else "2.0", interval_ms=5.0, cache=cache)
    html = logged_in(app).get(f"{PREFIX}/endpoint/{eid}/profiler-diff", headers=HTMX).text
    [table] = chart_tables(html)
    assert table["headers"] == ["Frame", "Depth", "Before (ms per request)", "After (ms per request)", "Change (ms)",
                                "Share before", "Share after"]
    assert table["rows"][0][1] == "0" and table["rows"][0][5:] == ["100.0 %", "100.0 %"]  # the root, depth first
    frames = {row[0]: row[1:5] for row in table["rows"]}  # indented by depth with no-break spaces
    assert frames["c"] == ["2", "10.0", "40.0", "30.0"] and frames["b"] == ["2", "30.0", "30.0", "0.00"]
    assert "\u00a0\u00a0\u00a0\u00a0c</td>" in html
