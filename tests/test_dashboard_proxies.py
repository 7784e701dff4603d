"""The dashboard behind reverse proxies (issue 7 item 7): TRUSTED_PROXIES governs scheme, host and prefix too.

fmd's mount wraps ``app.wsgi_app`` as it is at bind time, so a ``ProxyFix`` the host applied before binding
never sees dashboard requests; the mount applies its own when TRUSTED_PROXIES > 0.
"""

from __future__ import annotations

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

import fmd

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "monitor.example.org",
             "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Prefix": "/shop"}


def session_cookie(resp) -> str:  # noqa: ANN001
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("fmd_session=")]
    assert len(cookies) == 1, resp.headers
    return cookies[0]


@pytest.mark.parametrize("host_proxyfix", ["before bind", "after bind", "none"])
def test_trusted_proxy_headers_give_secure_cookie_and_forwarded_urls(host_proxyfix: str, sqlite_url: str,
                                                                    prefix: str, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    if host_proxyfix == "before bind":
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix, trusted_proxies=1)
    if host_proxyfix == "after bind":  # applied twice to dashboard requests: the same result
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
    try:
        client = app.test_client()
        cookie = session_cookie(client.get("/dashboard/login", headers=FORWARDED))
        assert "; Secure" in cookie and "Path=/shop/dashboard" in cookie
        moved = client.get("/dashboard", headers=FORWARDED)  # werkzeug's absolute slash redirect
        assert moved.headers["Location"] == "https://monitor.example.org/shop/dashboard/"
        login = client.get("/dashboard/overview", headers=FORWARDED)
        assert login.status_code == 302 and login.headers["Location"].startswith("/shop/dashboard/login")
        assert client.get("/", headers=FORWARDED).data == b"hello"  # the host's own requests as before
    finally:
        state.close(2)


def test_untrusted_proxy_headers_are_ignored(sqlite_url: str, prefix: str, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix)  # TRUSTED_PROXIES = 0
    try:
        client = app.test_client()
        cookie = session_cookie(client.get("/dashboard/login", headers=FORWARDED))
        assert "Secure" not in cookie and "Path=/dashboard;" in cookie
        assert client.get("/dashboard", headers=FORWARDED).headers["Location"] == "http://localhost/dashboard/"
        # A client that really speaks HTTPS still gets a Secure cookie.
        https = app.test_client().get("/dashboard/login", base_url="https://localhost")
        assert "; Secure" in session_cookie(https)
    finally:
        state.close(2)


def test_readme_example_dispatcher_and_proxyfix(sqlite_url: str, prefix: str, new_host_app) -> None:  # noqa: ANN001
    """The README's arrangement: bind first, then the host's DispatcherMiddleware, then ProxyFix outermost."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    api, app = new_host_app(), new_host_app()
    state = fmd.bind(app, database=sqlite_url, table_prefix=prefix, trusted_proxies=1)
    try:
        app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/api": api.wsgi_app})
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
        client = app.test_client()
        assert client.get("/api/").data == b"hello" and client.get("/").data == b"hello"
        cookie = session_cookie(client.get("/dashboard/login", headers={"X-Forwarded-Proto": "https"}))
        assert "; Secure" in cookie
    finally:
        state.close(2)
