"""The export API: the token (missing, wrong, short, example, right), no cookie or session, every route's schema,
400s for bad parameters, and paging without gaps or repeats."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from dashboard_helpers import PREFIX, dashboard, logged_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rollup_data import record

import fmd
from fmd.api_token import EXAMPLE_TOKENS
from fmd.options import ConfigError

TOKEN = "0123456789abcdef-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
API = PREFIX + "/api/v1"


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    app = dashboard(make_app, sqlite_url, security_token=TOKEN)
    now = time.time()
    record(app.extensions["fmd"].store, [("a", 0.01, now - 5, 200), ("a", 0.03, now - 4, 500),
                                         ("b", 0.2, now - 3600, 404)], group_by="u1", ip="10.0.0.1")
    return app


def get(client, path: str, headers: dict | None = AUTH, **kw):  # noqa: ANN001, ANN201, ANN003
    return client.get(API + path, headers=headers, **kw)


# ------------------------------------------------------------------------------------------------ the token

def test_missing_and_wrong_tokens_are_401(app) -> None:  # noqa: ANN001
    client = app.test_client()
    for headers in (None, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"},
                    {"Authorization": "Bearer " + TOKEN[:-1]}):
        resp = get(client, "/endpoints", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.is_json and "error" in resp.json
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(client, "/endpoints").status_code == 200
    assert get(client, "/endpoints", headers={"Authorization": f"bearer  {TOKEN}"}).status_code == 200


def test_a_dashboard_session_is_not_a_token(app) -> None:  # noqa: ANN001
    client = logged_in(app)
    assert client.get(PREFIX + "/overview").status_code == 200
    resp = client.get(API + "/endpoints")
    assert resp.status_code == 401 and resp.is_json


def test_no_cookie_is_set_even_with_a_session(app) -> None:  # noqa: ANN001
    client = logged_in(app)
    for path in ("/endpoints", "/requests", "/nothing-here", "/requests?limit=0"):
        for headers in (AUTH, None):
            resp = get(client, path, headers=headers)
            assert "Set-Cookie" not in resp.headers, (path, resp.headers)
            assert resp.headers["Cache-Control"] == "no-store"


def test_other_methods_are_405_without_csrf(app) -> None:  # noqa: ANN001
    client = app.test_client()
    resp = client.post(API + "/requests", headers=AUTH)
    assert resp.status_code == 405 and resp.is_json and resp.headers["Allow"] == "GET, HEAD"
    assert client.post(API + "/requests").status_code == 401  # the token comes first
    resp = get(client, "/no-such-route")
    assert resp.status_code == 404 and resp.is_json


def test_short_token_is_a_config_error_naming_key_and_source(make_app, sqlite_url) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=r"SECURITY_TOKEN.*15 characters.*at least 16") as info:
        make_app(sqlite_url, security_token="x" * 15)
    assert str(info.value).startswith("bind(security_token=...)")


def test_short_token_from_app_config(new_host_app, sqlite_url) -> None:  # noqa: ANN001
    host = new_host_app()
    host.config["FMD_SECURITY_TOKEN"] = "tok-123"
    with pytest.raises(ConfigError, match="FMD_SECURITY_TOKEN"):
        fmd.bind(host, database=sqlite_url)


@pytest.mark.parametrize("token", sorted(EXAMPLE_TOKENS) + ["CC83733CB0AF8B884FF6577086B87909"])
def test_example_token_leaves_the_api_off_with_a_warning(make_app, sqlite_url, caplog, token) -> None:  # noqa: ANN001
    with caplog.at_level(logging.WARNING, logger="fmd"):
        app = dashboard(make_app, sqlite_url, security_token=token)
    assert any("SECURITY_TOKEN" in r.getMessage() and "OFF" in r.getMessage() for r in caplog.records)
    resp = app.test_client().get(API + "/endpoints", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 404 and resp.is_json


def test_no_token_means_no_api(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    for path in ("/endpoints", "/requests", "/x"):
        resp = app.test_client().get(API + path, headers=AUTH)
        assert resp.status_code == 404 and resp.is_json


# ------------------------------------------------------------------------------------------------ schemas

def test_endpoints_schema(app) -> None:  # noqa: ANN001
    body = get(app.test_client(), "/endpoints").json
    assert body["api_version"] == 1
    by_name = {e["name"]: e for e in body["endpoints"]}
    a = by_name["a"]
    assert set(a) == {"id", "name", "monitor_level", "time_added", "first_requested", "last_requested", "requests",
                      "server_errors", "client_errors", "mean_duration_ms"}
    assert (a["requests"], a["server_errors"], a["client_errors"]) == (2, 1, 0)
    assert a["mean_duration_ms"] == pytest.approx(20.0)
    assert by_name["b"]["client_errors"] == 1 and a["last_requested"].endswith("Z")


def test_requests_schema_and_paging(app) -> None:  # noqa: ANN001
    client = app.test_client()
    body = get(client, "/requests?limit=2").json
    assert set(body) == {"api_version", "requests", "next_cursor", "has_more"}
    assert len(body["requests"]) == 2 and body["has_more"] is True
    row = body["requests"][0]
    assert set(row) == {"id", "endpoint", "endpoint_id", "time_requested", "duration_ms", "status_code", "version",
                        "group_by", "ip"}
    assert row["group_by"] == "u1" and row["ip"] == "10.0.0.1" and row["time_requested"].endswith("Z")
    rest = get(client, f"/requests?cursor={body['next_cursor']}").json
    assert len(rest["requests"]) == 1 and rest["has_more"] is False
    again = get(client, f"/requests?cursor={rest['next_cursor']}").json
    assert again["requests"] == [] and again["next_cursor"] == rest["next_cursor"]
    ids = [r["id"] for r in body["requests"] + rest["requests"]]
    assert len(set(ids)) == 3
    only_a = get(client, "/requests?endpoint=a").json["requests"]
    assert {r["endpoint"] for r in only_a} == {"a"} and len(only_a) == 2
    assert get(client, "/requests?endpoint=never-requested").json["requests"] == []
    recent = get(client, "/requests?since=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)))
    assert {r["endpoint"] for r in recent.json["requests"]} == {"a"}


def test_hourly_schema(app) -> None:  # noqa: ANN001
    client = app.test_client()
    body = get(client, "/rollups/hourly?limit=1").json
    assert set(body) == {"api_version", "from", "to", "hours", "has_more", "next_cursor"}
    hour = body["hours"][0]
    assert set(hour) == {"hour", "endpoint", "endpoint_id", "version", "status_code", "count", "duration_sum_ms",
                         "mean_duration_ms"}
    seen = [hour]
    while body["has_more"]:
        body = get(client, f"/rollups/hourly?limit=1&cursor={body['next_cursor']}").json
        seen += body["hours"]
    assert sum(h["count"] for h in seen) == 3 and len(seen) == len({(h["hour"], h["endpoint"], h["status_code"])
                                                                    for h in seen})
    assert get(client, "/rollups/hourly?from=2000-01-01&to=2000-01-02").json["hours"] == []


def test_outliers_profiles_and_graphs_schema(app) -> None:  # noqa: ANN001
    from fmd.store import writes

    store = app.extensions["fmd"].store
    now = time.time()
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, store.tables, ["slow"], {})
        outlier = {"average": 0.01, "method": "GET", "url": "/slow?x=1", "request_headers": '[["Accept", "*/*"]]',
                   "stacktrace": '[{"file": "app.py", "line": 3, "function": "slow", "code": "x", "app": true}]'}
        writes.write_batch(conn, store.tables, writes.new_batch_id(), "1.0",
                           [("slow", 0.5, now, 200, "", "", [("outlier", outlier)])], ids, {"slow": now}, mixed=True)
    client = app.test_client()
    body = get(client, "/outliers").json
    assert set(body) == {"api_version", "outliers", "next_cursor", "has_more"}
    (o,) = body["outliers"]
    assert o["endpoint"] == "slow" and o["duration_ms"] == pytest.approx(500) and o["average_ms"] == pytest.approx(10)
    assert o["request_headers"] == [["Accept", "*/*"]] and o["stacktrace"][0]["function"] == "slow"
    assert {"request_values", "request_environment", "cpu_percent", "memory", "cut", "stack_at", "url",
            "method", "status_code", "version", "request_id", "time_requested"} <= set(o)
    assert get(client, "/profiles").json["profiles"] == []
    assert get(client, "/custom-graphs").json["graphs"] == []
    assert get(client, "/custom-graphs/1/values").status_code == 404


# ------------------------------------------------------------------------------------------------ bad parameters

@pytest.mark.parametrize("path, parameter", [
    ("/requests?limit=0", "limit"), ("/requests?limit=10001", "limit"), ("/requests?limit=ten", "limit"),
    ("/outliers?limit=1001", "limit"), ("/requests?cursor=abc", "cursor"), ("/requests?cursor=1.", "cursor"),
    ("/requests?cursor=99999999999999999999.1", "cursor"), ("/requests?since=yesterday", "since"),
    ("/requests?since=2024-13-01", "since"), ("/requests?since=0001-01-01T00:00:00%2B01:00", "since"),
    ("/requests?limt=5", "limt"), ("/requests?limit=1&limit=2", "limit"), ("/endpoints?x=1", "x"),
    ("/requests?endpoint=", "endpoint"), ("/rollups/hourly?from=2024-02-02&to=2024-02-01", "from"),
    ("/rollups/hourly?cursor=e30", "cursor"), ("/rollups/hourly?cursor=WyJ4IiwxLCIiLDIwMF0", "cursor"),
    ("/custom-graphs/1/values?cursor=!!", "cursor"), ("/custom-graphs/1/values?to=1900-01-01", "to"),
    ("/requests?endpoint=a%00b", "endpoint"), ("/outliers?endpoint=%00", "endpoint"),
    # An hourly cursor whose endpoint id passes a 32-bit column, and one whose version holds a NUL.
    ("/rollups/hourly?cursor=WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgMjE0NzQ4MzY0OCwgIiIsIDIwMF0", "cursor"),
    ("/rollups/hourly?cursor=WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgMSwgImFcdTAwMDAiLCAyMDBd", "cursor"),
])
def test_bad_parameters_are_400_json(app, path, parameter) -> None:  # noqa: ANN001
    resp = get(app.test_client(), path)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.json["parameter"] == parameter and resp.json["error"]


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@FUZZ
@given(route=st.sampled_from(["/requests", "/outliers", "/profiles", "/rollups/hourly", "/custom-graphs/1/values",
                              "/endpoints"]),
       params=st.dictionaries(st.sampled_from(["limit", "cursor", "since", "from", "to", "endpoint", "zzz"]),
                              st.one_of(TEXT, st.integers(-10**20, 10**20).map(str), st.datetimes().map(str),
                                        st.sampled_from(["0.0", "1.1", "9223372036854775807.0", "2024-01-01Z"])),
                              max_size=4))
def test_fuzzed_parameters_never_500(app, route, params) -> None:  # noqa: ANN001
    resp = get(app.test_client(), route, query_string=params)
    assert resp.status_code in (200, 400, 404), (route, params, resp.get_data(as_text=True))
    assert resp.is_json
    if resp.status_code == 400:
        assert set(resp.json) == {"error", "parameter"}


# ------------------------------------------------------------------------------------------------ paging live

def test_paging_while_requests_arrive_has_no_gap_or_repeat(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, security_token=TOKEN)
    state = app.extensions["fmd"]
    stop = threading.Event()

    def traffic() -> None:
        host = app.test_client()
        while not stop.is_set():
            host.get("/")
            host.get("/missing")

    thread = threading.Thread(target=traffic)
    thread.start()
    client = app.test_client()
    seen: list[int] = []
    cursor = "0.0"
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            body = get(client, f"/requests?limit=7&cursor={cursor}").json
            seen += [r["id"] for r in body["requests"]]
            cursor = body["next_cursor"]
    finally:
        stop.set()
        thread.join()
    assert state.flush(10)
    while True:
        body = get(client, f"/requests?limit=50&cursor={cursor}").json
        seen += [r["id"] for r in body["requests"]]
        cursor = body["next_cursor"]
        if not body["requests"]:
            break
    with state.store.read() as conn:
        stored = [row[0] for row in conn.execute(state.store.tables.request.select().with_only_columns(
            state.store.tables.request.c.id))]
    assert len(seen) == len(set(seen)), "a row was served twice"
    assert sorted(seen) == sorted(stored) and len(stored) > 20


@pytest.mark.parametrize("token", ["tøken-0123456789abcdef", "token-0123456789abc\x00", " token-0123456789abcdef"])
def test_a_token_no_header_can_carry_is_a_config_error(token: str) -> None:
    from fmd.api_token import api_token

    with pytest.raises(fmd.ConfigError, match="printable ASCII"):
        api_token(token, "bind(security_token=...)")
