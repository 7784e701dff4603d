"""Fuzzing the overview's and the chart pages' query arguments and form fields: a 200 (or the redirect of a
plain form post) for good values, a 400 with a message for bad ones, never a 500."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard_helpers import PREFIX, csrf, dashboard, logged_in
from fmd.blueprints.app_charts import CHARTS
from fmd.queries.overview import SORT_KEYS
from rollup_data import record

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: Any text a URL or form can carry (no lone surrogates: they cannot be encoded at all).
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
DATES = st.one_of(TEXT, st.dates().map(str), st.sampled_from(
    ["2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31", "2024-1-1", "٢٠٢٤-٠١-٠١", "2024-01-01T00:00",
     "", " ", "-1", "2024-03-10", "1999-12-31"]))
NUMBERS = st.one_of(TEXT, st.integers(-10**20, 10**20).map(str), st.sampled_from(["0", "1", "400", "401", "1e3", "²"]))
PATHS = ["/" + c.endpoint.replace("_", "-") + suffix for c in CHARTS for suffix in ("", "/chart", ".csv")]


@pytest.fixture
def client(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    record(app.extensions["fmd"].store, [("index", 0.01, time.time() - 5, 200), ("api", 0.2, time.time(), 500)])
    client = logged_in(app)
    client.token = csrf(client, "/overview")
    return client


def assert_answer(resp, ok: tuple[int, ...] = (200,)) -> None:  # noqa: ANN001
    assert resp.status_code in ok + (400, 404), (resp.status_code, resp.text[:300])
    if resp.status_code in (400, 404):
        assert 'class="fmd-error-message"' in resp.text and len(resp.text) > 40


def optional(strategy):  # noqa: ANN001, ANN201
    return st.one_of(st.none(), strategy)


@FUZZ
@given(q=optional(TEXT), sort=optional(st.one_of(TEXT, st.sampled_from(SORT_KEYS))),
       direction=optional(st.one_of(TEXT, st.sampled_from(["asc", "desc"]))), htmx=st.booleans())
def test_overview_arguments(client, q, sort, direction, htmx) -> None:  # noqa: ANN001
    args = {k: v for k, v in (("q", q), ("sort", sort), ("dir", direction)) if v is not None}
    resp = client.get(PREFIX + "/overview", query_string=args, headers={"HX-Request": "true"} if htmx else {})
    assert_answer(resp)
    if sort and sort not in SORT_KEYS:  # empty means the default order
        assert resp.status_code == 400


@FUZZ
@given(endpoint_id=st.one_of(st.integers(0, 2**70), st.sampled_from([1, 2])), level=optional(NUMBERS),
       q=optional(TEXT), sort=optional(TEXT), htmx=st.booleans())
def test_level_form(client, endpoint_id, level, q, sort, htmx) -> None:  # noqa: ANN001
    data = {k: v for k, v in (("level", level), ("q", q), ("sort", sort)) if v is not None}
    headers = {"X-CSRFToken": client.token, **({"HX-Request": "true"} if htmx else {})}
    resp = client.post(f"{PREFIX}/overview/level/{endpoint_id}", data=data, headers=headers)
    assert_answer(resp, (200, 302))
    if level not in ("0", "1", "2", "3"):
        assert resp.status_code in (400, 404)


@FUZZ
@given(level=optional(NUMBERS), q=optional(TEXT), direction=optional(TEXT))
def test_bulk_level_form(client, level, q, direction) -> None:  # noqa: ANN001
    data = {k: v for k, v in (("level", level), ("q", q), ("dir", direction)) if v is not None}
    resp = client.post(f"{PREFIX}/overview/level", data=data,
                       headers={"X-CSRFToken": client.token, "HX-Request": "true"})
    assert_answer(resp)


@FUZZ
@given(path=st.sampled_from(PATHS), start=optional(DATES), end=optional(DATES), days=optional(NUMBERS))
def test_chart_ranges(client, path, start, end, days) -> None:  # noqa: ANN001
    args = {k: v for k, v in (("start", start), ("end", end), ("days", days)) if v is not None}
    assert_answer(client.get(PREFIX + path, query_string=args, headers={"HX-Request": "true"}))
