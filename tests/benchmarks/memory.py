"""What fmd costs each worker in memory: gunicorn sync workers, bare against fmd, measured in one run.

    python tests/benchmarks/memory.py [--requests 1000] [--workers 2]

Three runs of one small host app under ``gunicorn -k sync``: (a) bare; (b) fmd bound to an SQLite file whose
schema is already at head (recording only: no Alembic); (c) fmd on an empty file (one worker migrates). Each run
serves N requests at concurrency 4, waits until fmd has stored them, then reads every worker's RSS, USS and
PSS (psutil, the master's children). In (b) one worker then serves a dashboard chart (logged in through the
form) and is measured again. A route of the host app reports which heavy modules each worker has imported,
so the migrating and the charting worker are named by what they loaded, not guessed from their size.

Then, in fresh interpreters with the test client: the modules the recording path adds to a bare app's
``sys.modules`` after N requests (schema at head), with their import cost from ``python -X importtime``.
Prints one JSON line (MB = 2**20 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"recording_delta_rss_mb": 20.0}
#: Modules whose presence in a worker says what it did (migrated, drew a chart, served the dashboard).
WATCH = ["sqlalchemy", "sqlalchemy.orm", "sqlalchemy.dialects.mysql", "sqlalchemy.dialects.postgresql",
         "alembic", "altair", "jsonschema", "scipy", "numpy", "pandas", "flask_login", "flask_wtf", "wtforms",
         "fmd.blueprints", "fmd.auth", "fmd.charts", "fmd.queries"]
PASSWORD = "bench-password-1"

HOST_APP = textwrap.dedent("""
    import json, os, sys
    from flask import Flask

    app = Flask("host")

    @app.route("/")
    def hello():
        return "Hello, World!"

    @app.route("/_modules")
    def modules():
        return {"pid": os.getpid(), "modules": {m: m in sys.modules for m in json.loads(os.environ["WATCH"])}}

    if os.environ.get("BENCH_DB"):
        import logging
        import fmd

        logging.getLogger("fmd").setLevel(logging.ERROR)
        fmd.bind(app, database="sqlite:///" + os.environ["BENCH_DB"], password=os.environ["BENCH_PASSWORD"])
""")

# Runs in a fresh interpreter: what the recording path adds to a bare app's modules after N requests.
MODULES_PROBE = textwrap.dedent("""
    import json, sys
    from flask import Flask
    app = Flask("host")

    @app.route("/")
    def hello():
        return "Hello, World!"

    client = app.test_client()
    client.get("/")  # the test client's own imports (click.testing, ...) happen here, for both cases
    before = set(sys.modules)
    if sys.argv[1]:
        import fmd
        fmd.bind(app, database="sqlite:///" + sys.argv[1], password="bench-password-1")
    for _ in range(int(sys.argv[2])):
        client.get("/")
    if sys.argv[1]:
        fmd.flush(60)
    print(json.dumps(sorted(set(sys.modules) - before)))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mb(n: float) -> float:
    return round(n / 2**20, 1)


class Server:
    """gunicorn -k sync serving the host app from *workdir*."""

    def __init__(self, workdir: Path, workers: int, db: Path | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(workdir), str(ROOT)]), WATCH=json.dumps(WATCH),
                   BENCH_PASSWORD=PASSWORD)
        env.pop("BENCH_DB", None)
        if db is not None:
            env["BENCH_DB"] = str(db)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "hostapp:app"],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.workers = workers
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(self.base + "/", timeout=2).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start: " + self.proc.stderr.read().decode()[-2000:])
                time.sleep(0.1)
        while len(psutil.Process(self.proc.pid).children()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base + path, timeout=30) as resp:
            return resp.read()

    def load(self, n: int, concurrency: int = 4) -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda _: self.get("/"), range(n)))

    def worker_modules(self) -> dict[int, dict]:
        """Each worker's watched modules (asks until every worker answered: sync workers take turns)."""
        seen: dict[int, dict] = {}
        for _ in range(200):
            answer = json.loads(self.get("/_modules"))
            seen[answer["pid"]] = answer["modules"]
            if len(seen) == self.workers:
                break
        return seen

    def memory(self) -> dict[int, dict]:
        out = {}
        for child in psutil.Process(self.proc.pid).children():
            try:
                info = child.memory_full_info()
                out[child.pid] = {"rss_mb": mb(info.rss), "uss_mb": mb(info.uss),
                                  "pss_mb": mb(getattr(info, "pss", 0)) or None}
            except psutil.AccessDenied:  # no USS/PSS without access to /proc/<pid>/smaps
                out[child.pid] = {"rss_mb": mb(child.memory_info().rss), "uss_mb": None, "pss_mb": None}
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM fmd_request").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_stored(db: Path, n: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (count := stored(db)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    return count


def migrate(db: Path, workdir: Path) -> None:
    """Bring *db* to head in a separate process (as `flask fmd db upgrade` would before a deploy)."""
    code = ("import fmd, flask\n"
            f"app = flask.Flask('m'); s = fmd.bind(app, database='sqlite:///{db}', password='{PASSWORD}')\n"
            "s.store.ensure_schema(); s.close()\n")
    subprocess.run([sys.executable, "-c", code], cwd=workdir, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))


