"""``flask fmd report`` through Flask's CLI runner: exit codes 0/1/2/3, text and JSON, versions and ranges."""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import Flask

from rollup_data import record

NOW = time.time()


def durations(n: int, median: float, seed: int) -> list[float]:
    rnd = random.Random(seed)
    return [median * rnd.lognormvariate(0, 0.4) for _ in range(n)]


def seed(app: Flask, version: str, medians: dict[str, float], n: int, hours_ago: float, seed_: int,
         errors: int = 0) -> None:
    """*n* requests per endpoint spread over the hour ending *hours_ago* hours before now."""
    rows = []
    for k, (name, median) in enumerate(sorted(medians.items())):
        for i, d in enumerate(durations(n, median, seed_ * 100 + k)):
            rows.append((name, d, NOW - hours_ago * 3600 - 3000 * i / n, 500 if i < errors else 200))
    record(app.extensions["fmd"].store, rows, version=version)


@pytest.fixture
def app(sqlite_url: str, make_app) -> Flask:  # noqa: ANN001
    app = make_app(sqlite_url)
    app.extensions["fmd"].store.ensure_schema()
    return app


def invoke(app: Flask, *args: str):  # noqa: ANN201
    return app.test_cli_runner().invoke(args=["fmd", "report", *args])


def test_versions_with_a_regression_exit_1_and_name_it(app: Flask) -> None:
    seed(app, "1.0", {"api.a": 0.05, "api.b": 0.02}, 300, 30, 1)
    seed(app, "1.1", {"api.a": 0.07, "api.b": 0.02}, 300, 2, 2)
    result = invoke(app, "--baseline-version", "1.0", "--candidate-version", "1.1")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Baseline:  version 1.0" and lines[1] == "Candidate: version 1.1"
    first = next(line for line in lines if line.startswith(("REGRESSION", "UNCHANGED")))
    assert first.startswith("REGRESSION") and "api.a" in first and "median +" in result.output
    assert "1 regression, 0 improvement, 1 unchanged, 0 insufficient -> exit 1" in result.output


def test_no_regression_exits_0_and_json_has_every_endpoint(app: Flask) -> None:
    seed(app, "1.0", {"api.a": 0.05, "api.b": 0.02}, 300, 30, 1)
    seed(app, "1.1", {"api.a": 0.05, "api.b": 0.015}, 300, 2, 2)
    result = invoke(app, "--baseline-version", "1.0", "--candidate-version", "1.1", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["outcome"] == "ok" and body["exit_code"] == 0
    assert body["baseline"] == {"version": "1.0", "label": "version 1.0"}
    assert [(e["endpoint"], e["verdict"]) for e in body["endpoints"]] == [("api.b", "improvement"),
                                                                          ("api.a", "unchanged")]
    a = body["endpoints"][1]
    assert a["baseline"]["requests"] == 300 and 0.04 < a["baseline"]["median"] < 0.06
    assert a["error_test"] == "none" and 0 <= a["p_duration"] <= 1


def test_default_is_the_last_24_hours_against_the_24_before(app: Flask) -> None:
    seed(app, "1.0", {"api.a": 0.05}, 200, 30, 1, errors=2)
    seed(app, "1.0", {"api.a": 0.05}, 200, 3, 2, errors=40)
    result = invoke(app)
    assert result.exit_code == 1, result.output
    assert "Baseline:  the 24 hours before" in result.output and "errors 1.0% -> 20.0%" in result.output
    assert "errors +19.0 points" in result.output


def test_explicit_ranges_in_utc_with_a_minimum_effect(app: Flask) -> None:
    seed(app, "1.0", {"api.a": 0.05}, 300, 30, 1)
    seed(app, "1.0", {"api.a": 0.065}, 300, 3, 2)
    now = datetime.fromtimestamp(NOW, timezone.utc)
    fmt = "%Y-%m-%dT%H:%MZ"

    def rng(a: float, b: float) -> str:
        return f"{now - timedelta(hours=a):{fmt}}..{now - timedelta(hours=b):{fmt}}"

    args = ["--baseline-range", rng(32, 28), "--candidate-range", rng(5, 1)]
    first = invoke(app, *args)
    assert first.exit_code == 1, first.output
    result = invoke(app, *args, "--min-effect", "50", "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["params"]["min_effect"] == 0.5 and body["candidate"]["hours"] == 5
    assert body["endpoints"][0]["verdict"] == "unchanged" and "less than 50%" in body["endpoints"][0]["reasons"][0]


def test_too_few_requests_exit_3(app: Flask) -> None:
    seed(app, "1.0", {"api.a": 0.05}, 300, 30, 1)
    seed(app, "1.1", {"api.a": 0.5}, 10, 2, 2)
    result = invoke(app, "--baseline-version", "1.0", "--candidate-version", "1.1")
    assert result.exit_code == 3, result.output
    assert "0 regression, 0 improvement, 0 unchanged, 1 insufficient -> exit 3" in result.output
    assert "Too few requests" in result.output
    result = invoke(app, "--baseline-version", "1.0", "--candidate-version", "9.9")  # not deployed yet
    assert result.exit_code == 3 and "Versions recorded: 1.1 (10 requests), 1.0 (300 requests)" in result.output
    assert invoke(app, "--baseline-range", "2001-01-01..2001-01-01", "--candidate-range",
                  "2001-01-02..2001-01-02").exit_code == 3  # nothing recorded at all
    assert invoke(app, "--baseline-version", "1.0", "--candidate-version", "1.1",
                  "--min-requests", "5").exit_code == 1


@pytest.mark.parametrize("args, message", [
    (["--baseline-version", "1.0"], "needs both --baseline-version and --candidate-version"),
    (["--candidate-range", "2024-01-01..2024-01-02"], "needs both --baseline-range and --candidate-range"),
    (["--baseline-version", "1", "--candidate-version", "2", "--baseline-range", "2024-01-01..2024-01-02"],
     "not both"),
    (["--baseline-version", "1.0", "--candidate-version", "1.0"], "same version"),
    (["--baseline-range", "2024-01-01", "--candidate-range", "2024-01-02..2024-01-03"], "START..END"),
    (["--baseline-range", "2024-01-05..2024-01-01", "--candidate-range", "2024-01-02..2024-01-03"],
     "before it starts"),
    (["--baseline-range", "last week..now", "--candidate-range", "2024-01-02..2024-01-03"], "not a date"),
    (["--format", "xml"], "'xml' is not one of"),
    (["--alpha", "1.5"], "--alpha"),
])
def test_bad_arguments_exit_2_with_a_message(app: Flask, args: list[str], message: str) -> None:
    result = invoke(app, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_an_app_without_fmd_exits_2() -> None:
    result = Flask("bare").test_cli_runner().invoke(args=["fmd", "report"])
    assert result.exit_code == 2  # no fmd group at all: click's "No such command"


def test_a_disabled_fmd_exits_2_not_1(make_app, sqlite_url: str) -> None:  # noqa: ANN001
    app = make_app(sqlite_url, enabled=False)
    result = invoke(app)
    assert result.exit_code == 2 and "disabled" in result.output


def test_a_database_that_cannot_be_read_exits_2_not_1(tmp_path, make_app) -> None:  # noqa: ANN001
    app = make_app(f"sqlite:///{tmp_path}/missing-dir/fmd.db")
    result = invoke(app)
    assert result.exit_code == 2, result.output  # a CI gate must not read an outage as a regression
    assert "cannot read fmd's database" in result.output
