"""Anonymous visitors, precisely: where a GET, a HEAD, a plain POST and an htmx request are sent, and what they read."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard_helpers import PREFIX, csrf, dashboard
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)


def next_of(location: str) -> str:
    target = urlsplit(location)
    assert target.path == PREFIX + "/login", location
    (value,) = parse_qs(target.query)["next"]
    return value


def test_a_get_comes_back_to_the_same_url_with_its_query(app) -> None:  # noqa: ANN001
    resp = app.test_client().get(PREFIX + "/health?x=1&tab=a%2Fb")
    assert resp.status_code == 302
    assert next_of(resp.headers["Location"]) == PREFIX + "/health?x=1&tab=a%2Fb"
    resp = app.test_client().get(PREFIX + "/health")
    assert next_of(resp.headers["Location"]) == PREFIX + "/health"  # no stray "?"


def test_a_head_request_is_redirected_like_a_get(app) -> None:  # noqa: ANN001
    resp = app.test_client().head(PREFIX + "/settings")
    assert resp.status_code == 302 and next_of(resp.headers["Location"]) == PREFIX + "/settings"


def test_a_plain_post_is_refused_with_401_and_says_why(app) -> None:  # noqa: ANN001
    client = app.test_client()
    resp = client.post(PREFIX + "/users", headers={"X-CSRFToken": csrf(client)})
    assert resp.status_code == 401 and "Location" not in resp.headers
    assert "Log in to the dashboard first." in resp.text


def test_an_htmx_request_is_told_to_load_the_login_page(app) -> None:  # noqa: ANN001
    client = app.test_client()
    resp = client.get(PREFIX + "/health?x=2", headers={"HX-Request": "true"})
    assert resp.status_code == 401 and resp.text == "Log in first."
    assert next_of(resp.headers["HX-Redirect"]) == PREFIX + "/health?x=2"
    # With the page it came from, the login returns to that page, with or without a query.
    for current, expected in (("http://localhost/dashboard/overview?sort=p95", PREFIX + "/overview?sort=p95"),
                              ("http://localhost/dashboard/overview", PREFIX + "/overview")):
        resp = client.get(PREFIX + "/health", headers={"HX-Request": "true", "HX-Current-URL": current})
        assert resp.status_code == 401 and next_of(resp.headers["HX-Redirect"]) == expected
    # Not htmx (the header must say "true"): a normal redirect.
    resp = client.get(PREFIX + "/health", headers={"HX-Request": "false"})
    assert resp.status_code == 302 and "HX-Redirect" not in resp.headers


def test_the_hosts_authorize_sees_the_request_as_it_arrived(make_app, sqlite_url) -> None:  # noqa: ANN001
    import fmd
    from flask import request

    seen = []

    def authorize() -> bool:
        seen.append((request.script_root, request.path, request.url))
        return request.args.get("key") == "let-me-in"

    fmd.config.authorize = authorize
    app = dashboard(make_app, sqlite_url)
    client = app.test_client()
    assert client.get(PREFIX + "/health").status_code == 302
    assert seen[-1] == ("", PREFIX + "/health", "http://localhost/dashboard/health")
    assert client.get(PREFIX + "/settings?key=let-me-in").status_code == 200  # an admin page: authorize is admin
    assert seen[-1] == ("", PREFIX + "/settings", "http://localhost/dashboard/settings?key=let-me-in")
