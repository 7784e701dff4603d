"""Browser fixtures: a live dashboard served over HTTP, and Chromium pages that fail on console errors.

- ``live_dashboard``: a host app (with an endpoint whose name holds ``<script>``) bound to a SQLite file in
  tmp, seeded with a week of demo traffic plus a few real requests, served by werkzeug in a daemon thread
  on a free port. Yields a ``Live`` (``base`` URL of the host, ``app``, admin and viewer credentials,
  ``evil_endpoint``);
  ``base, app = live_dashboard`` also works. The dashboard is at ``base + "/dashboard"``.
- ``page``: a fresh Chromium page (own cookies); console errors and page errors are collected in
  ``page.fmd_errors`` and the test fails at teardown if any were seen (clear expected ones yourself).
- ``login``: ``login(page, base, user, password)`` logs in through the form and waits for the landing page.

Debian's chromium at /usr/bin/chromium is driven by Python playwright. When it (or playwright) is missing
the tests are skipped, except with CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

import fmd

CHROMIUM = os.environ.get("FMD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN = ("admin", "admin-password")
VIEWER = ("viewer", "viewer-password")
EVIL_ENDPOINT = '<script>alert("endpoint")</script>'


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)  # a live server and Chromium: not part of the quick run


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (starting it costs about a second)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; any console error or uncaught page error fails the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    pg.fmd_errors = errors
    yield pg
    context.close()
    assert not errors, "errors in the browser:\n" + "\n".join(errors)


def host_app() -> Flask:
    """A host with a few routes, one of them named like an XSS attempt (Flask allows any endpoint name)."""
    app = Flask("live_host")

    @app.route("/")
    def index() -> str:
        return "hello"

    @app.route("/api/items")
    def items() -> str:
        return "[]"

    app.add_url_rule("/evil", endpoint=EVIL_ENDPOINT, view_func=lambda: "evil")
    return app


@dataclass
class Live:
    base: str
    app: Flask
    admin: tuple[str, str] = ADMIN
    viewer: tuple[str, str] = VIEWER
    evil_endpoint: str = EVIL_ENDPOINT  #: a host endpoint name (and user agent) made of <script>

    @property
    def dashboard(self) -> str:
        return self.base + "/dashboard"

    def __iter__(self) -> Iterator[Any]:
        return iter((self.base, self.app))


@pytest.fixture
def live_dashboard(tmp_path, prefix: str) -> Iterator[Live]:  # noqa: ANN001
    """A served host app with fmd bound, demo traffic and real requests recorded, admin + viewer users."""
    from werkzeug.serving import make_server

    from fmd.auth.users import create_user
    from fmd.store.seed import seed_demo

    app = host_app()
    # Outliers and profiles kept forever: tests add some without request rows, which retention's first run
    # (10-60 s after start) would otherwise prune under a long test.
    state = fmd.bind(app, database=f"sqlite:///{tmp_path / 'live.db'}", table_prefix=prefix,
                     password=ADMIN[1], flush_interval=0.05, retention_outliers_days=0, retention_profiles_days=0)
    seed_demo(state.store, 3000, 7, seed=7)
    client = app.test_client()
    for path in ("/", "/api/items", "/evil", "/", "/no-such-page"):
        client.get(path, headers={"User-Agent": "<script>alert('ua')</script>"})
    assert fmd.flush(5)
    create_user(state.store, VIEWER[0], VIEWER[1], is_admin=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-dashboard", daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
        state.close(5)


def _login(page: Any, base: str, user: str, password: str) -> None:
    page.goto(base.rstrip("/") + "/dashboard/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/dashboard/login" not in page.url, f"login as {user} failed: {page.url}"


@pytest.fixture
def login() -> Callable[[Any, str, str, str], None]:
    """``login(page, base, user, password)``: log in through the dashboard's form."""
    return _login


@pytest.fixture
def admin_page(page, live_dashboard, login):  # noqa: ANN001, ANN201
    """A Chromium page logged in to the live dashboard as its admin."""
    login(page, live_dashboard.base, *live_dashboard.admin)
    return page
