"""The Custom graphs page: every graph with its schedule, last value and last error; a lazy chart per graph over
the shared range; CSV per graph; everything escaped."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

import fmd
from dashboard_helpers import PREFIX, dashboard, logged_in
from fmd.store import custom_graphs as cg

EVIL = "<script>alert('graph')</script>"
SPEC = re.compile(r'<script type="application/json">(.*?)</script>', re.S)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def seed(app, title: str, values: list[tuple[datetime, float | None, str | None]], schedule: str = "every minute"):  # noqa: ANN001, ANN201
    store = app.extensions["fmd"].store
    t = store.tables
    with store.write() as conn:
        graph_id = cg.register(conn, t, title, schedule)
        for tick, value, error in values:
            assert cg.claim(conn, t, graph_id, tick, "test")
            cg.finish(conn, t, graph_id, tick, value=value, error=error,
                      outcome=cg.OK if error is None else cg.ERROR, duration=0.01)
    return graph_id


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    now = utcnow()
    seed(app, "Queue length", [(now - timedelta(minutes=m), float(m), None) for m in range(1, 30)]
         + [(now - timedelta(minutes=31), None, "RuntimeError: broker <down> & out")])
    seed(app, EVIL, [(now - timedelta(minutes=5), 1.0, None)], schedule=f"cron: hour={EVIL}")
    seed(app, "Old", [(now - timedelta(days=40), 7.0, None)])
    return app


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def graph_ids(app) -> dict[str, int]:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        g = store.tables.custom_graph
        return {title: gid for gid, title in conn.execute(g.select().with_only_columns(g.c.id, g.c.title))}


def test_the_page_lists_graphs_with_schedule_last_value_and_last_error(client, app) -> None:  # noqa: ANN001
    page = client.get(PREFIX + "/custom-graphs")
    assert page.status_code == 200 and "<html" in page.text
    text = page.text
    assert "Queue length" in text and "every minute" in text
    assert "<strong>1</strong>" in text  # the newest value
    assert "RuntimeError: broker &lt;down&gt; &amp; out" in text
    assert "29 stored, 1 failed in all" in text
    assert EVIL not in text and "&lt;script&gt;alert(" in text
    ids = graph_ids(app)
    today = datetime.now(timezone.utc).date()
    lazy = f'hx-get="{PREFIX}/custom-graphs/{ids["Queue length"]}/chart?start={today - timedelta(days=6)}&amp;end={today}"'
    assert lazy in text
    assert re.search(r'<a [^>]*href="/dashboard/custom-graphs"[^>]*>\s*Custom graphs', text)  # the nav entry
    frag = client.get(PREFIX + "/custom-graphs", headers={"HX-Request": "true"})
    assert "<html" not in frag.text and frag.text.lstrip().startswith('<section id="fmd-graphs"')


def test_a_chart_holds_the_values_of_the_range(client, app) -> None:  # noqa: ANN001
    gid = graph_ids(app)["Queue length"]
    frag = client.get(f"{PREFIX}/custom-graphs/{gid}/chart?days=1", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text
    spec = json.loads(SPEC.search(frag.text).group(1))
    values = spec["datasets"]["values"]
    assert len(values) == 29 and sorted(v["value"] for v in values) == [float(m) for m in range(1, 30)]
    assert f'/custom-graphs/{gid}.csv?start=' in frag.text
    full = client.get(f"{PREFIX}/custom-graphs/{gid}/chart?days=1")
    assert "<html" in full.text and SPEC.search(full.text)  # the page, this chart drawn
    old = graph_ids(app)["Old"]
    empty = client.get(f"{PREFIX}/custom-graphs/{old}/chart?days=7", headers={"HX-Request": "true"})
    assert "No value was stored" in empty.text and not SPEC.search(empty.text)
    shown = client.get(f"{PREFIX}/custom-graphs/{old}/chart?days=90", headers={"HX-Request": "true"})
    assert json.loads(SPEC.search(shown.text).group(1))["datasets"]["values"][0]["value"] == 7.0


def test_the_evil_title_is_escaped_in_the_chart_too(client, app) -> None:  # noqa: ANN001
    gid = graph_ids(app)[EVIL]
    frag = client.get(f"{PREFIX}/custom-graphs/{gid}/chart", headers={"HX-Request": "true"})
    assert "<script>alert" not in frag.text
    full = client.get(f"{PREFIX}/custom-graphs/{gid}/chart")
    assert "<script>alert" not in full.text


def test_many_values_are_folded_into_buckets(client, app) -> None:  # noqa: ANN001
    now = utcnow()
    gid = seed(app, "Busy", [(now - timedelta(seconds=s), float(s % 10), None) for s in range(1, 4000)])
    frag = client.get(f"{PREFIX}/custom-graphs/{gid}/chart?days=1", headers={"HX-Request": "true"})
    spec = json.loads(SPEC.search(frag.text).group(1))
    values = spec["datasets"]["values"]
    assert 10 < len(values) <= 1500
    assert sum(v["count"] for v in values) == 3999
    assert min(v["low"] for v in values) == 0.0 and max(v["high"] for v in values) == 9.0
    assert "each point is the mean of" in frag.text


def test_csv_has_every_tick_of_the_range(client, app) -> None:  # noqa: ANN001
    gid = graph_ids(app)["Queue length"]
    resp = client.get(f"{PREFIX}/custom-graphs/{gid}.csv?days=1")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="fmd-graph-queue-length-' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["tick_utc", "outcome", "value", "duration_s", "error"]
    assert len(rows) == 31
    assert rows[1][1] == "error" and rows[1][4] == "RuntimeError: broker <down> & out"
    assert [float(r[2]) for r in rows[2:]] == [float(m) for m in range(29, 0, -1)]  # oldest first


def test_csv_cells_that_look_like_formulas_are_quoted(client, app) -> None:  # noqa: ANN001
    gid = seed(app, "=cmd", [(utcnow() - timedelta(minutes=1), None, "=HYPERLINK(\"http://x\")")])
    rows = list(csv.reader(io.StringIO(client.get(f"{PREFIX}/custom-graphs/{gid}.csv").text)))
    assert rows[1][4].startswith("'=")
    assert "attachment" in client.get(f"{PREFIX}/custom-graphs/{gid}.csv").headers["Content-Disposition"]


def test_unknown_graphs_and_bad_ranges_are_refused_cleanly(client) -> None:  # noqa: ANN001
    assert client.get(PREFIX + "/custom-graphs/9999/chart").status_code == 404
    assert client.get(PREFIX + "/custom-graphs/9999.csv").status_code == 404
    bad = client.get(PREFIX + "/custom-graphs?start=2024-13-01")
    assert bad.status_code == 400 and "start" in bad.text
    assert client.get(PREFIX + "/custom-graphs?days=abc").status_code == 400


def test_login_is_required(app) -> None:  # noqa: ANN001
    anonymous = app.test_client()
    for path in ("/custom-graphs", "/custom-graphs/1/chart", "/custom-graphs/1.csv"):
        resp = anonymous.get(PREFIX + path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


def test_a_graph_defined_here_that_has_not_ticked_yet_is_listed(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    fmd.add_graph("Nightly <report>", lambda: 1, "cron", hour=3, app=app)
    page = logged_in(app).get(PREFIX + "/custom-graphs").text
    assert "Nightly &lt;report&gt;" in page and "cron: hour=3 (UTC)" in page and "waiting for its first tick" in page


def test_no_graph_at_all_explains_how_to_add_one(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    page = logged_in(app).get(PREFIX + "/custom-graphs").text
    assert "No custom graph yet" in page and "fmd.add_graph(" in page
