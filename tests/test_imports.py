"""What each path imports (issue 8 item 5): memory per worker is mostly the modules it loaded.

Each check runs in a fresh interpreter, since this one has imported everything already. Recording on a
database whose schema is at head loads SQLAlchemy Core and the dialect in use, nothing of the dashboard,
Alembic, Altair or other databases' dialects; the overview page loads no chart library. The figures these
lists stand for are measured by ``tests/benchmarks/memory.py`` (README, Performance).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Never loaded by recording alone (schema at head), nor by a repair of a table that went missing.
NOT_FOR_RECORDING = ["alembic", "altair", "scipy", "jsonschema", "numpy", "pandas", "flask_login", "flask_wtf",
                     "wtforms", "sqlalchemy.orm", "sqlalchemy.dialects.mysql", "sqlalchemy.dialects.postgresql",
                     "fmd.blueprints", "fmd.auth", "fmd.charts", "fmd.queries"]

HOST = textwrap.dedent("""
    import json, logging, sys
    from flask import Flask
    import fmd

    logging.getLogger("fmd").setLevel(logging.ERROR)
    app = Flask("host")

    @app.route("/")
    def hello():
        return "Hello, World!"

    state = fmd.bind(app, database="sqlite:///" + sys.argv[1], password="a-long-password")
    client = app.test_client()

    def report(**extra):
        print(json.dumps({"modules": sorted(sys.modules), **extra}))
""")

MIGRATE = HOST + "state.store.ensure_schema()\nreport()\n"

RECORD = HOST + textwrap.dedent("""
    for _ in range(200):
        assert client.get("/").status_code == 200
    assert fmd.flush(30)
    report(rows=state.stats()["rows_written"])
""")

# A database stamped at head that lost a table: the repair creates it from the metadata, without Alembic.
REPAIR = HOST + textwrap.dedent("""
    import sqlite3
    with sqlite3.connect(sys.argv[1]) as conn:
        conn.execute("DROP TABLE fmd_meta")
    state.store.ensure_schema()
    with sqlite3.connect(sys.argv[1]) as conn:
        meta = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'fmd_meta'").fetchone()[0]
    report(meta=meta)
""")

OVERVIEW = RECORD.replace("report(rows=", "rows = (") + textwrap.dedent("""
    import re
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    login = client.post("/dashboard/login", data={"csrf_token": token, "username": "admin",
                                                  "password": "a-long-password"})
    overview = client.get("/dashboard/overview")
    report(login=login.status_code, overview=overview.status_code, body="hello" in overview.get_data(as_text=True))
""")


def run(code: str, db: Path) -> dict:
    """Run *code* in a fresh interpreter with *db*; its last line is the JSON it reports."""
    out = subprocess.run([sys.executable, "-c", code, str(db)], cwd=db.parent, capture_output=True, text=True,
                         timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def at_head(tmp_path: Path) -> Path:
    """An SQLite file whose fmd schema is at head (migrated by another process, as before a deploy)."""
    db = tmp_path / "fmd.db"
    assert "alembic" in run(MIGRATE, db)["modules"]  # the migration itself does use Alembic
    return db


def loaded(report: dict, names: list[str]) -> list[str]:
    return [name for name in names if name in report["modules"]]


def test_recording_at_head_loads_neither_the_dashboard_nor_alembic_nor_other_dialects(at_head: Path) -> None:
    report = run(RECORD, at_head)
    assert report["rows"] == 200
    assert "sqlalchemy" in report["modules"] and "sqlalchemy.dialects.sqlite" in report["modules"]
    assert loaded(report, NOT_FOR_RECORDING) == []


def test_repairing_a_missing_table_at_head_does_not_load_alembic(at_head: Path) -> None:
    report = run(REPAIR, at_head)
    assert report["meta"] == 1
    assert loaded(report, ["alembic", "sqlalchemy.dialects.mysql", "sqlalchemy.dialects.postgresql"]) == []


@pytest.mark.slow
def test_the_overview_page_loads_no_chart_or_statistics_library(at_head: Path) -> None:
    report = run(OVERVIEW, at_head)
    assert report["login"] == 302 and report["overview"] == 200 and report["body"]
    assert "fmd.blueprints" in report["modules"] and "flask_login" in report["modules"]  # the dashboard ran
    assert loaded(report, ["altair", "jsonschema", "scipy", "numpy", "pandas", "alembic"]) == []
