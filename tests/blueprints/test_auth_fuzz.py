"""Hostile input to the login and Users forms (never a 500, on SQLite and PostgreSQL), ``next`` normalisation,
the configured admin across workers, throttling under racing threads, the generated secret on Settings, and
the demo host's own ``next`` check."""

from __future__ import annotations

import importlib.util
import itertools
import re
import sys
import threading
from pathlib import Path
from collections.abc import Iterator

import pytest
from conftest import drop_prefix, server_url
from dashboard_helpers import PREFIX, add_user, csrf, dashboard, home, logged_in, login, post
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from fmd.auth import passwords, throttle
from fmd.auth import users as store_users
from fmd.queries.users import list_users

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: Any text (NUL and control characters included; lone surrogates cannot travel in a form), and extremes.
TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
    st.sampled_from(["ad\x00min", "\x00", "admin\x00", "\x7f", "\u0085", "\t", "a\nb", " admin", "ädmin",
                     "x" * 151, "y" * 5000, "z" * 200_000, "%00", "' OR 1=1 --", "\ud7ff\ue000", "😀" * 40]),
)
IDS = st.one_of(st.sampled_from([0, 1, 2, 3, 999, 2**31 - 1, 2**31, 2**63, 2**70]), st.integers(-5, 10**25))
ROLES = st.one_of(st.sampled_from(["admin", "viewer", "root", "", "Admin", "admin\x00"]), TEXT)
_addresses = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> Iterator[str]:
    """SQLite and PostgreSQL (which refuses NUL in text: the database where it once gave a 500)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fmd.db'}"
        return
    yield server_url("postgresql")
    drop_prefix(server_url("postgresql"), prefix)


def fresh_address() -> str:
    """A new client address per example, so throttling never hides what a form does with its input."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def users_of(app) -> dict[str, dict]:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        return {u["username"]: u for u in list_users(conn, store.tables)}


# ----------------------------------------------------------------------------- 1. hostile input, never 500


def test_a_nul_in_the_user_name_is_a_form_error(make_app, url) -> None:  # noqa: ANN001
    app = dashboard(make_app, url)
    for name, error in [("ad\x00min", "contains control characters."), ("admin\x00", "contains control characters."),
                        ("\x00", "contains control characters."), ("a\x1fb", "contains control characters."),
                        ("x" * 151, "longer than 150 characters")]:
        resp = login(app.test_client(), name, "admin")
        assert resp.status_code == 200, (name, resp.status_code)
        # The form refuses the name itself: it never reaches the password check (and its generic answer).
        assert error in resp.text and 'class="fmd-form-error"' in resp.text, (name, resp.text)
        assert "Wrong user name or password." not in resp.text, name
    assert login(app.test_client(), "admin", "admin").status_code == 302
    # The store lookup itself is safe too: a name no user can have never reaches the database.
    store = app.extensions["fmd"].store
    find_user = store_users.find_user
    assert find_user(store, "ad\x00min") is None and find_user(store, "\ud800") is None
    assert find_user(store, "x" * 10_000) is None and find_user(store, "admin")["username"] == "admin"


@pytest.fixture
def login_client(make_app, url):  # noqa: ANN001, ANN201
    """An anonymous client of a fresh dashboard, with its CSRF token (one per test: examples share it)."""
    client = dashboard(make_app, url).test_client()
    client.token = csrf(client)
    return client


@FUZZ
@given(username=TEXT, password=TEXT, next_=st.one_of(st.none(), TEXT))
def test_login_form_never_fails(login_client, username: str, password: str, next_: str | None) -> None:  # noqa: ANN001
    data = {"csrf_token": login_client.token, "username": username, "password": password}
    if next_ is not None:
        data["next"] = next_
    resp = login_client.post(PREFIX + "/login", data=data, environ_base={"REMOTE_ADDR": fresh_address()})
    assert resp.status_code in (200, 302, 400, 413, 429), (resp.status_code, resp.text[:300])
    if resp.status_code == 302:
        assert resp.headers["Location"].startswith(PREFIX)


@pytest.fixture
def users_client(make_app, url):  # noqa: ANN001, ANN201
    """A second (non-configured) admin's client on the Users page, a viewer, and the configured admin."""
    app = dashboard(make_app, url)
    add_user(app, "root2", "root2-password", admin=True)
    add_user(app, "vera", "vera-password")
    client = logged_in(app, "root2", "root2-password")
    client.token = csrf(client, "/users")
    client.fuzz_app = app
    return client


def _post(client, path: str, data: dict, htmx: bool):  # noqa: ANN001, ANN202
    headers = {"X-CSRFToken": client.token, **({"HX-Request": "true"} if htmx else {})}
    return client.post(PREFIX + path, data=data, headers=headers)


def _assert_answer(resp) -> None:  # noqa: ANN001
    assert resp.status_code in (200, 204, 302, 400, 404, 413), (resp.status_code, resp.text[:300])
    if resp.status_code == 400:
        assert "fmd-error-message" in resp.text


