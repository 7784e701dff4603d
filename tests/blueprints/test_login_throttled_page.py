"""The 429 page of a throttled login (issue 12 item 9) leads back to the login form, keeping ``next``."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard_helpers import PREFIX, csrf, dashboard, login
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.auth import throttle


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)


def _lock_out(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for _ in range(throttle.LIMIT):
        throttle.record_failure(store, "127.0.0.1", "admin")


def _back_link(text: str) -> str:
    found = re.findall(r'<a href="([^"]*)">Back to the login form</a>', text)
    assert len(found) == 1, text
    return html.unescape(found[0])


def test_throttled_login_links_back_to_the_form_with_next(app) -> None:  # noqa: ANN001
    _lock_out(app)
    client = app.test_client()
    resp = login(client, next=PREFIX + "/settings?tab=a&b=<c>")
    assert resp.status_code == 429 and "Too many failed logins" in resp.text
    target = urlsplit(_back_link(resp.text))
    assert target.path == PREFIX + "/login"
    assert parse_qs(target.query) == {"next": [PREFIX + "/settings?tab=a&b=<c>"]}
    assert "<c>" not in resp.text  # escaped in the page
    form = client.get(_back_link(resp.text))  # the link opens the form, with next kept for the next try
    assert form.status_code == 200 and 'name="password"' in form.text
    kept = re.search(r'name="next" value="([^"]*)"', form.text).group(1)
    assert html.unescape(kept) == PREFIX + "/settings?tab=a&b=<c>" and "<c>" not in form.text


def test_throttled_login_without_next_links_to_the_plain_form(app) -> None:  # noqa: ANN001
    _lock_out(app)
    client = app.test_client()
    resp = client.post(PREFIX + "/login", data={"csrf_token": csrf(client), "username": "admin",
                                                "password": "admin"})
    assert resp.status_code == 429
    assert _back_link(resp.text) == PREFIX + "/login"


def test_other_errors_have_no_login_link(app) -> None:  # noqa: ANN001
    client = app.test_client()
    login(client)
    resp = client.get(PREFIX + "/no-such-page")
    assert resp.status_code == 404 and "Back to the login form" not in resp.text
