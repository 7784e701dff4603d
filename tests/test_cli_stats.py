"""``flask fmd stats``: rows per fmd table and the recording health, as text and as JSON, after real requests."""

from __future__ import annotations

import json
import os
import re


def invoke(app, *args: str):  # noqa: ANN001, ANN201
    return app.test_cli_runner().invoke(args=["fmd", "stats", *args])


def test_stats_counts_rows_and_health_after_requests(db_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(db_url)
    prefix = app.extensions["fmd"].store.prefix
    client = app.test_client()
    for path in ["/"] * 5 + ["/tuple"] * 2 + ["/nowhere"]:
        client.get(path)
    assert app.extensions["fmd"].flush(10)

    result = invoke(app, "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    tables = got["tables"]
    assert tables[f"{prefix}request"] == 7  # the unrouted request has no row of its own
    assert tables[f"{prefix}endpoint"] == 5  # every route of the host app
    assert tables[f"{prefix}rollup_hour"] == 2  # (index, 200) and (tuple_view, 200) in this hour
    assert tables[f"{prefix}unrouted_hour"] == 1
    health = got["health"]
    assert health["rows_written"] == 7 and health["dropped"] == 0 and health["failed_writes"] == 0
    assert health["submitted"] == 8 and health["queue_length"] == 0
    assert all(name.startswith(prefix) for name in tables)

    text = invoke(app)
    assert text.exit_code == 0, text.output
    assert re.search(rf"^  {prefix}request\s+7$", text.output, flags=re.M), text.output
    assert re.search(r"^  rows_written\s+7$", text.output, flags=re.M), text.output


def test_stats_lists_the_processes_reporting_into_the_database(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    for _ in range(3):
        app.test_client().get("/")
    assert state.flush(10)
    state.recorder.report_health()  # the writer reports every few seconds; at once here
    got = json.loads(invoke(app, "--json").output)
    mine = [p for p in got["processes"] if p["pid"] == os.getpid()]
    assert len(mine) == 1 and mine[0]["rows_written"] == 3, got["processes"]
    text = invoke(app).output
    assert "Processes reporting into this database:" in text and "written 3" in text
