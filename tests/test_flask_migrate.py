"""A host with Flask-SQLAlchemy and Flask-Migrate on the database fmd writes to (issue 7, item 13): the host's
``flask db migrate`` generates nothing about fmd's tables, ``flask db upgrade`` leaves them in place, and a
filter the host gave Flask-Migrate still applies. Run as a user does: the ``flask`` command in a subprocess
(Flask-Migrate's env.py reconfigures logging, which must not leak into this test process)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import fmd
from fmd.store import schema
from fmd.store.engine import make_engine

ROOT = Path(__file__).resolve().parents[1]

HOST = '''
import fmd
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

URL = {url!r}
db = SQLAlchemy()


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.String(200))


def host_filter(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name == "host_scratch")  # a table the host keeps out of its migrations


def create_app(order):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = URL
    db.init_app(app)

    @app.route("/")
    def index():
        return "hello"

    if order == "migrate_first":
        Migrate(app, db, directory={migrations!r}, include_object=host_filter)
    fmd.bind(app, database=URL, flush_interval=0.05)
    if order == "bind_first":  # a factory that sets up Flask-Migrate after fmd
        Migrate(app, db, directory={migrations!r}, include_object=host_filter)
    return app
'''

CLI = '''
import json, sys
from hostapp import create_app

runner = create_app(sys.argv[1]).test_cli_runner()
steps = []
for args in (["db", "init"], ["db", "migrate", "-m", "host"], ["db", "upgrade"], ["db", "migrate", "-m", "again"]):
    result = runner.invoke(args=args)
    steps.append([args, result.exit_code, result.output, repr(result.exception)])
print(json.dumps(steps))
'''


@pytest.mark.slow
@pytest.mark.parametrize("order", ["migrate_first", "bind_first"])
def test_the_hosts_flask_db_migrate_never_touches_fmds_tables(tmp_path: Path, order: str) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrations = tmp_path / "host_migrations"
    (tmp_path / "hostapp.py").write_text(HOST.format(url=url, migrations=str(migrations)))
    (tmp_path / "cli.py").write_text(CLI)

    # fmd's tables exist and hold a row: one request through an app built by the host's factory.
    spec = importlib.util.spec_from_file_location(f"hostapp_{order}", tmp_path / "hostapp.py")
    host = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(host)
    app = host.create_app(order)
    assert app.test_client().get("/").status_code == 200
    assert fmd.flush(20)
    app.extensions["fmd"].close(5)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE host_scratch (id INTEGER PRIMARY KEY)"))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    run = subprocess.run([sys.executable, "cli.py", order], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    steps = json.loads(run.stdout.strip().splitlines()[-1])
    assert [s[1] for s in steps] == [0, 0, 0, 0], steps

    revisions = list((migrations / "versions").glob("*.py"))
    assert len(revisions) == 1, [r.name for r in revisions]  # the second migrate found nothing to do
    script = revisions[0].read_text()
    assert "create_table('note'" in script  # the host's own model is migrated ...
    assert "fmd_" not in script  # ... and nothing of fmd's: no drop_table, no index, no version table
    assert "host_scratch" not in script  # the host's own filter still applies

    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert {"note", "host_scratch", "alembic_version", schema.version_table("fmd_")} <= names
            assert schema.missing_tables(conn, "fmd_") == []
            assert conn.execute(text("SELECT COUNT(*) FROM fmd_request")).scalar() == 1
            assert conn.execute(text("SELECT version_num FROM fmd_alembic_version")).scalar() == schema.HEAD
            host_revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            assert host_revision and host_revision in script
    finally:
        engine.dispose()
