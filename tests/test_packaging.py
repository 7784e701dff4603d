"""The wheel built from this tree holds everything fmd needs, and an app using it (not the editable checkout)
records requests into a database it creates at the head revision."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fmd.store.schema import HEAD

ROOT = Path(__file__).resolve().parents[1]
#: What a build reads from the tree (everything else, e.g. tests/, stays out of the wheel).
BUILD_INPUTS = ["pyproject.toml", "setup.cfg", "setup.py", "README.md", "fmd", "migrations"]
pytestmark = pytest.mark.slow


def source_files() -> dict[str, Path]:
    """Every file of fmd/ and migrations/ in the tree, keyed by its path inside the wheel."""
    found: dict[str, Path] = {}
    for top, wheel_top in (("fmd", "fmd"), ("migrations", "fmd/migrations")):
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                found[f"{wheel_top}/{path.relative_to(ROOT / top).as_posix()}"] = path
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the tree (the build writes build/ and *.egg-info next to its input)."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path_factory.mktemp("dist")
    # An isolated build, as `pip install .` from a fresh clone does: pyproject's build requirements must be enough.
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = dist.glob("fmd-*.whl")
    return built


def test_wheel_holds_every_module_template_static_file_and_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = source_files()
    missing = sorted(set(expected) - names)
    assert not missing, f"in the tree but not in the wheel (a package missing its __init__.py?): {missing}"
    for needed in ["fmd/migrations/env.py", "fmd/migrations/script.py.mako", "fmd/migrations/versions/__init__.py",
                   "fmd/templates/fmd/base.html"]:
        assert needed in names
    assert any(n.startswith("fmd/migrations/versions/") and n.endswith(".py") and not n.endswith("__init__.py")
               for n in names)
    vendored = [n for n in names if n.startswith("fmd/static/fmd/vendor/") and n.endswith(".min.js")]
    licences = [n for n in names if n.startswith("fmd/static/fmd/vendor/LICENSES/")]
    assert len(vendored) >= 4 and len(licences) >= len(vendored)
    assert not [n for n in names if n.startswith(("tests/", "migrations/")) or "__pycache__" in n]


HOST = """
import json
from pathlib import Path
from flask import Flask
import fmd
from fmd.store import schema

app = Flask("wheelhost")

@app.route("/")
def index():
    return "hello from the host"

fmd.bind(app, table_prefix="whl_")  # the database comes from FMD_DATABASE
"""

RUN = HOST + """
client = app.test_client()
vendor = sorted((Path(fmd.__file__).parent / "static" / "fmd" / "vendor").glob("*.min.js"))[0]
got = {
    "host": [client.get("/").status_code for _ in range(3)],
    "login": client.get("/dashboard/login").status_code,
    "static": client.get("/dashboard/static/fmd/vendor/" + vendor.name).data == vendor.read_bytes(),
    "flushed": fmd.flush(10),
    "fmd_file": fmd.__file__,
    "scripts": str(schema.scripts_dir()),
}
print(json.dumps(got))
"""


def dependency_dirs() -> list[str]:
    """The site-packages directories of the environment running the tests (a user's venv, the system's, ...)."""
    return [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]


def link_dependencies(python: Path) -> None:
    """Let the new venv import fmd's dependencies from this environment, offline, whatever kind it is.

    A plain path line in a ``.pth`` file adds the directory after the venv's own site-packages (so the wheel's
    fmd comes first) without running the ``.pth`` files found there: an editable install of this checkout
    (``__editable__.fmd-*.pth``) stays inactive in the venv. ``--system-site-packages`` would instead see the
    base interpreter only, which lacks the dependencies when they were installed into a virtualenv.
    """
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(site) / "_fmd_test_dependencies.pth").write_text("\n".join(dependency_dirs()) + "\n")


def test_installed_wheel_records_into_a_new_database(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    link_dependencies(python)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PYTHONNOUSERSITE"] = "1"
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall",
                           str(wheel)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr

    work = tmp_path / "elsewhere"  # not the checkout: nothing may be imported from it
    work.mkdir()
    (work / "run.py").write_text(RUN)
    (work / "wheelhost.py").write_text(HOST)
    env["FMD_DATABASE"] = f"sqlite:///{work / 'fmd.db'}"
    done = subprocess.run([str(python), "run.py"], cwd=work, capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    site = str(venv.resolve())
    assert got["fmd_file"].startswith(site) and got["scripts"].startswith(site), got
    assert got["host"] == [200, 200, 200] and got["login"] == 200 and got["static"] and got["flushed"]

    with sqlite3.connect(work / "fmd.db") as conn:
        assert conn.execute("SELECT version_num FROM whl_alembic_version").fetchall() == [(HEAD,)]
        assert conn.execute("SELECT e.name, COUNT(*) FROM whl_request r JOIN whl_endpoint e ON e.id = r.endpoint_id"
                            " GROUP BY e.name").fetchall() == [("index", 3)]

    # The installed command line, run against the same database.
    cli = subprocess.run([str(python), "-m", "flask", "--app", "wheelhost:app", "fmd", "db", "upgrade"], cwd=work,
                         capture_output=True, text=True, env=env, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"revision {HEAD} (already at head)" in cli.stdout