@FUZZ
@given(username=TEXT, password=TEXT, role=ROLES, htmx=st.booleans())
def test_add_user_form_never_fails(users_client, username: str, password: str, role: str, htmx: bool) -> None:  # noqa: ANN001
    resp = _post(users_client, "/users", {"username": username, "password": password, "role": role}, htmx)
    _assert_answer(resp)
    if resp.status_code in (200, 302):
        assert username in users_of(users_client.fuzz_app)


@FUZZ
@given(user_id=IDS, role=ROLES, password=TEXT, action=st.sampled_from(["role", "password", "delete"]),
       htmx=st.booleans())
def test_user_forms_never_fail(users_client, user_id: int, role: str, password: str, action: str,  # noqa: ANN001
                               htmx: bool) -> None:
    me = users_of(users_client.fuzz_app)["root2"]["id"]
    if user_id == me:
        user_id = 999  # leaving the page is tested elsewhere; here the session must stay an admin's
    data = {"role": {"role": role}, "password": {"password": password}, "delete": {}}[action]
    _assert_answer(_post(users_client, f"/users/{user_id}/{action}", data, htmx))
    assert users_of(users_client.fuzz_app)["admin"]["is_admin"]  # the configured admin is never touched


# --------------------------------------------------------------------------- 2. the configured admin


def test_the_configured_admin_cannot_be_changed_on_the_users_page(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, password="config-password")
    add_user(app, "root2", "root2-password", admin=True)
    admin = logged_in(app, "root2", "root2-password")
    me = users_of(app)["admin"]
    before = users_of(app)
    for path, data in ((f"/users/{me['id']}/password", {"password": "changed-password"}),
                       (f"/users/{me['id']}/role", {"role": "viewer"}), (f"/users/{me['id']}/delete", {})):
        for htmx in (True, False):
            resp = post(admin, path, data, htmx=htmx)
            assert resp.status_code == 400 and "set PASSWORD in the configuration" in resp.text, path
    assert users_of(app) == before
    assert login(app.test_client(), "admin", "config-password").status_code == 302
    # The page shows its controls disabled, and why.
    page = admin.get(PREFIX + "/users").text
    row = re.search(rf'<tr id="fmd-user-{me["id"]}".*?</tr>', page, re.DOTALL).group(0)
    assert row.count(" disabled") >= 4 and "Set PASSWORD in the configuration" in row
    other = re.search(rf'<tr id="fmd-user-{users_of(app)["root2"]["id"]}".*?</tr>', page, re.DOTALL).group(0)
    assert " disabled" not in other


def test_another_worker_keeps_sessions_unless_the_password_changed(make_app, sqlite_url) -> None:  # noqa: ANN001
    worker_a = dashboard(make_app, sqlite_url, password="config-password")
    session = logged_in(worker_a, "admin", "config-password")
    # A second worker with the same configuration ends no session, even when it has to repair the row.
    dashboard(make_app, sqlite_url, password="config-password")
    assert session.get(PREFIX + "/health").status_code == 200
    store = worker_a.extensions["fmd"].store
    with store.write() as conn:  # e.g. USERNAME was renamed and back: the mark and the role were lost
        conn.execute(update(store.tables.user).where(store.tables.user.c.username == "admin")
                     .values(from_config=False, is_admin=False))
    dashboard(make_app, sqlite_url, password="config-password")
    assert session.get(PREFIX + "/health").status_code == 200
    assert users_of(worker_a)["admin"]["is_admin"] and users_of(worker_a)["admin"]["from_config"]
    # A worker with another PASSWORD applies it: the old sessions and password end there.
    worker_c = dashboard(make_app, sqlite_url, password="new-config-password")
    assert session.get(PREFIX + "/health").status_code == 302
    assert login(worker_c.test_client(), "admin", "config-password").status_code == 200
    assert login(worker_a.test_client(), "admin", "new-config-password").status_code == 302


