"""``flask fmd purge``, ``flask fmd merge`` and ``flask fmd prune`` through Flask's CLI runner."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from lifecycle_data import add_outliers_and_profiles, counts, request_ids, sums, write

from fmd.store.writes import utcnow

DAY = datetime(2024, 3, 4)


def rows(name: str, when: datetime, n: int) -> list:
    return [(name, 0.01 + i / 1000, when + timedelta(minutes=i), 200, "u", "10.0.0.1") for i in range(n)]


@pytest.fixture
def app(sqlite_url: str, make_app) -> Flask:  # noqa: ANN001
    app = make_app(sqlite_url)
    store = app.extensions["fmd"].store
    store.ensure_schema()
    write(store, rows("a", DAY, 6) + rows("a", DAY + timedelta(days=1), 4) + rows("b", DAY, 3))
    return app


def invoke(app: Flask, *args: str, input: str | None = None):  # noqa: ANN201, A002
    return app.test_cli_runner().invoke(args=["fmd", *args], input=input)


def ids(app: Flask) -> dict[str, int]:
    from sqlalchemy import select

    store = app.extensions["fmd"].store
    with store.read() as conn:
        return dict(conn.execute(select(store.tables.endpoint.c.name, store.tables.endpoint.c.id)).all())


def test_purge_asks_first_and_does_nothing_on_no(app: Flask) -> None:
    store = app.extensions["fmd"].store
    before = counts(store)
    result = invoke(app, "purge", "a", input="n\n")
    assert result.exit_code == 1 and "Delete the recorded data of endpoint 'a'" in result.output
    assert "Aborted" in result.output
    assert counts(store) == before


def test_purge_everything_or_before_a_date(app: Flask) -> None:
    store = app.extensions["fmd"].store
    a = ids(app)["a"]
    result = invoke(app, "purge", "a", "--before", "2024-03-05", "--yes")
    assert result.exit_code == 0, result.output
    assert "before 2024-03-05 00:00:00 UTC" in result.output and "rows deleted" in result.output
    assert sums(store, a)["request"] == 4 and sums(store, a)["rollup_hour"] == 4
    result = invoke(app, "purge", str(a), input="y\n")  # by id, confirmed
    assert result.exit_code == 0, result.output
    assert sums(store, a) == dict.fromkeys(sums(store, a), 0)
    assert sums(store, ids(app)["b"])["request"] == 3


def test_purge_rejects_bad_input_with_a_message(app: Flask) -> None:
    result = invoke(app, "purge", "nope", "--yes")
    assert result.exit_code == 1 and "no endpoint 'nope' is stored" in result.output
    result = invoke(app, "purge", "a", "--before", "yesterday", "--yes")
    assert result.exit_code == 2 and "--before" in result.output


def test_merge(app: Flask) -> None:
    store = app.extensions["fmd"].store
    before = {k: v + sums(store, ids(app)["b"])[k] for k, v in sums(store, ids(app)["a"]).items()}
    result = invoke(app, "merge", "a", "b", "--yes")
    assert result.exit_code == 0, result.output
    assert "Merged 'a' into 'b': " in result.output
    assert set(ids(app)) == {"b"} and sums(store, ids(app)["b"]) == before


def test_merge_into_itself_or_unknown_is_refused(app: Flask) -> None:
    result = invoke(app, "merge", "a", "a", "--yes")
    assert result.exit_code == 1 and "into itself" in result.output
    result = invoke(app, "merge", "a", "zzz", "--yes")
    assert result.exit_code == 1 and "no endpoint 'zzz'" in result.output
    result = invoke(app, "merge", "a", "b", input="n\n")
    assert result.exit_code == 1 and set(ids(app)) == {"a", "b"}


def test_prune_dry_run_then_for_real(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, retention_requests_days=10)
    store = app.extensions["fmd"].store
    store.ensure_schema()
    now = utcnow()
    write(store, rows("a", now - timedelta(days=20), 7) + rows("a", now - timedelta(hours=2), 2))
    add_outliers_and_profiles(store, request_ids(store, ids(app)["a"])[:1])
    result = invoke(app, "prune", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "raw requests" in result.output and " 7\n" in result.output and " 1\n" in result.output
    assert counts(store)["request"] == 9
    result = invoke(app, "prune")
    assert result.exit_code == 0, result.output
    assert "Pruning" in result.output and "Deleted:" in result.output
    assert counts(store)["request"] == 2 and counts(store)["outlier"] == 0
    assert invoke(app, "prune").output.strip() == "Nothing to prune."
