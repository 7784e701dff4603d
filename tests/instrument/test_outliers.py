"""Level 2 outliers end to end (issue 9): baselines, the watchdog's stack taken while the request is slow,
no verdict before MIN_SAMPLES, the rollup seed, level 1 left alone, redaction and caps, poison values."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask, request
from sqlalchemy import func, select

import fmd
from fmd.instrument.outliers import MIN_SAMPLES

SECRETS = ["Bearer-s3cr3t-bearer-value", "c00kie-value-9x", "t0ken-in-the-query", "f0rm-passw0rd",
           "ap1-key-value", "nested-s3cret", "hunter2"]


def stuck_in_the_database(seconds: float) -> None:
    time.sleep(seconds)


def sometimes_app() -> Flask:
    """An app with one endpoint that is fast unless asked to sleep inside a named function."""
    app = Flask("outliers")
    app.config["TESTING"] = False

    @app.route("/sometimes", methods=["GET", "POST"])
    def sometimes() -> str:
        if request.args.get("slow"):
            stuck_in_the_database(float(request.args["slow"]))
        return "ok"

    @app.route("/fails-slowly")
    def fails_slowly() -> str:
        if request.args.get("slow"):
            stuck_in_the_database(float(request.args["slow"]))
            raise LookupError("slow and broken")
        return "ok"

    @app.route("/hello")
    def hello() -> str:
        return "hello"

    return app


def outliers(app: Flask) -> list[dict]:
    state = app.extensions["fmd"]
    assert fmd.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return [dict(row) for row in conn.execute(select(t.outlier).order_by(t.outlier.c.id)).mappings()]


def wait_for_threshold(app: Flask, endpoint: str, timeout: float = 10.0) -> float:
    """The endpoint's outlier threshold once the writer has one (after its samples or its seed)."""
    state = app.extensions["fmd"]
    deadline = time.monotonic() + timeout
    while endpoint not in state.baselines.thresholds:
        assert time.monotonic() < deadline, f"no threshold for {endpoint}: {state.baselines.thresholds}"
        fmd.flush(1)
        time.sleep(0.02)
    return state.baselines.thresholds[endpoint]


def warm(app: Flask, path: str = "/sometimes", n: int = 30, endpoint: str | None = None) -> float:
    """*n* fast requests to *path*; its endpoint's threshold once the writer has taken them."""
    client = app.test_client()
    for _ in range(n):
        assert client.get(path).status_code == 200
    return wait_for_threshold(app, endpoint or path.strip("/"))


def level2(make_app: Any, url: str, **options: Any) -> Flask:
    options.setdefault("monitor_level", 2)
    options.setdefault("sync_interval", 0.1)
    return make_app(url, app=sometimes_app(), **options)


# --- the stack, taken while the request was stuck ----------------------------------------------------------