def test_the_last_admin_rule_still_holds_for_a_former_configured_admin(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    with store.write() as conn:  # USERNAME renamed: the former admin is an ordinary (and the only) admin
        conn.execute(update(store.tables.user).values(from_config=False))
    me = users_of(app)["admin"]["id"]
    for change in (lambda: store_users.set_role(store, me, False), lambda: store_users.delete_user(store, me)):
        with pytest.raises(store_users.UserError, match="last admin"):
            change()


# ------------------------------------------------------------------------------------------ 3. next


@pytest.mark.parametrize("target", [
    "/dashboard/..//evil.example", "/dashboard/../x", "/dashboard/../../x", "/dashboard/%2e%2e/x",
    "/dashboard/%2E%2E//evil.example", "/dashboard/./../settings", "/dashboard/..", "/%2f%2fevil.example",
    "/dashboard/%5cevil.example", "/dashboard/x/../../dashboardx", "/dashboard/%0d%0aX:y",
])
def test_next_is_normalised_before_the_check(make_app, sqlite_url, target: str) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    resp = login(app.test_client(), next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == home(app), resp.headers["Location"]


@pytest.mark.parametrize("target, location", [
    ("/dashboard/settings", "/dashboard/settings"),
    ("/dashboard/x/../settings?a=1", "/dashboard/settings?a=1"),
    ("/dashboard//settings", "/dashboard/settings"),
    ("/dashboard/./health/", "/dashboard/health/"),
    ("/dashboard", "/dashboard"),
])
def test_next_inside_the_dashboard_is_followed_normalised(make_app, sqlite_url, target: str, location: str) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    resp = login(app.test_client(), next=target)
    assert resp.status_code == 302 and resp.headers["Location"] == location


# ---------------------------------------------------------------------------------- 4. racing logins


def test_racing_wrong_passwords_are_counted_before_they_are_checked(make_app, url) -> None:  # noqa: ANN001
    app = dashboard(make_app, url)
    # A real scrypt check (~50 ms, outside the GIL) for the unknown name: every thread is checking at once.
    slow = passwords.generate_password_hash("fmd-no-such-user", method="scrypt")
    passwords_dummy = passwords._dummy_hash
    passwords._dummy_hash = lambda: slow
    try:
        clients = [app.test_client() for _ in range(20)]
        tokens = [csrf(c) for c in clients]
        start, results = threading.Barrier(len(clients)), []

        def attempt(client, token) -> None:  # noqa: ANN001
            start.wait()
            resp = client.post(PREFIX + "/login", data={"csrf_token": token, "username": "nobody",
                                                        "password": "wrong"})
            results.append(resp.status_code)

        threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        passwords._dummy_hash = passwords_dummy
    assert len(results) == 20 and set(results) <= {200, 429}, results
    assert results.count(200) <= throttle.LIMIT, results  # evaluated: at most LIMIT
    print("racing logins evaluated:", results.count(200), "of", len(results))
    store = app.extensions["fmd"].store
    # Each evaluated attempt stays counted, each refused one is gone: later attempts fill up to LIMIT.
    assert throttle.failures(store, "127.0.0.1", "nobody") == results.count(200)
    for _ in range(throttle.LIMIT - results.count(200)):
        assert login(app.test_client(), "nobody", "wrong").status_code == 200
    assert login(app.test_client(), "nobody", "wrong").status_code == 429


def test_a_successful_login_removes_its_own_attempt(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    store = app.extensions["fmd"].store
    for _ in range(throttle.LIMIT - 1):
        assert login(app.test_client(), "admin", "wrong").status_code == 200
    for _ in range(3):  # successes count toward nothing: neither this name nor the address
        assert login(app.test_client(), "admin", "admin").status_code == 302
    assert throttle.failures(store, "127.0.0.1", "admin") == 0
    with store.read() as conn:
        rows = conn.execute(store.tables.login_attempt.select()).all()
    assert len(rows) == throttle.LIMIT - 1  # only the address rows of the failures remain
    # A refused attempt does not stay counted (hammering does not extend the lockout).
    for _ in range(throttle.LIMIT):
        login(app.test_client(), "carl", "wrong")
    assert throttle.failures(store, "127.0.0.1", "carl") == throttle.LIMIT
    assert login(app.test_client(), "carl", "wrong").status_code == 429
    assert throttle.failures(store, "127.0.0.1", "carl") == throttle.LIMIT


# ------------------------------------------------------------------------------------- 5. the secret


def test_settings_show_the_generated_secret_masked(make_app, sqlite_url) -> None:  # noqa: ANN001
    from fmd.auth.secret import shared_secret

    app = dashboard(make_app, sqlite_url)
    page = logged_in(app).get(PREFIX + "/settings").text
    row = re.search(r"<td class=\"fmd-mono\">SECRET_KEY</td>.*?</tr>", page, re.S).group(0)
    assert "generated, kept in the database" in row and "********" in row
    assert shared_secret(app.extensions["fmd"].store) not in page


# ----------------------------------------------------------------------------------- 6. the demo host


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("DEMO_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("DEMO_SEED_REQUESTS", "0")
    spec = importlib.util.spec_from_file_location("fmd_demo_wsgi_next", Path(__file__).parents[2] / "wsgi.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    module.fmd_state.close(5)
    with module.app.app_context():
        module.db.engine.dispose()
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("target, location", [
    ("/\\evil.example", "/notes"), ("/%5cevil.example", "/notes"), ("//evil.example", "/notes"),
    ("https://evil.example", "/notes"), ("/x/..//evil.example", "/evil.example"), ("/%2f%2fevil.example", "/evil.example"),
    ("/a\r\nb", "/notes"), ("/search?q=x", "/search?q=x"), ("/api/../notes", "/notes"),
])
def test_demo_login_next_stays_on_the_site(demo, target: str, location: str) -> None:  # noqa: ANN001
    resp = demo.app.test_client().post("/login", query_string={"next": target},
                                       data={"name": "demo", "password": "demo"})
    assert resp.status_code == 302 and resp.headers["Location"] == location
