"""The Users page and every data-changing route of the dashboard: admins only, CSRF always."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from dashboard_helpers import PREFIX, add_user, dashboard, logged_in, login, post
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.queries.users import list_users


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)


def users_of(app) -> dict[str, dict]:  # noqa: ANN001
    store = app.extensions["fmd"].store
    with store.read() as conn:
        return {u["username"]: u for u in list_users(conn, store.tables)}


def changing_routes(app, user_id: int) -> list[str]:  # noqa: ANN001
    """Every POST/PUT/PATCH/DELETE URL of the dashboard except login and logout, with sample arguments."""
    dash = app.extensions["fmd"].dashboard.app
    urls = []
    for rule in dash.url_map.iter_rules():
        if not (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        if rule.endpoint in ("auth.login", "auth.logout"):
            continue
        if rule.endpoint == "api.unknown":  # (answers any method with a JSON 405: tests/api; it changes nothing)
            continue
        args = {name: user_id if isinstance(conv, IntegerConverter) else "index"
                for name, conv in rule._converters.items()}
        with dash.test_request_context("/", base_url="http://localhost" + PREFIX):
            from flask import url_for

            urls.append(url_for(rule.endpoint, **args))
    return urls


def test_every_data_changing_route_needs_an_admin_and_a_csrf_token(app) -> None:  # noqa: ANN001
    viewer_id = add_user(app, "vera", "vera-password")
    routes = changing_routes(app, viewer_id)
    assert {f"{PREFIX}/users", f"{PREFIX}/users/{viewer_id}/role", f"{PREFIX}/users/{viewer_id}/password",
            f"{PREFIX}/users/{viewer_id}/delete"} <= set(routes)
    before = users_of(app)
    anonymous, viewer, admin = app.test_client(), logged_in(app, "vera", "vera-password"), logged_in(app)
    form = {"username": "mallory", "password": "mallory-password", "role": "admin", "level": "3"}
    for url in routes:
        path = url[len(PREFIX):]
        for client in (anonymous, viewer, admin):  # no token: refused before any view runs
            assert post(client, path, form, token=False).status_code == 400, url
        resp = post(anonymous, path, form)
        assert resp.status_code == 401, url
        assert post(anonymous, path, form, htmx=True).headers["HX-Redirect"].startswith(PREFIX + "/login"), url
        assert post(viewer, path, form).status_code == 403, url
        assert post(viewer, path, form, htmx=True).status_code == 403, url
    assert users_of(app) == before  # nothing changed
    assert login(app.test_client(), "vera", "vera-password").status_code == 302


def test_viewers_see_no_admin_pages(app) -> None:  # noqa: ANN001
    add_user(app, "vera", "vera-password")
    viewer = logged_in(app, "vera", "vera-password")
    page = viewer.get(PREFIX + "/health").text
    assert f'href="{PREFIX}/users"' not in page and f'href="{PREFIX}/settings"' not in page
    assert f'href="{PREFIX}/health"' in page and "Log out" in page
    for path in ("/users", "/settings"):
        resp = viewer.get(PREFIX + path)
        assert resp.status_code == 403 and "viewer" in resp.text
    admin_page = logged_in(app).get(PREFIX + "/health").text
    assert f'href="{PREFIX}/users"' in admin_page and f'href="{PREFIX}/settings"' in admin_page


def test_admin_adds_changes_and_removes_users_through_htmx(app) -> None:  # noqa: ANN001
    admin = logged_in(app)
    resp = post(admin, "/users", {"username": "dan", "password": "dan-password", "role": "viewer"}, htmx=True)
    assert resp.status_code == 200 and "<html" not in resp.text and 'id="fmd-users"' in resp.text
    assert "HX-Request" in resp.headers["Vary"] and "Added dan as viewer." in resp.text
    dan = users_of(app)["dan"]
    assert not dan["is_admin"]
    assert login(app.test_client(), "dan", "dan-password").status_code == 302

    resp = post(admin, f"/users/{dan['id']}/role", {"role": "admin"}, htmx=True)
    assert resp.status_code == 200 and users_of(app)["dan"]["is_admin"]
    resp = post(admin, f"/users/{dan['id']}/password", {"password": "dan-new-password"}, htmx=True)
    assert resp.status_code == 200
    assert login(app.test_client(), "dan", "dan-password").status_code == 200
    assert login(app.test_client(), "dan", "dan-new-password").status_code == 302
    resp = post(admin, f"/users/{dan['id']}/delete", htmx=True)
    assert resp.status_code == 200 and "dan" not in users_of(app)
    assert login(app.test_client(), "dan", "dan-new-password").status_code == 200


def test_forms_work_without_javascript(app) -> None:  # noqa: ANN001
    admin = logged_in(app)
    resp = post(admin, "/users", {"username": "erin", "password": "erin-password", "role": "admin"})
    assert resp.status_code == 302 and resp.headers["Location"] == PREFIX + "/users"
    assert users_of(app)["erin"]["is_admin"]
    refused = post(admin, "/users", {"username": "erin", "password": "erin-password", "role": "admin"})
    assert refused.status_code == 400 and "<html" in refused.text and "already a user called" in refused.text


@pytest.mark.parametrize("form, message", [
    ({"username": "", "password": "long-enough", "role": "viewer"}, "User name"),
    ({"username": "x" * 151, "password": "long-enough", "role": "viewer"}, "User name"),
    ({"username": "frank", "password": "short", "role": "viewer"}, "Password"),
    ({"username": "frank", "password": "long-enough", "role": "root"}, "Choose admin or viewer."),
    ({"username": " frank", "password": "long-enough", "role": "viewer"}, "spaces"),
    ({"username": "admin", "password": "long-enough", "role": "viewer"}, "already a user called"),
])
def test_bad_input_is_refused_with_a_message(app, form: dict, message: str) -> None:  # noqa: ANN001
    before = users_of(app)
    resp = post(logged_in(app), "/users", form, htmx=True)
    assert resp.status_code == 400 and message in resp.text and "fmd-error-message" in resp.text
    assert users_of(app) == before


def test_the_last_admin_can_be_neither_removed_nor_demoted(make_app, sqlite_url) -> None:  # noqa: ANN001
    # USERNAME renamed from "admin" to "boss": "admin" is now an ordinary admin, "boss" the configured one.
    dashboard(make_app, sqlite_url)
    app = dashboard(make_app, sqlite_url, username="boss", password="boss-password")
    store = app.extensions["fmd"].store
    with store.write() as conn:  # and "boss" made a viewer behind the page's back: "admin" is the last admin
        conn.execute(store.tables.user.update().where(store.tables.user.c.username == "boss")
                     .values(is_admin=False, from_config=False))
    admin = logged_in(app)
    me = users_of(app)["admin"]
    for path, data in ((f"/users/{me['id']}/role", {"role": "viewer"}), (f"/users/{me['id']}/delete", {})):
        resp = post(admin, path, data, htmx=True)
        assert resp.status_code == 400 and "last admin" in resp.text
    assert users_of(app)["admin"]["is_admin"]
    page = admin.get(PREFIX + "/users").text
    assert 'title="The last admin cannot be removed"' in page  # the buttons say so before anyone tries
    # With a second admin, the first may step down: it is sent away from the (now forbidden) page.
    add_user(app, "grace", "grace-password", admin=True)
    resp = post(admin, f"/users/{me['id']}/role", {"role": "viewer"}, htmx=True)
    assert resp.status_code == 204 and resp.headers["HX-Redirect"].startswith(PREFIX)
    assert not users_of(app)["admin"]["is_admin"]
    assert admin.get(PREFIX + "/users").status_code == 403
    grace = logged_in(app, "grace", "grace-password")
    grace_id = users_of(app)["grace"]["id"]
    assert "last admin" in post(grace, f"/users/{grace_id}/delete", htmx=True).text


def test_the_configured_admin_is_changed_in_the_configuration_only(app) -> None:  # noqa: ANN001
    add_user(app, "grace", "grace-password", admin=True)
    me = users_of(app)["admin"]
    admin = logged_in(app)  # even the configured admin itself
    for path, data in ((f"/users/{me['id']}/role", {"role": "viewer"}), (f"/users/{me['id']}/delete", {}),
                       (f"/users/{me['id']}/password", {"password": "other-password"})):
        resp = post(admin, path, data, htmx=True)
        assert resp.status_code == 400 and "set PASSWORD in the configuration" in resp.text, path
    assert users_of(app)["admin"] == me and login(app.test_client(), "admin", "admin").status_code == 302


def test_unknown_and_huge_user_ids(app) -> None:  # noqa: ANN001
    admin = logged_in(app)
    assert post(admin, "/users/999/delete", htmx=True).status_code == 400
    assert post(admin, "/users/99999999999999999999/delete", htmx=True).status_code == 404
    assert post(admin, "/users/-1/delete", htmx=True).status_code == 404


def test_user_names_are_shown_as_text(app) -> None:  # noqa: ANN001
    evil = '<script>alert("x")</script>'
    add_user(app, evil, "evil-password", admin=True)
    admin = logged_in(app)
    page = admin.get(PREFIX + "/users").text
    assert evil not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    refused = post(admin, "/users", {"username": evil, "password": "evil-password", "role": "viewer"}, htmx=True)
    assert refused.status_code == 400 and evil not in refused.text
    evil_page = logged_in(app, evil, "evil-password").get(PREFIX + "/health").text  # the header shows the name
    assert evil not in evil_page and "&lt;script&gt;" in evil_page


def test_users_on_every_database(make_app, db_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, db_url)
    admin = logged_in(app)
    assert post(admin, "/users", {"username": "hal", "password": "hal-password", "role": "admin"}).status_code == 302
    hal = users_of(app)["hal"]
    assert post(admin, f"/users/{hal['id']}/role", {"role": "viewer"}).status_code == 302
    me = users_of(app)["admin"]
    assert post(admin, f"/users/{me['id']}/delete", htmx=True).status_code == 400  # the last admin
    assert post(admin, f"/users/{hal['id']}/delete").status_code == 302
    assert set(users_of(app)) == {"admin"}


def test_cli_create_user(app) -> None:  # noqa: ANN001
    runner = app.test_cli_runner()
    result = runner.invoke(args=["fmd", "create-user", "ivan", "--admin", "--password", "ivan-password"])
    assert result.exit_code == 0, result.output
    assert "Added ivan as an admin." in result.output and users_of(app)["ivan"]["is_admin"]
    result = runner.invoke(args=["fmd", "create-user", "judy"], input="judy-password\njudy-password\n")
    assert result.exit_code == 0, result.output
    assert not users_of(app)["judy"]["is_admin"]
    assert login(app.test_client(), "judy", "judy-password").status_code == 302
    result = runner.invoke(args=["fmd", "create-user", "ivan", "--password", "other-password"])
    assert result.exit_code != 0 and "already a user called" in result.output
    result = runner.invoke(args=["fmd", "create-user", "kim", "--password", "short"])
    assert result.exit_code != 0 and "at least 8 characters" in result.output
