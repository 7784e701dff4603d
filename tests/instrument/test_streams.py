"""Streamed responses are timed until the server closed their body; a stream failing midway is a 500."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import Iterator

import pytest
from flask import Flask, Response, abort, send_file, stream_with_context
from sqlalchemy import select
from werkzeug.serving import make_server

import fmd


def _app(tmp_path) -> Flask:  # noqa: ANN001
    app = Flask("streams")
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2_000_000)

    @app.route("/stream")
    def stream() -> Response:
        def body() -> Iterator[str]:
            for _ in range(3):
                time.sleep(0.1)
                yield "chunk\n"
        return Response(stream_with_context(body()), mimetype="text/plain")

    @app.route("/events")
    def events() -> Response:
        def body() -> Iterator[str]:
            for n in range(3):
                time.sleep(0.1)
                yield f"data: {n}\n\n"
        return Response(body(), mimetype="text/event-stream")

    @app.route("/broken")
    def broken() -> Response:
        def body() -> Iterator[str]:
            yield "first part\n"
            time.sleep(0.1)
            raise RuntimeError("the stream failed midway")
        return Response(body(), mimetype="text/plain")

    @app.route("/file")
    def file() -> Response:
        return send_file(big)

    @app.route("/quick")
    def quick() -> str:
        return "quick"

    @app.route("/gone")
    def gone() -> str:
        abort(410)

    return app


def _recorded(app: Flask) -> dict[str, tuple[float, int]]:
    state = app.extensions["fmd"]
    t = state.store.tables
    with state.store.read() as conn:
        rows = conn.execute(select(t.endpoint.c.name, t.request.c.duration, t.request.c.status_code)
                            .join(t.endpoint, t.endpoint.c.id == t.request.c.endpoint_id))
        return {name: (duration, status) for name, duration, status in rows}


@pytest.fixture
def served(tmp_path, sqlite_url):  # noqa: ANN001, ANN201
    """The app on a real WSGI server (werkzeug's, threaded), as a browser meets it."""
    app = _app(tmp_path)
    fmd.bind(app, database=sqlite_url, flush_interval=0.05)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["fmd"].close(5)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except Exception as exc:  # noqa: BLE001 - a cut-off stream: the client saw a broken response
        return -1, repr(exc).encode()


def test_streams_are_timed_until_closed_and_a_failing_one_is_a_500(served) -> None:  # noqa: ANN001
    app, base = served
    assert _get(base + "/stream") == (200, b"chunk\n" * 3)
    assert _get(base + "/events")[0] == 200
    status, body = _get(base + "/file")
    assert status == 200 and len(body) == 2_000_000
    assert _get(base + "/broken")[0] in (200, -1)  # headers went out before the failure
    assert _get(base + "/quick") == (200, b"quick")
    assert _get(base + "/gone")[0] == 410
    assert fmd.flush(10)
    recorded = _recorded(app)
    assert recorded["stream"][1] == 200 and recorded["stream"][0] >= 0.3
    assert recorded["events"][1] == 200 and recorded["events"][0] >= 0.3
    assert recorded["broken"] == (pytest.approx(recorded["broken"][0]), 500) and recorded["broken"][0] >= 0.1
    assert recorded["file"][1] == 200
    assert recorded["quick"] == (pytest.approx(recorded["quick"][0]), 200) and recorded["quick"][0] < 0.1
    assert recorded["gone"][1] == 410
    assert fmd.stats(app)["rows_written"] == 6


def test_a_test_client_stream_is_recorded_when_read_or_dropped(tmp_path, sqlite_url) -> None:  # noqa: ANN001
    """Host test suites: a streamed response read with .data, or never read at all, is still recorded once."""
    app = _app(tmp_path)
    fmd.bind(app, database=sqlite_url, flush_interval=0.05)
    try:
        client = app.test_client()
        assert client.get("/stream").data == b"chunk\n" * 3
        client.get("/events")  # never read, never closed: recorded when the body is collected
        import gc

        gc.collect()
        assert fmd.flush(10)
        recorded = _recorded(app)
        assert recorded["stream"][0] >= 0.3 and set(recorded) == {"stream", "events"}
        assert fmd.stats(app)["rows_written"] == 2
    finally:
        app.extensions["fmd"].close(5)


def test_a_servers_file_wrapper_keeps_its_type_and_is_recorded_when_closed(tmp_path, sqlite_url) -> None:  # noqa: ANN001
    """send_file under gunicorn: the body stays gunicorn's FileWrapper (its sendfile() checks isinstance)."""
    from gunicorn.http.wsgi import FileWrapper
    from werkzeug.test import EnvironBuilder

    app = _app(tmp_path)
    fmd.bind(app, database=sqlite_url, flush_interval=0.05)
    try:
        environ = EnvironBuilder(path="/file").get_environ()
        environ["wsgi.file_wrapper"] = FileWrapper
        started = []
        body = app(environ, lambda status, headers, exc_info=None: started.append(status))
        assert isinstance(body, FileWrapper) and started == ["200 OK"]
        assert sum(len(chunk) for chunk in body) == 2_000_000
        assert fmd.stats(app)["submitted"] == 0  # not before the server closed it
        body.close()
        assert fmd.flush(10) and _recorded(app)["file"][1] == 200
    finally:
        app.extensions["fmd"].close(5)
