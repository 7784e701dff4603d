"""The Health page (every process's recording health, fmd's cost) and the Settings page (admins, masked)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from flask import Flask

import fmd
from dashboard_helpers import PREFIX, add_user, dashboard, logged_in
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.blueprints.settings import _hide_url_password
from fmd.store import writes


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url, timezone="Europe/Amsterdam")


def other_process(app, **values) -> None:  # noqa: ANN001, ANN003
    """A row as another worker's writer thread would report it."""
    row = {"id": "otherhost:4242:1", "host": "otherhost", "pid": 4242, "started_at": datetime(2024, 7, 1, 10, 0),
           "last_seen": writes.utcnow(), "queue_length": 7, "rows_written": 1234567, "dropped": 3,
           "failed_writes": 2, "internal_errors": 1, "last_error": "OperationalError: disk full", "version": "9.9"}
    row.update(values)
    store = app.extensions["fmd"].store
    with store.write() as conn:
        writes.report_process(conn, store.tables, row)


def test_health_shows_every_reporting_process_and_this_one(app) -> None:  # noqa: ANN001
    host = app.test_client()
    for _ in range(3):
        assert host.get("/").status_code == 200
    assert fmd.flush(5)
    other_process(app)
    page = logged_in(app).get(PREFIX + "/health").text
    assert "otherhost" in page and "4242" in page and "1,234,567" in page and "disk full" in page
    assert "2 processes reporting" in page
    # started_at 10:00 UTC is 12:00 in Amsterdam in July (CEST): times are shown in TIMEZONE.
    assert "2024-07-01 12:00:00 CEST" in page
    this = page.split('id="fmd-this-process"')[1]
    assert "running" in this and "<td>3</td>" in this  # three requests submitted in this process
    assert "fmd's own cost per request" in page and "tests/benchmarks/overhead.py" in page


def _cost_cells(row_html: str) -> list[str]:
    """The row's last two plain number cells: request-path and writer cost."""
    return [c.split("</td>")[0] for c in row_html.split('<td class="num">')[-2:]]


def test_health_shows_each_process_cost_per_request(app) -> None:  # noqa: ANN001
    other_process(app)  # reports no cost yet: shown as a dash
    other_process(app, id="otherhost:4343:1", host="costhost", pid=4343, request_cost_us=12.34, writer_cost_us=56.78)
    client = logged_in(app)
    before = client.get(PREFIX + "/health").text
    this = before.split('id="fmd-this-process"')[1]
    assert 'id="fmd-this-request-cost">–<' in this and 'id="fmd-this-writer-cost">–<' in this
    host = app.test_client()
    for _ in range(5):
        assert host.get("/").status_code == 200
    assert fmd.flush(5)
    state = app.extensions["fmd"]
    state.recorder.report_health()  # the writer reports every few seconds; at once here
    page = client.get(PREFIX + "/health").text
    rows = {r.split("</tr>")[0].split("pid ")[1].split("<")[0]: r.split("</tr>")[0]
            for r in page.split('id="fmd-processes"')[1].split("</table>")[0].split("<tr")[2:]}
    assert _cost_cells(rows["4343"]) == ["12.3 µs", "56.8 µs"]
    assert _cost_cells(rows["4242"]) == ["–", "–"]
    mine = _cost_cells(rows[str(os.getpid())])
    assert len(mine) == 2 and all(float(c.split()[0]) > 0 for c in mine)
    this = page.split('id="fmd-this-process"')[1]
    stats = fmd.stats(app)
    assert f'id="fmd-this-request-cost">{stats["request_cost_us"]:.1f} µs<' in this
    assert f'id="fmd-this-writer-cost">{stats["writer_cost_us"]:.1f} µs<' in this


def test_a_silent_process_is_marked(app) -> None:  # noqa: ANN001
    other_process(app, last_seen=writes.utcnow() - timedelta(hours=2))
    page = logged_in(app).get(PREFIX + "/health").text
    assert "2 h ago (not reporting: the process or its writer is gone, 7 records were waiting)" in page
    assert "0 processes reporting" in page