def test_slow_request_is_an_outlier_with_the_stack_where_it_was_stuck(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    limit = warm(app)
    assert limit == pytest.approx(0.020)  # the floor: the mean of a fast endpoint is far below it
    client = app.test_client()
    for _ in range(3):
        assert client.get("/sometimes?slow=0.3").status_code == 200
        assert client.get("/sometimes").status_code == 200  # the fast ones in between are not outliers
    rows = outliers(app)
    assert len(rows) == 3 and fmd.stats(app)["outliers"] == 3
    for row in rows:
        assert row["duration"] >= 0.3 and row["status_code"] == 200 and row["method"] == "GET"
        # Taken while it slept: past the threshold, well before the end.
        assert limit <= row["stack_at"] < row["duration"] - 0.1
        stack = json.loads(row["stacktrace"])
        inner = stack[-1]
        assert inner["function"] == "stuck_in_the_database" and inner["app"] is True
        assert inner["code"] == "time.sleep(seconds)"
        assert [f["function"] for f in stack[-2:]] == ["sometimes_app.<locals>.sometimes", "stuck_in_the_database"]
        # From the view's dispatch down: fmd's own wrapper and the WSGI layers above it are not in it.
        assert not any("fmd/instrument" in f["file"] for f in stack)
        assert not any(f["function"].endswith("wsgi_app") for f in stack)
        assert row["average"] < limit and row["url"] == "http://localhost/sometimes?slow=0.3"
        assert isinstance(json.loads(row["cpu_percent"]), list)
        assert set(json.loads(row["memory"])) == {"rss", "system_percent", "system_available"}
    assert app.extensions["fmd"].watchdog.captured == 3


def test_a_slow_failing_request_is_an_outlier_and_an_exception(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    warm(app, "/fails-slowly", n=MIN_SAMPLES, endpoint="fails_slowly")
    assert app.test_client().get("/fails-slowly?slow=0.1").status_code == 500
    (row,) = outliers(app)
    assert row["status_code"] == 500 and json.loads(row["stacktrace"])[-1]["function"] == "stuck_in_the_database"
    state = app.extensions["fmd"]
    with state.store.read() as conn:
        (group,) = conn.execute(select(state.store.tables.exception_group)).mappings().all()
    assert group["exception_type"] == "LookupError" and group["count"] == 1
    stats = fmd.stats(app)
    assert stats["outliers"] == 1 and stats["exceptions"] == 1


def test_hello_hammered_at_level_2_yields_no_outlier(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    warm(app, "/hello", n=MIN_SAMPLES)
    client = app.test_client()
    for _ in range(300):
        assert client.get("/hello").status_code == 200
    assert outliers(app) == []
    stats = fmd.stats(app)
    assert stats["outliers"] == 0 and stats["rows_written"] == 310 and stats["internal_errors"] == 0


# --- verdicts: not before MIN_SAMPLES, seeded from the rollups ---------------------------------------------


def test_no_verdict_before_min_samples(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    client = app.test_client()
    client.get("/sometimes?slow=0.1")  # the endpoint's very first request: nothing to compare it with
    for _ in range(MIN_SAMPLES - 2):
        client.get("/sometimes")
    assert fmd.flush(10)
    time.sleep(0.3)  # syncs came and went: the seed found nothing stored before these requests
    assert "sometimes" not in app.extensions["fmd"].baselines.thresholds
    client.get("/sometimes?slow=0.1")  # the tenth: still judged without a threshold
    assert outliers(app) == []
    assert app.extensions["fmd"].watchdog.captured == 0


def test_a_fresh_process_is_seeded_from_the_rollups(tmp_path, make_app) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = level2(make_app, url)
    warm(first, n=20)
    first.extensions["fmd"].close(5)
    second = level2(make_app, url)  # another process's state: empty baselines
    state = second.extensions["fmd"]
    assert state.baselines.thresholds == {}
    second.test_client().get("/hello")  # starts its writer; /sometimes gets no request here
    limit = wait_for_threshold(second, "sometimes", timeout=5)
    assert limit == pytest.approx(0.020) and state.baselines.average("sometimes") < 0.02
    assert second.test_client().get("/sometimes?slow=0.2").status_code == 200
    rows = outliers(second)
    assert len(rows) == 1 and json.loads(rows[0]["stacktrace"])[-1]["function"] == "stuck_in_the_database"


def test_level_1_captures_no_outlier(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url, monitor_level=1)
    client = app.test_client()
    for _ in range(20):
        client.get("/sometimes")
    client.get("/sometimes?slow=0.2")
    assert outliers(app) == []
    state = app.extensions["fmd"]
    assert state.baselines.thresholds == {} and state.watchdog.captured == 0 and not state.watchdog.awake
    assert fmd.stats(app)["rows_written"] == 21


def test_an_endpoint_set_back_to_level_1_stops_being_judged(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    warm(app)
    fmd.set_level("sometimes", 1, app=app)
    state = app.extensions["fmd"]
    deadline = time.monotonic() + 5
    while "sometimes" in state.baselines.thresholds:  # forgotten at the next sync
        assert time.monotonic() < deadline
        time.sleep(0.02)
    app.test_client().get("/sometimes?slow=0.1")
    assert outliers(app) == []


# --- what an outlier row holds: redacted, capped, storable --------------------------------------------------


def test_secrets_never_reach_the_outlier_row(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    warm(app)
    client = app.test_client()
    environ = {"DATABASE_URL": "postgresql://u:hunter2@db/x"}
    headers = {"Authorization": "Bearer Bearer-s3cr3t-bearer-value", "Cookie": "session=c00kie-value-9x",
               "X-Plain": "visible-header"}
    client.get("/sometimes?slow=0.1&token=t0ken-in-the-query&q=ok", headers=headers, environ_base=environ)
    client.post("/sometimes?slow=0.1", data={"password": "f0rm-passw0rd", "user": "bob"}, environ_base=environ)
    client.post("/sometimes?slow=0.1", json={"api_key": "ap1-key-value", "nested": {"secret": "nested-s3cret"},
                                            "n": 7}, environ_base=environ)
    rows = outliers(app)
    assert len(rows) == 3
    for row in rows:
        text = json.dumps({k: str(v) for k, v in row.items()})
        assert not [s for s in SECRETS if s in text], row
        assert "postgresql://u:[redacted]@db/x" in row["request_environment"]
    get, form, body = rows
    assert ["q", "ok"] in json.loads(get["request_values"])["query"]
    assert "q=ok" in get["url"] and "q=ok" in get["request_environment"]
    headers_stored = dict(json.loads(get["request_headers"]))
    assert headers_stored["Authorization"] == "[redacted]" and headers_stored["X-Plain"] == "visible-header"
    assert ["user", "bob"] in json.loads(form["request_values"])["form"]
    assert form["method"] == "POST" and json.loads(body["request_values"])["json"]["n"] == 7


def test_a_huge_header_is_cut_with_a_note(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, sqlite_url)
    warm(app)
    app.test_client().get("/sometimes?slow=0.1", headers={"X-Huge": "y" * 10_240})
    (row,) = outliers(app)
    huge = dict(json.loads(row["request_headers"]))["X-Huge"]
    assert len(huge) == 4096 and huge == "y" * 4095 + "…"  # (a cut value ends with "…", within its limit)
    assert json.loads(row["cut"]) == ["headers.X-Huge: 4095 of 10240 characters kept"]


def test_a_poison_header_is_stored_sanitised(db_url, make_app) -> None:  # noqa: ANN001
    app = level2(make_app, db_url)
    warm(app)
    poison = {"HTTP_X_POISON": "nul\x00here-and-\udcffsurrogate", "HTTP_X_OK": "fine"}
    assert app.test_client().get("/sometimes?slow=0.1", environ_base=poison).status_code == 200
    (row,) = outliers(app)
    stored = dict(json.loads(row["request_headers"]))
    assert stored["X-Ok"] == "fine"
    assert "\x00" not in stored["X-Poison"] and "\udcff" not in stored["X-Poison"]
    assert stored["X-Poison"].startswith("nul") and "surrogate" in stored["X-Poison"]
    assert json.loads(row["stacktrace"])[-1]["function"] == "stuck_in_the_database"
    state = app.extensions["fmd"]
    with state.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(state.store.tables.request)).scalar() == 31
    assert fmd.stats(app)["lost_attachments"] == 0
