"""Logging in and out of the dashboard: CSRF, cookies, ``next``, throttling across workers, the first admin."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard_helpers import PREFIX, PRODUCTION_HASH_METHOD, add_user, csrf, dashboard, home, logged_in, login, post
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.auth import throttle
from fmd.auth.secret import shared_secret
from fmd.store.writes import utcnow


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)


def test_login_page_sets_a_dashboard_only_cookie(app) -> None:  # noqa: ANN001
    resp = app.test_client().get(PREFIX + "/login")
    assert resp.status_code == 200
    assert 'name="csrf_token"' in resp.text and 'type="password"' in resp.text
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("fmd_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie


def test_login_then_next_then_logout(app) -> None:  # noqa: ANN001
    client = app.test_client()
    assert client.get(PREFIX + "/health").headers["Location"].startswith(PREFIX + "/login?next=")
    resp = login(client, next=PREFIX + "/settings?x=1")
    assert resp.status_code == 302 and resp.headers["Location"] == PREFIX + "/settings?x=1"
    assert client.get(PREFIX + "/settings").status_code == 200
    assert client.get(PREFIX + "/logout").status_code == 405  # logging out changes state: POST only
    assert post(client, "/logout", token=False).status_code == 400
    assert client.get(PREFIX + "/health").status_code == 200  # still logged in
    assert post(client, "/logout").status_code == 302
    assert client.get(PREFIX + "/health").status_code == 302


def test_anonymous_htmx_request_is_sent_to_the_login_page(app) -> None:  # noqa: ANN001
    resp = app.test_client().get(PREFIX + "/health", headers={"HX-Request": "true"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith(PREFIX + "/login?next=")
    resp = app.test_client().post(PREFIX + "/users", headers={
        "HX-Request": "true", "HX-Current-URL": "http://localhost/dashboard/users?x=1"})
    assert resp.status_code == 400  # no CSRF token: refused before anything else
    client = app.test_client()
    resp = post(client, "/users", htmx=True)
    assert resp.status_code == 401 and resp.headers["HX-Redirect"] == PREFIX + "/login?next=" + PREFIX + "/users"
    resp = client.post(PREFIX + "/users", headers={"HX-Request": "true", "X-CSRFToken": csrf(client),
                                                    "HX-Current-URL": "http://localhost/dashboard/health?x=1"})
    target = urlsplit(resp.headers["HX-Redirect"])
    assert target.path == PREFIX + "/login" and parse_qs(target.query) == {"next": [PREFIX + "/health?x=1"]}


@pytest.mark.parametrize("target", [
    "https://evil.example", "https://evil.example/dashboard/health", "//evil.example/dashboard/",
    "/\\evil.example", "\\\\evil.example", "https:evil.example", "javascript:alert(1)", "/other/page",
    "/dashboardx/health", " /dashboard/health", "/dashboard/health\r\nX: y", "",
])
def test_next_outside_the_dashboard_is_not_followed(app, target: str) -> None:  # noqa: ANN001
    resp = login(app.test_client(), next=target)
    assert resp.status_code == 302
    assert resp.headers["Location"] == home(app)  # the start page, not the target


def test_login_without_csrf_token_is_refused(app) -> None:  # noqa: ANN001
    client = app.test_client()
    client.get(PREFIX + "/login")
    resp = client.post(PREFIX + "/login", data={"username": "admin", "password": "admin"})
    assert resp.status_code == 400 and "CSRF" in resp.text
    resp = client.post(PREFIX + "/login", data={"username": "admin", "password": "admin", "csrf_token": "forged"})
    assert resp.status_code == 400
    assert client.get(PREFIX + "/health").status_code == 302  # not logged in


def test_wrong_password_and_unknown_user_look_the_same(app) -> None:  # noqa: ANN001
    client = app.test_client()
    wrong, unknown = login(client, "admin", "nope"), login(client, "nobody", "nope")
    assert wrong.status_code == unknown.status_code == 200
    assert "Wrong user name or password." in wrong.text and "Wrong user name or password." in unknown.text
    assert client.get(PREFIX + "/health").status_code == 302


def test_failed_logins_are_throttled_across_workers(make_app, sqlite_url) -> None:  # noqa: ANN001
    # Two bound apps on one database stand for two workers (or hosts): failures add up in the store.
    worker_a, worker_b = dashboard(make_app, sqlite_url), dashboard(make_app, sqlite_url)
    a, b = worker_a.test_client(), worker_b.test_client()
    for client in (a, a, b, a, b):
        assert login(client, "admin", "wrong").status_code == 200
    assert throttle.failures(worker_a.extensions["fmd"].store, "127.0.0.1", "admin") == 5
    for client in (a, b):
        resp = login(client, "admin", "admin")  # even the right password waits
        assert resp.status_code == 429
        assert "Too many failed logins" in resp.text and "Try again in" in resp.text
        assert 0 < int(resp.headers["Retry-After"]) <= throttle.WINDOW + 1
    assert a.get(PREFIX + "/health").status_code == 302
    # Other addresses, and other names from this address, are not locked out.
    assert login(worker_b.test_client(), "admin", "admin", REMOTE_ADDR="10.0.0.9").status_code == 302
    assert login(a, "someone", "wrong").status_code == 200
    # After the window the address may try again.
    later = utcnow() + timedelta(seconds=throttle.WINDOW + 1)
    assert throttle.retry_after(worker_a.extensions["fmd"].store, "127.0.0.1", "admin", later) == 0


def test_password_spraying_from_one_address_is_throttled(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for i in range(throttle.IP_LIMIT):
        throttle.record_failure(store, "10.1.1.1", f"user{i}")
    resp = login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.1.1.1")
    assert resp.status_code == 429
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.1.1.2").status_code == 302


def test_success_clears_the_failures_and_old_rows_are_pruned(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    throttle.record_failure(store, "10.2.2.2", "ghost", utcnow() - timedelta(hours=1))
    for _ in range(3):
        login(app.test_client(), "admin", "wrong", REMOTE_ADDR="10.2.2.3")
    assert throttle.failures(store, "10.2.2.3", "admin") == 3
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.2.2.3").status_code == 302
    assert throttle.failures(store, "10.2.2.3", "admin") == 0
    with store.read() as conn:
        keys = conn.execute(store.tables.login_attempt.select()).all()
    assert all(row.time > utcnow() - timedelta(minutes=5) for row in keys)  # the hour-old one is gone


def test_one_secret_for_every_worker(make_app, sqlite_url) -> None:  # noqa: ANN001
    worker_a, worker_b = dashboard(make_app, sqlite_url), dashboard(make_app, sqlite_url)
    secret = worker_a.extensions["fmd"].dashboard.app.secret_key
    assert secret == worker_b.extensions["fmd"].dashboard.app.secret_key == shared_secret(
        worker_b.extensions["fmd"].store)
    assert len(secret) == 64
    # A session made by one worker is valid in the other: same cookie, other app, still logged in.
    client = logged_in(worker_a)
    cookie = client.get_cookie("fmd_session", path=PREFIX)
    other = worker_b.test_client()
    other.set_cookie("fmd_session", cookie.value, path=PREFIX)
    assert other.get(PREFIX + "/health").status_code == 200
    assert post(other, "/logout").status_code == 302  # and its CSRF token too


def test_configured_secret_key_is_used(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url, secret_key="configured-secret-0123456789")
    assert app.extensions["fmd"].dashboard.app.secret_key == "configured-secret-0123456789"


def test_configured_credentials_stay_authoritative(make_app, sqlite_url) -> None:  # noqa: ANN001
    first = dashboard(make_app, sqlite_url, username="boss", password="first-password")
    assert login(first.test_client(), "boss", "first-password").status_code == 302
    # The next start with another PASSWORD applies it; the old one stops working.
    second = dashboard(make_app, sqlite_url, username="boss", password="second-password")
    assert login(second.test_client(), "boss", "first-password").status_code == 200
    assert login(second.test_client(), "boss", "second-password").status_code == 302
    # A renamed USERNAME adds that admin; the former one stays an ordinary admin.
    third = dashboard(make_app, sqlite_url, username="chief", password="third-password")
    assert login(third.test_client(), "chief", "third-password").status_code == 302
    assert login(third.test_client(), "boss", "second-password").status_code == 302


def test_default_password_banner_and_log(make_app, sqlite_url, caplog) -> None:  # noqa: ANN001
    with caplog.at_level(logging.WARNING, logger="fmd"):
        default = dashboard(make_app, sqlite_url)
    assert "password is the default" in caplog.text
    assert "The dashboard password is the default" in default.test_client().get(PREFIX + "/login").text
    for path in ("/health", "/settings", "/users", "/no-such-page"):
        assert "The dashboard password is the default" in logged_in(default).get(PREFIX + path).text, path
    safe = dashboard(make_app, sqlite_url, password="a-long-password")
    page = logged_in(safe, "admin", "a-long-password").get(PREFIX + "/health").text
    assert "The dashboard password is the default" not in page


def test_changing_a_password_ends_that_users_other_sessions(app) -> None:  # noqa: ANN001
    uid = add_user(app, "carol", "carol-password")
    carol = logged_in(app, "carol", "carol-password")
    assert carol.get(PREFIX + "/health").status_code == 200
    admin = logged_in(app)
    assert post(admin, f"/users/{uid}/password", {"password": "carol-new-password"}).status_code == 302
    assert carol.get(PREFIX + "/health").status_code == 302
    assert login(app.test_client(), "carol", "carol-new-password").status_code == 302


def test_error_pages_are_pages_or_fragments(app) -> None:  # noqa: ANN001
    client = logged_in(app)
    page = client.get(PREFIX + "/no-such-page")
    assert page.status_code == 404 and "<html" in page.text and "no such page" in page.text
    frag = client.get(PREFIX + "/no-such-page", headers={"HX-Request": "true"})
    assert frag.status_code == 404 and "<html" not in frag.text and "fmd-error-message" in frag.text
    assert "HX-Request" in frag.headers["Vary"]
    resp = client.put(PREFIX + "/health")
    assert resp.status_code == 405 and "GET" in resp.headers["Allow"]


def test_csrf_meta_and_htmx_header_carry_the_token(app) -> None:  # noqa: ANN001
    client = logged_in(app)
    token = csrf(client, "/health")
    page = client.get(PREFIX + "/health").text
    assert f'<meta name="csrf-token" content="{token}">' in page
    assert "hx-headers='{\"X-CSRFToken\": \"" + token + "\"}'" in page


def test_passwords_are_stored_as_salted_scrypt_hashes() -> None:
    from werkzeug.security import generate_password_hash

    assert PRODUCTION_HASH_METHOD == "scrypt"
    first, second = (generate_password_hash("same", method=PRODUCTION_HASH_METHOD) for _ in range(2))
    assert first.startswith("scrypt:") and first != second


def test_the_stored_hash_is_never_the_password(app) -> None:  # noqa: ANN001
    add_user(app, "olga", "olga-password")
    store = app.extensions["fmd"].store
    with store.read() as conn:
        stored = conn.execute(store.tables.user.select().where(store.tables.user.c.username == "olga")).one()
    assert "olga-password" not in stored.password_hash and stored.password_hash.startswith("pbkdf2:")
