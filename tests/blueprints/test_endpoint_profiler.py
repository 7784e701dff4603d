"""The Profiler and Grouped profiler tabs and the diff page: pages and htmx fragments, paging, a request's tree
(htmx and plain) with the hot path open and library frames folded, sorting, zoom, the speedscope download, the
diff of two versions and of two date ranges, 400s, 404s, access, escaping and the level note."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from dashboard_helpers import PREFIX, dashboard, logged_in
from profile_data import VIEW, seed_profile, shape, with_library

from fmd.queries._range import utcnow
from fmd.store import writes

EVIL = "<script>alert(1)</script>"
HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    """"search" with 30 profiles over the last days: 15 of version "1.0" (c sleeps 10 ms) then 15 of "2.0" (c
    sleeps 40 ms), the newest with library frames and a cut note, one with a <script> function name; "quiet"
    with none."""
    app = dashboard(make_app, sqlite_url)
    state = app.extensions["fmd"]
    store, t = state.store, state.store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    cache: dict = {}
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, ["search", "quiet"], {})
        for i in range(30):
            old = i >= 15
            tree = with_library() if i == 0 else shape(30, 10 if old else 40)
            if i == 1:
                tree = (VIEW, 0.02, 4, [(("/srv/app/evil.py", 1, EVIL, EVIL), 0.01, 2, [])])
            seed_profile(conn, t, ids["search"], 100 + i, now - timedelta(hours=3 * i), tree,
                         version="1.0" if old else "2.0", interval_ms=5.0 + (i % 2),
                         cut="too many distinct stacks: 500 kept" if i == 0 else None, cache=cache)
    app.ids = ids
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def url(app, tab: str = "profiler", name: str = "search", suffix: str = "") -> str:  # noqa: ANN001
    return f"{PREFIX}/endpoint/{app.ids[name]}/{tab}{suffix}"


def profile_ids(app) -> list[int]:  # noqa: ANN001
    store = app.extensions["fmd"].store
    p = store.tables.profile
    with store.read() as conn:
        return [row[0] for row in conn.execute(p.select().with_only_columns(p.c.id)
                                               .order_by(p.c.time_requested.desc()))]


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="fmd-profile-(\d+)" class="fmd-profile-row">', html)]


def specs(html: str) -> dict[str, dict]:
    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(
        r'<div class="fmd-chart" id="([^"]+)">\s*<script type="application/json">(.*?)</script>', html, re.S)}


def test_profiler_page_and_fragment_newest_first(app, admin) -> None:  # noqa: ANN001
    page = admin.get(url(app))
    frag = admin.get(url(app), headers=HX)
    assert page.status_code == frag.status_code == 200
    assert "<html" in page.text and "<html" not in frag.text and frag.text.lstrip().startswith('<div id="fmd-tabs"')
    assert row_ids(frag.text) == profile_ids(app)[:25]
    assert "30 profiled requests from" in frag.text and "showing 1–25" in frag.text
    first = frag.text[frag.text.index('class="fmd-profile-row"'):]
    first = first[:first.index("</tr>")]
    assert "51.0</td>" in first and ">10</td>" in first and "every 5.0 ms" in first and "<code>2.0</code>" in first
    assert "shortened: too many distinct stacks: 500 kept" in first
    # The achieved rate over the listed requests (5.0 and 6.0 alternating) against SAMPLING_PERIOD.
    assert re.search(r"every 5\.5 ms\s+on average over these requests; SAMPLING_PERIOD asks for\s+every 5 ms",
                     frag.text)
    assert "The profiler samples requests at monitoring level 3." in frag.text  # "search" is at level 1


def test_paging_and_a_bad_page(app, admin) -> None:  # noqa: ANN001
    second = admin.get(url(app, suffix="?page=2"), headers=HX).text
    assert row_ids(second) == profile_ids(app)[25:] and "page 2 of 2" in second
    assert row_ids(admin.get(url(app, suffix="?page=99"), headers=HX).text) == row_ids(second)
    for value in ("0", "x", "1.5"):
        resp = admin.get(url(app, suffix=f"?page={value}"), headers=HX)
        assert resp.status_code == 400 and "page must be a whole number from 1" in resp.text


def test_the_range_filters_and_an_empty_range_says_so(app, admin) -> None:  # noqa: ANN001
    today = utcnow().date()
    narrow = admin.get(url(app, suffix=f"?start={today}&end={today}"), headers=HX).text
    assert 0 < len(row_ids(narrow)) <= 8
    empty = admin.get(url(app, suffix="?start=2001-01-01&end=2001-01-07"), headers=HX).text
    assert "No requests of “search” were profiled from 2001-01-01 to 2001-01-07 (UTC)" in empty


def test_a_row_expands_into_its_tree_with_the_hot_path_open(app, admin) -> None:  # noqa: ANN001
    pid = profile_ids(app)[2]  # shape(30, 40): search -> a -> b (30 ms), c (40 ms)
    html = admin.get(url(app), headers=HX).text
    link = f"{url(app)}/{pid}?start="
    assert re.search(rf'<a href="{re.escape(link)}[^"]*" hx-get="{re.escape(link)}[^"]*" '
                     rf'hx-target="#fmd-profile-{pid}-detail"\s+hx-swap="outerHTML"', html)
    frag = admin.get(f"{url(app)}/{pid}", headers=HX)
    text = frag.text
    assert frag.status_code == 200 and "HX-Request" in frag.headers["Vary"] and "<html" not in text
    assert text.lstrip().startswith(f'<tr id="fmd-profile-{pid}-detail" class="fmd-profile-detail">')
    opened = re.findall(r'<details class="([^"]+)"( open)?><summary>.*?<code class="fmd-pnode-func">(\w+)</code>',
                        text, re.S)
    assert [(name, bool(is_open), "fmd-pnode-hot" in cls) for cls, is_open, name in opened] == [
        ("search", True, True), ("a", True, True)]
    leaves = re.findall(r'<div class="([^"]+) fmd-pnode-leaf">.*?<code class="fmd-pnode-func">(\w+)</code>', text, re.S)
    assert [(name, "fmd-pnode-hot" in cls) for cls, name in leaves] == [("c", True), ("b", False)]  # largest first
    assert "71.0 ms" in text and "40.0 ms" in text and "56.3 %" in text  # 40 of 71 ms
    assert "/srv/app/views.py:40" in text and "time.sleep(0.01)" in text
    assert text.count("<details") == text.count("</details>") == 2


def test_library_frames_fold(app, admin) -> None:  # noqa: ANN001
    pid = profile_ids(app)[0]  # search -> a -> b; search -> execute [lib] -> _read_packet [lib] -> on_row
    plain = admin.get(f"{url(app)}/{pid}", headers=HX).text
    assert "execute" in plain and "_read_packet" in plain and "fmd-pnode-fold" not in plain
    assert "shortened: too many distinct stacks: 500 kept" in plain
    assert re.search(rf'href="[^"]*/profiler/{pid}\?start=[^"]*&amp;fold=1" hx-get="[^"]*fold=1"', plain)
    folded = admin.get(f"{url(app)}/{pid}?fold=1", headers=HX).text
    assert "2 library frames" in folded and "_read_packet" not in folded
    assert re.search(r"from <code>execute</code> in <code>/usr/lib/python3/site-packages/sqlalchemy", folded)
    assert "on_row" in folded and "Show library frames" in folded  # the app frame called from inside the run
    assert folded.index("2 library frames") < folded.index("on_row")
    resp = admin.get(f"{url(app)}/{pid}?fold=yes", headers=HX)
    assert resp.status_code == 400 and "fold must be 0 or 1" in resp.text


def test_a_deep_tree_is_laid_out_without_recursion_and_capped() -> None:
    from fmd.blueprints._profile_tree import tree_lines
    from fmd.trees import Node

    root = node = Node(VIEW, 1.0, 3000)
    for depth in range(1, 3000):
        child = Node(("/srv/app/deep.py", depth, f"f{depth}", ""), 1.0 - depth / 3000, 3000 - depth)
        node.children.append(child)
        node = child
    lines, hidden = tree_lines(root, lambda f: True, limit=1000)
    opened = [item for item in lines if "open" in item]
    assert len(opened) == 1000 and hidden == 2000
    assert sum(1 for item in lines if item.get("end")) == 1000  # every <details> is closed
    assert all(item["expanded"] and item["open"]["hot"] for item in opened)  # a single child: the hot path
    assert opened[-1]["open"]["depth"] == 999


def test_app_paths_decide_what_is_library(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, app_paths=["/srv/app/views.py"])
    store, t = app.extensions["fmd"].store, app.extensions["fmd"].store.tables
    with store.write() as conn:
        eid = writes.ensure_endpoints(conn, t, ["search"], {})["search"]
        pid = seed_profile(conn, t, eid, 1, utcnow() - timedelta(hours=1), with_library())
    html = logged_in(app).get(f"{PREFIX}/endpoint/{eid}/profiler/{pid}?fold=1", headers=HX).text
    assert "3 library frames" in html and "on_row" not in html  # models.py is outside APP_PATHS now


def test_a_tree_opens_as_a_page_without_javascript(app, admin) -> None:  # noqa: ANN001
    pid = profile_ids(app)[2]
    resp = admin.get(f"{url(app)}/{pid}?days=30&fold=1")
    assert resp.status_code == 200 and "<html" in resp.text and "Profiled request of search" in resp.text
    assert f'href="{url(app)}?start=' in resp.text and "Back to the profiler" in resp.text
    assert re.search(r'<a class="fmd-profile-fold" href="[^"]*">Show library frames</a>', resp.text)  # no htmx


def test_missing_profiles_and_endpoints_are_404s(app, admin) -> None:  # noqa: ANN001
    pid = profile_ids(app)[0]
    for path in (f"{url(app, name='quiet')}/{pid}", f"{url(app)}/99999", f"{PREFIX}/endpoint/999/profiler/{pid}",
                 f"{PREFIX}/endpoint/999/profiler-diff", f"{PREFIX}/endpoint/999/grouped-profiler.speedscope.json"):
        resp = admin.get(path, headers=HX)
        assert resp.status_code == 404 and "fmd-error-message" in resp.text, path


def test_a_script_function_name_is_escaped(app, admin) -> None:  # noqa: ANN001
    pid = profile_ids(app)[1]
    for text in (admin.get(f"{url(app)}/{pid}", headers=HX).text, admin.get(url(app, "grouped-profiler")).text):
        assert EVIL not in text.replace('<script type="application/json">', "")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_login_required(app) -> None:  # noqa: ANN001
    client = app.test_client()
    pid = profile_ids(app)[0]
    for path in (url(app), url(app, "grouped-profiler"), f"{url(app)}/{pid}", url(app, "profiler-diff"),
                 url(app, "grouped-profiler.speedscope.json")):
        resp = client.get(path)
        assert resp.status_code in (302, 401) and "/login" in resp.headers.get("Location", "/login"), path


def test_grouped_tab_merges_table_and_charts(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "grouped-profiler"), headers=HX).text
    assert "The newest 30 profiled requests" in html
    assert re.findall(r'<option value="([^"]*)"', html)[:3] == ["", "2.0", "1.0"]
    charts = specs(html)
    assert set(charts) == {"fmd-profile-icicle", "fmd-profile-sunburst"}
    icicle = charts["fmd-profile-icicle"]
    assert icicle["layer"][0]["mark"]["type"] == "rect" and charts["fmd-profile-sunburst"]["mark"]["type"] == "arc"
    hrefs = [row["href"] for row in icicle["datasets"]["profile_icicle"]]
    assert all(h.startswith(url(app, "grouped-profiler") + "?start=") and "&root=" in h for h in hrefs)
    rows = re.findall(r'<tr class="fmd-grouped-row" data-key="([^"]+)">.*?<code>([^<]+)</code>.*?'
                      r'<td class="num">([\d,]+)</td>', html, re.S)
    names = [(name, int(hits)) for _, name, hits in rows]
    assert names[0] == ("search", 30) and ("a", 29) in names and ("c", 28) in names
    assert "Download for speedscope" in html and "What changed between versions?" in html


def test_grouped_version_filter(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "grouped-profiler", suffix="?version=1.0"), headers=HX).text
    assert "The newest 15 profiled requests" in html and "of version\n    <code>1.0</code>" in html
    assert '<option value="1.0" selected>' in html
    none = admin.get(url(app, "grouped-profiler", suffix="?version=9.9"), headers=HX).text
    assert "No requests of “search” of version “9.9” were profiled" in none
    long = admin.get(url(app, "grouped-profiler", suffix="?version=" + "x" * 101), headers=HX)
    assert long.status_code == 400 and "a version has at most 100" in long.text


def _table_column(html: str, col: int) -> list[float]:
    rows = re.findall(r'<tr class="fmd-grouped-row".*?</tr>', html, re.S)
    return [float(re.findall(r'<td class="num">([\d,.]+)', row)[col].replace(",", "")) for row in rows]


@pytest.mark.parametrize("sort, col", [("hits", 0), ("mean", 1), ("std", 2), ("total", 3), ("share", 4)])
def test_grouped_table_sorts(app, admin, sort: str, col: int) -> None:  # noqa: ANN001
    desc = _table_column(admin.get(url(app, "grouped-profiler", suffix=f"?sort={sort}"), headers=HX).text, col)
    asc = _table_column(admin.get(url(app, "grouped-profiler", suffix=f"?sort={sort}&dir=asc"), headers=HX).text, col)
    assert desc == sorted(desc, reverse=True) and asc == sorted(asc) and len(desc) >= 5


def test_grouped_bad_sort_and_direction_are_400s(app, admin) -> None:  # noqa: ANN001
    for query, message in (("sort=bogus", "sort must be one of"), ("sort=hits&dir=up", "dir must be asc or desc")):
        resp = admin.get(url(app, "grouped-profiler", suffix="?" + query), headers=HX)
        assert resp.status_code == 400 and message in resp.text


def test_zoom_on_a_frame_and_an_unknown_key(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "grouped-profiler"), headers=HX).text
    icicle = specs(html)["fmd-profile-icicle"]["datasets"]["profile_icicle"]
    key = next(row["key"] for row in icicle if row["label"] == "a")
    zoomed = admin.get(url(app, "grouped-profiler", suffix=f"?root={key}"), headers=HX).text
    assert "Zoomed on <code>a</code>" in zoomed and "Reset zoom" in zoomed
    labels = [row["label"] for row in specs(zoomed)["fmd-profile-icicle"]["datasets"]["profile_icicle"]]
    assert labels[0] == "a" and "search" not in labels and {"b", "c"} <= set(labels)
    resp = admin.get(url(app, "grouped-profiler", suffix="?root=nosuchkey"), headers=HX)
    assert resp.status_code == 404 and "No frame with the key" in resp.text


def test_speedscope_download(app, admin) -> None:  # noqa: ANN001
    resp = admin.get(url(app, "grouped-profiler.speedscope.json", suffix="?version=2.0"))
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="fmd-endpoint-')
    body = json.loads(resp.data)
    assert body["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    assert len(body["profiles"]) == 1 and body["profiles"][0]["unit"] == "milliseconds"
    assert "search (2.0," in body["name"] and "15 requests" in body["name"]
    names = {frame["name"] for frame in body["shared"]["frames"]}
    assert {"search", "a", "b", "c"} <= names
    assert sum(body["profiles"][0]["weights"]) == pytest.approx(1000 * (0.051 + 0.02 + 13 * 0.071), rel=1e-6)


def test_diff_of_the_two_newest_versions_names_what_grew(app, admin) -> None:  # noqa: ANN001
    resp = admin.get(url(app, "profiler-diff"))
    html = resp.text
    assert resp.status_code == 200 and "<html" in html and "What changed in search" in html
    assert "Before: <strong>version 1.0</strong> (15 requests)" in html and "version 2.0</strong> (15 requests)" in html
    rect = specs(html)["fmd-profile-diff"]["layer"][0]["encoding"]
    assert rect["color"]["field"] == "change" and rect["color"]["scale"]["domainMid"] == 0
    grew = re.findall(r'<tr class="fmd-diff-row">\s*<td><code>([^<]+)</code>', html)
    assert grew[0] == "c"  # ranked by own time: c's line, not the callers whose time grew with it
    first = html[html.index('<tr class="fmd-diff-row">'):]
    assert re.search(r'<td class="num fmd-bad">\+2[0-9]\.\d\d</td>', first[:first.index("</tr>")])
    frag = admin.get(url(app, "profiler-diff", suffix="?base=2.0&other=1.0"), headers=HX).text
    assert "<html" not in frag and "Before: <strong>version 2.0</strong>" in frag
    grew = re.findall(r'<tr class="fmd-diff-row">\s*<td><code>([^<]+)</code>', frag)
    assert grew[0] == "b" and "search" not in grew  # its own time did not grow: float noise is left out


def test_diff_of_two_date_ranges(app, admin) -> None:  # noqa: ANN001
    today = utcnow().date()
    query = (f"?base_start={today - timedelta(days=7)}&base_end={today - timedelta(days=3)}"
             f"&other_start={today - timedelta(days=1)}&other_end={today}")
    html = admin.get(url(app, "profiler-diff", suffix=query)).text
    assert f"Before: <strong>{today - timedelta(days=7)} to {today - timedelta(days=3)}</strong>" in html
    assert "fmd-profile-diff" in html


def test_diff_with_too_few_profiles_says_so(app, admin) -> None:  # noqa: ANN001
    html = admin.get(url(app, "profiler-diff", suffix="?base=1.0&other=3.0")).text
    assert "version 3.0 has 0 profiled requests; a comparison needs at least 2 on each side." in html
    assert "fmd-profile-diff" not in html
    quiet = admin.get(url(app, "profiler-diff", name="quiet")).text
    assert "No requests of “quiet” were profiled yet" in quiet


@pytest.mark.parametrize("query, message", [
    ("?base_start=2024-01-01", "needs all of base_start"),
    ("?base_start=2024-01-01&base_end=2024-13-01&other_start=2024-01-01&other_end=2024-01-02", "base_end"),
    ("?base_start=2024-01-05&base_end=2024-01-01&other_start=2024-01-01&other_end=2024-01-02", "base:"),
    ("?base=" + "v" * 101, "a version has at most 100"),
])
def test_diff_bad_arguments_are_400s(app, admin, query: str, message: str) -> None:  # noqa: ANN001
    resp = admin.get(url(app, "profiler-diff", suffix=query))
    assert resp.status_code == 400 and message in resp.text


def test_the_level_note_goes_at_level_3(app, admin) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    e = store.tables.endpoint
    with store.write() as conn:  # as the level control would once level 3 is offered
        conn.execute(e.update().where(e.c.id == app.ids["search"]).values(monitor_level=3))
    for tab in ("profiler", "grouped-profiler"):
        assert "The profiler samples requests at monitoring level 3." not in admin.get(url(app, tab), headers=HX).text
