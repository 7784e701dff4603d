"""The demo host (wsgi.py): its pages answer, the dashboard answers, demo traffic is seeded once, requests land."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
SEEDED = 2_000


def load_demo(name: str) -> ModuleType:
    """Import wsgi.py afresh under *name* (a second import is a second process starting, for our purpose)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "wsgi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Flask finds the app's root path through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEMO_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DEMO_SEED_REQUESTS", str(SEEDED))
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    return tmp_path / "instance"


@pytest.fixture
def demos(demo_env: Path) -> Iterator[list[ModuleType]]:
    loaded: list[ModuleType] = []
    yield loaded
    for module in loaded:
        module.fmd_state.close(5)
        with module.app.app_context():
            module.db.engine.dispose()
        sys.modules.pop(module.__name__, None)


def request_count(module: ModuleType) -> int:
    store = module.fmd_state.store
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(store.tables.request)).scalar()


def test_demo_pages_dashboard_and_recording(demos: list[ModuleType], demo_env: Path) -> None:
    demo = load_demo("fmd_demo_wsgi_a")
    demos.append(demo)
    assert (demo_env / "fmd.db").exists() and (demo_env / "host.db").exists()
    assert request_count(demo) == SEEDED

    client = demo.app.test_client()
    expected = {"/": 200, "/login": 200, "/notes": 302, "/search?q=blue&limit=2": 200, "/api/items?page=2": 200,
                "/api/items/3": 200, "/api/items/9999": 404, "/variable": 200, "/fail": 500}
    assert {path: client.get(path).status_code for path in expected} == expected
    assert client.get("/search?q=blue&limit=2").get_json()["results"] == ["blue mug", "blue lamp"]
    login = client.post("/login", data={"name": "demo", "password": "demo"})
    assert login.status_code == 302 and login.headers["Location"].endswith("/notes")
    assert client.post("/notes", data={"text": "<b>bold</b>"}).status_code == 302
    page = client.get("/notes")
    assert page.status_code == 200 and b"&lt;b&gt;bold&lt;/b&gt;" in page.data

    dashboard = client.get("/dashboard/", follow_redirects=True)
    assert dashboard.status_code == 200 and b"<form" in dashboard.data

    assert demo.fmd_state.flush(10)
    store = demo.fmd_state.store
    t = store.tables
    with store.read() as conn:
        live = conn.execute(select(t.endpoint.c.name, t.request.c.status_code, t.request.c.group_by,
                                   t.request.c.version_requested).join(t.endpoint)
                            .where(t.request.c.id > SEEDED).order_by(t.request.c.id)).all()
    assert len(live) == len(expected) + 4  # + login, add a note, read notes, the /search read again
    assert ("fail", 500, "anonymous", "1.2") in live
    assert ("notes", 200, "1", "1.2") in live  # group_by: the host's own logged-in user id
    assert {name for name, *_ in live} >= {"index", "api.items", "api.item", "search", "variable"}


def test_demo_seeds_only_once(demos: list[ModuleType], demo_env: Path) -> None:
    first = load_demo("fmd_demo_wsgi_b")
    demos.append(first)
    assert request_count(first) == SEEDED
    first.fmd_state.close(5)
    second = load_demo("fmd_demo_wsgi_c")  # the next start of the demo on the same instance folder
    demos.append(second)
    assert request_count(second) == SEEDED
    with second.app.app_context():
        assert second.db.session.execute(select(func.count()).select_from(second.User)).scalar() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gunicorn_serves_the_demo(tmp_path: Path) -> None:
    """`gunicorn wsgi:app` with two workers importing at once: seeded once, pages served, requests recorded."""
    port = _free_port()
    env = {**os.environ, "DEMO_INSTANCE_PATH": str(tmp_path), "DEMO_SEED_REQUESTS": str(SEEDED)}
    env = {k: v for k, v in env.items() if not (k.startswith("FMD_") and not k.startswith("FMD_TEST_"))}
    env.pop("FLASK_RUN_FROM_CLI", None)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                               "--graceful-timeout", "10", "wsgi:app"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 40
        served = 0
        for path in ["/", "/api/items", "/api/items/1", "/search?q=red", "/dashboard/login"]:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
                        assert resp.status == 200
                        served += not path.startswith("/dashboard")
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert time.monotonic() < deadline, "gunicorn did not answer"
                    time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)  # graceful stop: each worker flushes its queue
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    engine = create_engine(f"sqlite:///{tmp_path / 'fmd.db'}")
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM fmd_request")).scalar()
    engine.dispose()
    assert output.count("fmd demo: seeded") == 1, output
    assert total == SEEDED + served, output
