"""Every status path yields exactly one row with the status the client really got."""

from __future__ import annotations

from sqlalchemy import select

import fmd


def rows(app) -> list[tuple]:  # noqa: ANN001
    state = app.extensions["fmd"]
    assert state.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.endpoint.c.name, t.request.c.status_code).join(t.endpoint).order_by(t.request.c.id))]


def test_status_paths(db_url, make_app) -> None:  # noqa: ANN001
    app = make_app(db_url)
    client = app.test_client()
    got = {path: client.get(path).status_code for path in ["/", "/tuple", "/boom", "/missing", "/redirect"]}
    assert got == {"/": 200, "/tuple": 200, "/boom": 500, "/missing": 404, "/redirect": 302}
    assert rows(app) == [("index", 200), ("tuple_view", 200), ("boom", 500), ("missing", 404), ("moved", 302)]


def test_custom_500_handler_status_is_recorded(sqlite_url, make_app) -> None:  # noqa: ANN001
    from conftest import host_app

    app = host_app()

    @app.errorhandler(500)
    def unavailable(_e):  # noqa: ANN001, ANN202
        return "down for maintenance", 503

    make_app(sqlite_url, app=app)
    assert app.test_client().get("/boom").status_code == 503
    assert rows(app) == [("boom", 503)]


def test_propagated_exception_is_a_500(sqlite_url, make_app) -> None:  # noqa: ANN001
    from conftest import host_app

    app = host_app()
    app.config["TESTING"] = True  # Flask re-raises instead of answering 500
    make_app(sqlite_url, app=app)
    try:
        app.test_client().get("/boom")
    except RuntimeError:
        pass
    assert rows(app) == [("boom", 500)]


def test_stats_after_flush(sqlite_url, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    client = app.test_client()
    for _ in range(20):
        client.get("/")
    assert fmd.flush(10)
    stats = fmd.stats(app)
    assert stats["rows_written"] == 20 and stats["dropped"] == 0 and stats["queue_length"] == 0