def login_and_chart(base: str) -> int:
    """Log in through the dashboard's form, then load one chart fragment; returns the chart's status."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = opener.open(base + "/dashboard/login", timeout=30).read().decode()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": "admin", "password": PASSWORD}).encode()
    opener.open(base + "/dashboard/login", data=form, timeout=30).read()
    request = urllib.request.Request(base + "/dashboard/hourly/chart", headers={"HX-Request": "true"})
    with opener.open(request, timeout=60) as resp:
        body = resp.read().decode()
        if "fmd-chart" not in body:
            raise RuntimeError("the chart fragment holds no chart (not logged in, or no rows?)")
        return resp.status


def run(name: str, workdir: Path, workers: int, n: int, db: Path | None, chart: bool = False) -> dict:
    server = Server(workdir, workers, db)
    try:
        server.load(n)
        result: dict = {}
        if db is not None:
            result["rows_stored"] = wait_stored(db, n)
        time.sleep(1)  # let the writers go idle
        modules = server.worker_modules()
        memory = server.memory()
        result["workers"] = [{"pid": pid, **memory[pid], "loaded": sorted(m for m, v in modules.get(pid, {}).items()
                                                                        if v)} for pid in sorted(memory)]
        if chart:
            result["chart_status"] = login_and_chart(server.base)
            after = server.memory()
            charted = [pid for pid, mods in server.worker_modules().items() if mods.get("altair")]
            result["dashboard_worker"] = ({"pid": charted[0], **after[charted[0]]} if charted else None)
        return result
    finally:
        server.stop()


def recording_modules(workdir: Path, n: int) -> dict:
    """Modules the recording path adds (schema at head) and their import cost, in fresh interpreters."""
    db = workdir / "modules.db"
    migrate(db, workdir)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    added = json.loads(subprocess.run([sys.executable, "-c", MODULES_PROBE, str(db), str(n)], cwd=workdir,
                                      env=env, capture_output=True, text=True, check=True).stdout)
    timed = subprocess.run([sys.executable, "-X", "importtime", "-c", MODULES_PROBE, str(db), str(n)],
                           cwd=workdir, env=env, capture_output=True, text=True, check=True).stderr
    self_us: dict[str, int] = {}
    for line in timed.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if match:
            self_us[match.group(3)] = int(match.group(1))
    tops: dict[str, dict] = {}
    for module in added:
        top = tops.setdefault(module.split(".")[0], {"modules": 0, "import_ms": 0.0})
        top["modules"] += 1
        top["import_ms"] += self_us.get(module, 0) / 1000
    for top in tops.values():
        top["import_ms"] = round(top["import_ms"], 1)
    return {"added_count": len(added), "by_package": dict(sorted(tops.items(), key=lambda kv: -kv[1]["import_ms"])),
            "import_ms_total": round(sum(t["import_ms"] for t in tops.values()), 1),
            "watched_present": [m for m in WATCH if m in added]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "hostapp.py").write_text(HOST_APP)
        at_head, empty = workdir / "at_head.db", workdir / "empty.db"
        migrate(at_head, workdir)
        bare = run("bare", workdir, args.workers, args.requests, None)
        recording = run("recording", workdir, args.workers, args.requests, at_head, chart=True)
        migrating = run("migrating", workdir, args.workers, args.requests, empty)
        modules = recording_modules(workdir, args.requests)

    def median(result: dict, key: str) -> float | None:
        values = [w[key] for w in result["workers"] if w[key] is not None]
        return round(statistics.median(values), 1) if values else None

    bare_rss, bare_uss = median(bare, "rss_mb"), median(bare, "uss_mb")
    rec_rss, rec_uss = median(recording, "rss_mb"), median(recording, "uss_mb")
    migrator = max(migrating["workers"], key=lambda w: ("alembic" in w["loaded"], w["rss_mb"]))
    dash = recording.get("dashboard_worker")
    figures = {
        "benchmark": "memory", "server": f"gunicorn sync -w {args.workers}", "requests": args.requests,
        "bare": bare, "recording": recording, "migrating": migrating,
        "summary_mb": {
            "bare_rss": bare_rss, "bare_uss": bare_uss,
            "recording_rss": rec_rss, "recording_uss": rec_uss,
            "recording_delta_rss": round(rec_rss - bare_rss, 1),
            "recording_delta_uss": round(rec_uss - bare_uss, 1) if rec_uss and bare_uss else None,
            "migrating_worker_rss": migrator["rss_mb"], "migrating_worker_delta_rss": round(migrator["rss_mb"] - bare_rss, 1),
            "dashboard_worker_rss": dash["rss_mb"] if dash else None,
            "dashboard_worker_delta_rss": round(dash["rss_mb"] - bare_rss, 1) if dash else None,
        },
        "recording_modules": modules,
        "targets": TARGETS,
    }
    figures["meets_targets"] = figures["summary_mb"]["recording_delta_rss"] <= TARGETS["recording_delta_rss_mb"]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