def test_health_is_a_fragment_for_htmx_and_escapes_errors(app) -> None:  # noqa: ANN001
    other_process(app, last_error="<script>alert(1)</script>", host="<b>h</b>")
    client = logged_in(app)
    frag = client.get(PREFIX + "/health", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and 'id="fmd-health"' in frag.text
    assert "HX-Request" in frag.headers["Vary"]
    assert "<script>alert(1)</script>" not in frag.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in frag.text
    assert "<b>h</b>" not in frag.text
    restore = client.get(PREFIX + "/health", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text  # the back button gets the whole page


def test_viewers_may_see_health(app) -> None:  # noqa: ANN001
    add_user(app, "vera", "vera-password")
    assert logged_in(app, "vera", "vera-password").get(PREFIX + "/health").status_code == 200
    assert app.test_client().get(PREFIX + "/health").status_code == 302


def test_settings_show_every_value_its_source_and_mask_secrets(make_app, sqlite_url, tmp_path) -> None:  # noqa: ANN001
    ini = tmp_path / "fmd.cfg"
    ini.write_text("[dashboard]\nAPP_VERSION = 4.5.6\n[authentication]\nSECURITY_TOKEN = token-from-file-0123456\n")
    fmd.config.init_from(file=str(ini))
    fmd.config.group_by = lambda: "g"
    host = Flask("host")
    host.config["FMD_MONITOR_LEVEL"] = 2
    app = dashboard(make_app, sqlite_url, app=host, password="kw-password-123", secret_key="kw-secret-key-456",
                    timezone="Europe/Amsterdam")
    page = logged_in(app, "admin", "kw-password-123").get(PREFIX + "/settings").text
    for secret in ("kw-password-123", "kw-secret-key-456", "token-from-file-0123456"):
        assert secret not in page
    rows = {}
    for chunk in page.split("<tr>")[2:]:
        cells = [c.split("</td>")[0] for c in chunk.split("<td")[1:]]
        cells = [c.split(">", 1)[1] for c in cells]
        rows[cells[1]] = cells
    assert rows["APP_VERSION"][2:] == ["4.5.6", f"config file {ini.resolve()}"]
    assert rows["MONITOR_LEVEL"][2:] == ["2", "app.config[&#39;FMD_MONITOR_LEVEL&#39;]"]
    assert rows["TIMEZONE"][2:] == ["Europe/Amsterdam", "bind(timezone=...)"]
    assert rows["PASSWORD"][2:] == ["********", "bind(password=...)"]
    assert rows["SECURITY_TOKEN"][2] == "********"
    assert rows["CUSTOM_LINK"][2:] == ["dashboard", "default"]
    assert rows["DATABASE"][2] == sqlite_url
    assert rows["group_by"][2:] == ["set", "fmd.config.group_by"]
    assert rows["authorize"][2:] == ["not set", "default"]


def test_database_passwords_are_hidden() -> None:
    shown = _hide_url_password("postgresql+psycopg://fmd:hunter2@db.example:5432/fmd")
    assert "hunter2" not in shown and "db.example" in shown
    assert _hide_url_password("not a url at all ://") == "(set, not shown)"


def test_settings_are_for_admins(app) -> None:  # noqa: ANN001
    add_user(app, "vera", "vera-password")
    assert logged_in(app, "vera", "vera-password").get(PREFIX + "/settings").status_code == 403
    assert app.test_client().get(PREFIX + "/settings").headers["Location"].startswith(PREFIX + "/login")
    frag = logged_in(app).get(PREFIX + "/settings", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and 'id="fmd-settings"' in frag.text


def test_health_accounts_for_every_submitted_request(app) -> None:  # noqa: ANN001
    """Submitted exceeds rows written by the requests that write no row, and the page says which and why."""
    host = app.test_client()
    for path in ["/", "/no/such/page", "/"]:
        host.get(path)
    assert fmd.flush(5)
    app.extensions["fmd"].recorder.report_health()
    page = logged_in(app).get(PREFIX + "/health").text
    this = page.split('id="fmd-this-process"')[1]
    assert "<th>Requests submitted</th><td>3</td>" in this and "<th>Rows written</th><td>2</td>" in this
    assert "<th>Counted only (matched no route)</th><td>1</td>" in this
    assert "<th>Rejected (the database refused their data)</th><td class=\"\">0</td>" in this
    assert "submitted = rows written + counted only" in page and "level-0 endpoint are not submitted" in page
