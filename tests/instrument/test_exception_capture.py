"""Exceptions end to end (issue 9): grouping, what counts as an exception, the host's handlers untouched,
fmd.capture(), traceback locals and their refresh, resolve/reopen by version, poison messages."""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from flask import Flask, Response, abort, got_request_exception, request
from sqlalchemy import select, update

import fmd
import fmd.instrument.exceptions


class Teapot(Exception):
    """Answered by the app's own handler with a 400."""


class Broken(Exception):
    """Answered by the app's own handler with a 500."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def other_raiser(n: str) -> None:
    raise ValueError(f"from elsewhere {n}")


def exc_app() -> Flask:
    app = Flask("exceptions")
    app.config["TESTING"] = False  # unhandled errors become 500s, as in production
    app.config["APP_VERSION"] = "1.0"

    @app.route("/fail/<n>")
    def fail(n: str) -> str:
        raise ValueError(f"bad value {n}")

    @app.route("/other/<n>")
    def other(n: str) -> str:
        other_raiser(n)
        return "unreachable"

    @app.route("/key")
    def key() -> str:
        raise KeyError("missing")

    @app.route("/missing")
    def missing() -> str:
        abort(404)

    @app.route("/teapot")
    def teapot() -> str:
        raise Teapot("handled as a 400")

    @app.route("/broken")
    def broken() -> str:
        raise Broken("handled as a 500")

    @app.route("/stream")
    def stream() -> Response:
        def body() -> Iterator[str]:
            yield "first part\n"
            raise RuntimeError("the stream failed midway")
        return Response(body(), mimetype="text/plain")

    @app.route("/login")
    def login() -> str:
        password = request.args.get("pw", "")  # noqa: F841 - a local the stored traceback must not show
        attempts = 3  # noqa: F841
        raise PermissionError("login failed")

    @app.route("/chained")
    def chained() -> str:
        try:
            raise ConnectionError(f"could not connect to {request.args['dsn']}")
        except ConnectionError as err:
            raise RuntimeError("the database is down") from err

    @app.route("/captured")
    def captured() -> str:
        try:
            {}["nothing"]
        except KeyError:
            fmd.capture()
        return "handled"

    @app.route("/poison")
    def poison() -> str:
        raise ValueError("nul\x00here-and-\udcffsurrogate")

    @app.errorhandler(Teapot)
    def on_teapot(e: Teapot) -> tuple[str, int]:
        return "teapot", 400

    @app.errorhandler(Broken)
    def on_broken(e: Broken) -> tuple[str, int]:
        return "broken", 500

    return app


def groups(app: Flask) -> list[dict]:
    state = app.extensions["fmd"]
    assert fmd.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return [dict(r) for r in conn.execute(select(t.exception_group).order_by(t.exception_group.c.id)).mappings()]


def days(app: Flask) -> list[tuple]:
    """(group id, endpoint name or None for 0, version, count) per stored exception day."""
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        names = dict(conn.execute(select(t.endpoint.c.id, t.endpoint.c.name)).all())
        rows = conn.execute(select(t.exception_day.c.group_id, t.exception_day.c.endpoint_id,
                                   t.exception_day.c.version, t.exception_day.c["count"])).all()
    return sorted((g, names.get(e) if e else None, v, n) for g, e, v, n in rows)


def bound(make_app: Any, url: str, **options: Any) -> Flask:
    return make_app(url, app=exc_app(), **options)


# --- grouping ------------------------------------------------------------------------------------------------


def test_repeated_failures_make_one_group_split_by_type_and_location_not_message(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    client = app.test_client()
    for n in range(5):
        assert client.get(f"/fail/{n}").status_code == 500  # five different messages, one raise site
    for n in range(2):
        assert client.get(f"/other/{n}").status_code == 500  # the same type raised elsewhere
    assert client.get("/key").status_code == 500  # another type
    stored = {g["exception_type"]: g for g in groups(app) if g["exception_type"] != "ValueError"}
    by_location = {g["location"].rsplit(":", 1)[1]: g for g in groups(app) if g["exception_type"] == "ValueError"}
    assert set(by_location) == {"exc_app.<locals>.fail", "other_raiser"}
    fail, other = by_location["exc_app.<locals>.fail"], by_location["other_raiser"]
    assert fail["count"] == 5 and fail["message"] == "bad value 4" and fail["resolved_at"] is None
    assert other["count"] == 2 and other["message"] == "from elsewhere 1"
    assert set(stored) == {"KeyError"} and stored["KeyError"]["count"] == 1
    assert fail["location"].endswith("test_exception_capture.py:exc_app.<locals>.fail")  # (relative to sys.path)
    assert len({fail["fingerprint"], other["fingerprint"], stored["KeyError"]["fingerprint"]}) == 3
    assert (fail["id"], "fail", "1.0", 5) in days(app)
    stats = fmd.stats(app)
    assert stats["exceptions"] == 8 and stats["events"] == 0 and stats["rows_written"] == 8


def test_an_abort_is_not_an_exception_and_a_handled_4xx_is_not_either(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    client = app.test_client()
    assert client.get("/missing").status_code == 404
    assert client.get("/teapot").status_code == 400
    assert client.get("/nowhere").status_code == 404
    assert groups(app) == [] and fmd.stats(app)["exceptions"] == 0


def test_an_exception_the_app_handles_into_a_500_is_recorded(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    client = app.test_client()
    assert client.get("/broken").status_code == 500
    assert client.get("/teapot").status_code == 400  # (the 400 right after does not pick up anything)
    (group,) = groups(app)
    assert group["exception_type"].endswith("test_exception_capture.Broken") and group["count"] == 1
    assert group["message"] == "handled as a 500"


def test_the_hosts_own_handlers_see_every_exception_and_statuses_are_unchanged(sqlite_url, make_app) -> None:  # noqa: ANN001
    paths = ["/fail/1", "/fail/2", "/key", "/missing", "/teapot", "/broken", "/other/1", "/login"]

    def instrumented() -> tuple[Flask, list, list]:
        app = exc_app()
        handled: list = []
        signalled: list = []

        @app.errorhandler(500)
        def on_500(e: Any) -> tuple[str, int]:
            handled.append(type(getattr(e, "original_exception", e)).__name__)
            return "sorry", 500

        got_request_exception.connect(lambda sender, exception, **kw: signalled.append(type(exception).__name__),
                                      app, weak=False)
        return app, handled, signalled

    bare, bare_handled, bare_signalled = instrumented()
    expected = [(p, bare.test_client().get(p).status_code, bare.test_client().get(p).data) for p in paths]
    app, handled, signalled = instrumented()
    make_app(sqlite_url, app=app)
    got = [(p, app.test_client().get(p).status_code, app.test_client().get(p).data) for p in paths]
    assert got == expected
    assert [s for _, s, _ in got] == [500, 500, 500, 404, 400, 500, 500, 500]
    assert handled == bare_handled and signalled == bare_signalled
    assert handled.count("ValueError") == 6 and signalled.count("Broken") == 0  # (a handled one is not signalled)
    assert sum(g["count"] for g in groups(app)) == 12  # six failing paths twice each; /missing, /teapot not


def test_propagating_apps_reraise_and_still_record(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = exc_app()
    app.testing = True  # PROPAGATE_EXCEPTIONS: the test client gets the exception itself
    make_app(sqlite_url, app=app)
    with pytest.raises(ValueError, match="bad value 7"):
        app.test_client().get("/fail/7")
    (group,) = groups(app)
    assert group["count"] == 1 and group["message"] == "bad value 7"


def test_an_exception_raised_while_a_stream_is_iterated_is_recorded(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    response = app.test_client().get("/stream")
    with pytest.raises(RuntimeError, match="the stream failed midway"):
        response.get_data()
    (group,) = groups(app)
    assert group["exception_type"] == "RuntimeError" and group["message"] == "the stream failed midway"
    assert group["location"].endswith(":exc_app.<locals>.stream.<locals>.body")
    assert days(app) == [(group["id"], "stream", "1.0", 1)]



def test_an_exception_handled_at_level_0_is_not_pinned_on_a_later_5xx(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = exc_app()

    @app.route("/busy")
    def busy() -> tuple[str, int]:
        return "try later", 503  # a 5xx without any exception

    make_app(sqlite_url, app=app)
    fmd.set_level("teapot", 0, app=app)
    client = app.test_client()  # (one thread: both requests run on this test's thread)
    assert client.get("/teapot").status_code == 400
    assert client.get("/busy").status_code == 503
    assert groups(app) == []

# --- fmd.capture -------------------------------------------------------------------------------------------


def test_capture_outside_a_request_is_an_event(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    try:
        int("not a number")
    except ValueError:
        assert fmd.capture() is True
    (group,) = groups(app)
    assert group["exception_type"] == "ValueError" and group["location"].endswith(
        ":test_capture_outside_a_request_is_an_event")
    assert days(app) == [(group["id"], None, "1.0", 1)]
    stats = fmd.stats(app)
    assert stats["events"] == 1 and stats["exceptions"] == 1 and stats["rows_written"] == 0
    assert fmd.capture() is False  # nothing being handled: nothing to record


def test_capture_inside_a_monitored_request_counts_for_its_endpoint(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    assert app.test_client().get("/captured").data == b"handled"
    (group,) = groups(app)
    assert group["exception_type"] == "KeyError"
    assert days(app) == [(group["id"], "captured", "1.0", 1)]
    assert fmd.stats(app)["rows_written"] == 1  # the request itself, a 200


def test_capture_of_an_unprintable_exception_does_not_raise(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    assert fmd.capture(Unprintable(), app=app) is True  # never raised: no traceback, no frames
    (group,) = groups(app)
    assert group["message"] == "<unprintable Unprintable object>"
    assert json.loads(group["traceback"])["message"] == "<unprintable Unprintable object>"
    assert fmd.stats(app)["internal_errors"] == 0


# --- tracebacks ------------------------------------------------------------------------------------------------


def test_traceback_locals_are_redacted(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    assert app.test_client().get("/login?pw=hunter2").status_code == 500
    (group,) = groups(app)
    assert "hunter2" not in group["traceback"]
    traceback = json.loads(group["traceback"])
    view = traceback["frames"][-1]
    assert view["function"] == "exc_app.<locals>.login" and view["app"] is True
    assert view["locals"] == {"password": "[redacted]", "attempts": "3"}
    assert [n for n, text in view["context"] if "raise PermissionError" in text]



def test_a_chained_exceptions_message_is_redacted(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    assert app.test_client().get("/chained?dsn=postgresql://app:hunter2@db/x").status_code == 500
    (group,) = groups(app)
    cause = json.loads(group["traceback"])["cause"]
    assert cause["type"] == "ConnectionError" and "postgresql://app:[redacted]@db/x" in cause["message"]
    assert "hunter2" not in group["traceback"]

def _traceback_at(app: Flask) -> tuple:
    (group,) = groups(app)
    return group["traceback_at"], group["last_seen"], group["count"]


def test_the_traceback_is_refreshed_at_most_once_a_minute(sqlite_url, make_app, monkeypatch) -> None:  # noqa: ANN001
    app = bound(make_app, sqlite_url)
    client = app.test_client()
    client.get("/fail/1")
    first_at, first_seen, _ = _traceback_at(app)
    assert first_at == first_seen
    time.sleep(0.01)
    client.get("/fail/2")
    at, seen, count = _traceback_at(app)
    assert count == 2 and seen > first_seen and at == first_at  # not replaced
    assert json.loads(groups(app)[0]["traceback"])["message"] == "bad value 1"
    monkeypatch.setattr(fmd.instrument.exceptions, "REFRESH_S", 0.0)
    client.get("/fail/3")
    at, seen, count = _traceback_at(app)
    assert count == 3 and at == seen and at > first_at
    assert json.loads(groups(app)[0]["traceback"])["message"] == "bad value 3"


# --- resolved groups, by version ---------------------------------------------------------------------------------


def test_a_resolved_group_reopens_only_in_a_new_version(tmp_path, make_app) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    old = bound(make_app, url, app_version="1.0")
    old.test_client().get("/fail/1")
    (group,) = groups(old)
    store = old.extensions["fmd"].store
    g = store.tables.exception_group
    with store.write() as conn:
        conn.execute(update(g).where(g.c.id == group["id"]).values(resolved_at=group["last_seen"],
                                                                   resolved_versions='["1.0"]'))
    old.test_client().get("/fail/2")  # the same version again: it stays resolved
    (group,) = groups(old)
    assert group["count"] == 2 and group["resolved_at"] is not None and group["resolved_versions"] == '["1.0"]'
    new = bound(make_app, url, app_version="2.0")  # another process, deployed later, on the same database
    assert new.test_client().get("/fail/3").status_code == 500
    (group,) = groups(new)
    assert group["count"] == 3 and group["resolved_at"] is None and group["resolved_versions"] is None
    assert group["last_version"] == "2.0"
    assert days(new) == [(group["id"], "fail", "1.0", 2), (group["id"], "fail", "2.0", 1)]


# --- hostile values ------------------------------------------------------------------------------------------------


def test_a_poison_message_is_stored_sanitised(db_url, make_app) -> None:  # noqa: ANN001
    app = bound(make_app, db_url)
    client = app.test_client()
    for _ in range(2):
        assert client.get("/poison").status_code == 500
    (group,) = groups(app)
    assert group["count"] == 2 and group["message"].startswith("nul") and group["message"].endswith("surrogate")
    assert "\x00" not in group["message"] and "\udcff" not in group["message"]
    traceback = json.loads(group["traceback"])
    assert "\x00" not in traceback["message"] and traceback["message"].endswith("surrogate")
    stats = fmd.stats(app)
    assert stats["failed_writes"] == 0 and stats["lost_attachments"] == 0 and stats["exceptions"] == 2
