"""Fuzzing the endpoint pages' query arguments and the level, purge and merge forms: a 2xx/3xx for good values,
a 4xx with a message for bad ones (unknown ids, bad dates, merging into itself), never a 500."""

from __future__ import annotations

import time

import pytest
from dashboard_helpers import PREFIX, csrf, dashboard, logged_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollup_data import record

from fmd.blueprints.endpoint import TABS

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
DATES = st.one_of(TEXT, st.dates().map(str), st.sampled_from(
    ["2024-02-30", "2024-13-01", "0000-01-01", "9999-12-31", "2024-1-1", "٢٠٢٤-٠١-٠١", "", " ", "1999-12-31"]))
NUMBERS = st.one_of(TEXT, st.integers(-10**20, 10**20).map(str), st.sampled_from(["0", "1", "2", "400", "1e3", "²"]))
#: Ids 1 to 3 exist (and are merged away by some examples); the others never do (ids past 2**63 overflowed
#: SQLite's integer binding once).
IDS = st.one_of(st.sampled_from([1, 2, 3]), st.sampled_from([0, 2**31, 2**63, 2**70]), st.integers(0, 2**80))
PATHS = [""] + [f"/{tab.path}{suffix}" for tab in TABS for suffix in ("", ".csv")]
HEADERS = st.sampled_from([{}, {"HX-Request": "true"}, {"HX-Request": "true", "HX-Target": "fmd-endpoint"},
                           {"HX-Request": "true", "HX-Target": "<script>"}])


@pytest.fixture
def client(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url)
    now = time.time()
    record(app.extensions["fmd"].store, [("a", 0.01, now - 5, 200), ("b", 0.2, now - 90000, 500)],
           group_by="<b>", ip="10.0.0.1", endpoints=["c"])
    client = logged_in(app)
    client.token = csrf(client, "/overview")
    return client


def optional(strategy):  # noqa: ANN001, ANN201
    return st.one_of(st.none(), strategy)


def assert_answer(resp, ok: tuple[int, ...] = (200,)) -> None:  # noqa: ANN001
    assert resp.status_code in ok + (400, 404), (resp.status_code, resp.text[:300])
    if resp.status_code in (400, 404):
        assert 'class="fmd-error-message"' in resp.text and len(resp.text) > 40


def fields(**values: object) -> dict:
    return {k: v for k, v in values.items() if v is not None}


@FUZZ
@given(endpoint_id=IDS, path=st.sampled_from(PATHS), start=optional(DATES), end=optional(DATES),
       days=optional(NUMBERS), headers=HEADERS)
def test_tab_arguments(client, endpoint_id, path, start, end, days, headers) -> None:  # noqa: ANN001
    resp = client.get(f"{PREFIX}/endpoint/{endpoint_id}{path}", query_string=fields(start=start, end=end, days=days),
                      headers=headers)
    assert_answer(resp)
    if endpoint_id > 3:
        assert resp.status_code in (400, 404)


@FUZZ
@given(endpoint_id=IDS, level=optional(NUMBERS), htmx=st.booleans())
def test_level_form(client, endpoint_id, level, htmx) -> None:  # noqa: ANN001
    headers = {"X-CSRFToken": client.token, **({"HX-Request": "true"} if htmx else {})}
    resp = client.post(f"{PREFIX}/endpoint/{endpoint_id}/level", data=fields(level=level), headers=headers)
    assert_answer(resp, (200, 303))
    if level not in ("0", "1", "2", "3"):
        assert resp.status_code in (400, 404)


@FUZZ
@given(endpoint_id=IDS, before=optional(DATES), confirm=optional(st.one_of(TEXT, st.just("yes"))),
       htmx=st.booleans())
def test_purge_form(client, endpoint_id, before, confirm, htmx) -> None:  # noqa: ANN001
    headers = {"X-CSRFToken": client.token, **({"HX-Request": "true"} if htmx else {})}
    resp = client.post(f"{PREFIX}/endpoint/{endpoint_id}/purge", data=fields(before=before, confirm=confirm),
                       headers=headers)
    assert_answer(resp, (204, 303))
    if confirm != "yes":
        assert resp.status_code in (400, 404)
    assert_answer(client.get(f"{PREFIX}/endpoint/{endpoint_id}/purge", headers={"HX-Request": "true"}))


@FUZZ
@given(endpoint_id=IDS, target=optional(st.one_of(NUMBERS, IDS.map(str))),
       confirm=optional(st.one_of(TEXT, st.just("yes"))), htmx=st.booleans())
def test_merge_form(client, endpoint_id, target, confirm, htmx) -> None:  # noqa: ANN001
    headers = {"X-CSRFToken": client.token, **({"HX-Request": "true"} if htmx else {})}
    resp = client.post(f"{PREFIX}/endpoint/{endpoint_id}/merge", data=fields(target=target, confirm=confirm),
                       headers=headers)
    assert_answer(resp, (204, 303))
    if target == str(endpoint_id) or confirm != "yes":
        assert resp.status_code in (400, 404)
    assert_answer(client.get(f"{PREFIX}/endpoint/{endpoint_id}/merge"))
