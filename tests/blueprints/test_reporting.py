"""The Reporting page: login, the comparison choices, regressions listed first with their links, 400s."""

from __future__ import annotations

import random
import re
import time

import pytest

from dashboard_helpers import PREFIX, dashboard, logged_in
from rollup_data import record

EVIL = "<script>alert(1)</script>"
NOW = time.time()


def durations(n: int, median: float, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [median * rnd.lognormvariate(0, 0.4) for _ in range(n)]


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    medians = {"1.0": {"api.slow": 0.05, "api.fast": 0.1, EVIL: 0.02},
               "<b>2.0</b>": {"api.slow": 0.08, "api.fast": 0.05, EVIL: 0.02}}
    for k, (version, hours_ago) in enumerate((("1.0", 30), ("<b>2.0</b>", 2))):
        rows = []
        for j, (name, median) in enumerate(medians[version].items()):
            rows += [(name, d, NOW - hours_ago * 3600 - 10 * i, 200) for i, d in enumerate(durations(200, median, 10 * k + j))]
        rows += [("api.rare", 0.01, NOW - hours_ago * 3600, 200)] * 3
        record(store, rows, version=version)
    return app


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def rows_of(html: str) -> list[tuple[str, str]]:
    """(verdict, endpoint) of each report row, in page order."""
    out = []
    for table in re.finditer(r'data-verdict="(\w+)">(.*?)</table>', html, re.S):
        out += [(table.group(1), name) for name in re.findall(r'data-endpoint="([^"]*)"', table.group(2))]
    return out


def test_login_is_required(app) -> None:  # noqa: ANN001
    resp = app.test_client().get(PREFIX + "/reporting")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_default_compares_the_last_24_hours_and_lists_regressions_first(client) -> None:  # noqa: ANN001
    page = client.get(PREFIX + "/reporting")
    assert page.status_code == 200 and "<html" in page.text and "HX-Request" in page.headers["Vary"]
    assert "Baseline: <strong>the 24 hours before" in page.text
    assert rows_of(page.text) == [("regression", "api.slow"), ("improvement", "api.fast"),
                                  ("unchanged", "&lt;script&gt;alert(1)&lt;/script&gt;"), ("insufficient", "api.rare")]
    assert EVIL not in page.text and "<b>2.0</b>" not in page.text
    assert '1 endpoint regressed.' in page.text


def test_each_line_links_to_its_endpoint_and_the_profiler_diff(app, client) -> None:  # noqa: ANN001
    from sqlalchemy import select

    store = app.extensions["fmd"].store
    with store.read() as conn:
        ids = dict(conn.execute(select(store.tables.endpoint.c.name, store.tables.endpoint.c.id)).all())
    page = client.get(PREFIX + "/reporting", query_string={"compare": "versions", "b_version": "1.0",
                                                           "c_version": "<b>2.0</b>"}).text
    assert f'href="{PREFIX}/endpoint/{ids["api.slow"]}"' in page
    diff = f'{PREFIX}/endpoint/{ids["api.slow"]}/profiler-diff?base=1.0&amp;other=%3Cb%3E2.0%3C/b%3E'
    assert f'href="{diff}"' in page
    assert client.get(diff.replace("&amp;", "&")).status_code == 200
    ranges = client.get(PREFIX + "/reporting", query_string={"compare": "ranges", "b_start": "2024-03-01",
                                                             "b_end": "2024-03-02", "c_start": "2024-03-03",
                                                             "c_end": "2024-03-03T12:00"}).text
    assert "No requests were recorded on either side" in ranges


def test_versions_are_offered_newest_first_and_compared(client) -> None:  # noqa: ANN001
    page = client.get(PREFIX + "/reporting?compare=versions&b_version=1.0&c_version=%3Cb%3E2.0%3C%2Fb%3E").text
    options = re.findall(r'<option value="([^"]*)"', page)
    assert options[:2] == ["&lt;b&gt;2.0&lt;/b&gt;", "1.0"]
    assert "Baseline: <strong>version 1.0" in page
    assert rows_of(page)[0] == ("regression", "api.slow")


def test_a_larger_minimum_effect_leaves_the_regression_unflagged(client) -> None:  # noqa: ANN001
    page = client.get(PREFIX + "/reporting?min_effect=100").text
    assert ("unchanged", "api.slow") in rows_of(page) and "No significant regression." in page
    assert "less than 100%" in page


def test_quick_picks_and_htmx_fragment(client) -> None:  # noqa: ANN001
    for kind, label in (("today", "today so far"), ("week", "this week so far")):
        frag = client.get(PREFIX + f"/reporting?compare={kind}", headers={"HX-Request": "true"})
        assert frag.status_code == 200 and "<html" not in frag.text
        assert frag.text.lstrip().startswith('<section id="fmd-reporting"') and label in frag.text


@pytest.mark.parametrize("query, message", [
    ("compare=yesterday", "compare must be one of"),
    ("compare=versions&b_version=1.0", "needs both b_version"),
    ("compare=versions&b_version=1.0&c_version=1.0", "same version"),
    ("compare=versions&b_version=" + "x" * 101 + "&c_version=1.0", "at most 100 characters"),
    ("compare=ranges&b_start=2024-03-01&b_end=2024-03-02&c_start=2024-03-03", "missing: c_end"),
    ("compare=ranges&b_start=2024-03-05&b_end=2024-03-02&c_start=2024-03-03&c_end=2024-03-04",
     "The baseline range: the range ends"),
    ("compare=ranges&b_start=2024-03-01&b_end=2024-03-02&c_start=soon&c_end=2024-03-04",
     "The candidate range: &#39;soon&#39; is not a date"),
    ("min_effect=lots", "min_effect must be a percentage"),
    ("min_effect=-5", "min_effect must be a percentage"),
])
def test_bad_arguments_are_a_400_with_a_message(client, query: str, message: str) -> None:  # noqa: ANN001
    resp = client.get(PREFIX + "/reporting?" + query)
    assert resp.status_code == 400 and message in resp.text, resp.text[-800:]
