"""Breadcrumbs name the endpoint (issue 12 item 3): every page below an endpoint shows its name, escaped, linking
to its page with the same range; the endpoint page itself names it as the current crumb."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from dashboard_helpers import PREFIX, dashboard, logged_in
from profile_data import seed_profile, shape

from fmd.queries._range import utcnow
from fmd.store import writes

NAME = "<b>x</b>"
ESCAPED = "&lt;b&gt;x&lt;/b&gt;"


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    """An endpoint named like markup with one outlier and two profiled requests of two versions."""
    app = dashboard(make_app, sqlite_url)
    store, t = app.extensions["fmd"].store, app.extensions["fmd"].store.tables
    now = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, t, [NAME], {})
        eid = ids[NAME]
        rid = conn.execute(t.request.insert().values(endpoint_id=eid, duration=1.0, time_requested=now,
                                                     status_code=200)).inserted_primary_key[0]
        app.outlier_id = conn.execute(t.outlier.insert().values(
            request_id=rid, endpoint_id=eid, time_requested=now, duration=1.0, status_code=200, version="1.0",
            average=0.2, method="GET", url="/x", request_values=json.dumps({}), request_headers=json.dumps([]),
            request_environment=json.dumps({}), stacktrace=json.dumps([]), stack_at=0.1,
            cpu_percent=json.dumps([]), memory=json.dumps({}), cut=json.dumps([]))).inserted_primary_key[0]
        cache: dict = {}
        for i, version in enumerate(("1.0", "2.0")):  # each with its request (retention drops orphans)
            when = now - timedelta(hours=i)
            req = conn.execute(t.request.insert().values(endpoint_id=eid, duration=0.05, time_requested=when,
                                                         status_code=200)).inserted_primary_key[0]
            seed_profile(conn, t, eid, req, when, shape(), version=version, cache=cache)
        p = t.profile
        app.profile_id = conn.execute(p.select().with_only_columns(p.c.id).limit(1)).scalar()
    app.eid = eid
    return app


@pytest.fixture
def admin(app):  # noqa: ANN001, ANN201
    return logged_in(app)


def crumbs(text: str) -> str:
    found = re.findall(r'<nav class="fmd-crumbs" aria-label="Breadcrumb">(.*?)</nav>', text, re.S)
    assert len(found) == 1, text[:2000]
    return found[0]


def endpoint_link(crumb: str) -> str:
    """The href of the crumb that names the endpoint (which must be its escaped name)."""
    found = re.findall(r'<a class="fmd-crumb-endpoint" href="([^"]*)">([^<]*)</a>', crumb)
    assert len(found) == 1, crumb
    href, label = found[0]
    assert label == ESCAPED
    return html.unescape(href)


def sub_pages(app) -> dict[str, str]:  # noqa: ANN001
    base = f"{PREFIX}/endpoint/{app.eid}"
    return {"outlier": f"{base}/outliers/{app.outlier_id}",
            "profile": f"{base}/profiler/{app.profile_id}",
            "diff": f"{base}/profiler-diff?base=1.0&other=2.0",
            "purge": f"{base}/purge",
            "merge": f"{base}/merge"}


@pytest.mark.parametrize("page", ["outlier", "profile", "diff", "purge", "merge"])
def test_sub_pages_name_the_endpoint_escaped(app, admin, page: str) -> None:  # noqa: ANN001
    resp = admin.get(sub_pages(app)[page])
    assert resp.status_code == 200, resp.text[:500]
    crumb = crumbs(resp.text)
    assert NAME not in resp.text  # escaped everywhere on the page
    href = endpoint_link(crumb)
    assert urlsplit(href).path == f"{PREFIX}/endpoint/{app.eid}"
    assert ">endpoint<" not in crumb and "› endpoint" not in crumb
    assert crumb.index("Overview") < crumb.index(ESCAPED)


@pytest.mark.parametrize("page", ["outlier", "profile"])
@pytest.mark.parametrize("query", [{"last": ["24h"]}, {"start": ["2026-01-01"], "end": ["2026-01-31"]}])
def test_the_endpoint_crumb_keeps_the_range(app, admin, page: str, query: dict) -> None:  # noqa: ANN001
    args = "&".join(f"{k}={v[0]}" for k, v in query.items())
    resp = admin.get(f"{sub_pages(app)[page]}?{args}")
    assert resp.status_code == 200, resp.text[:500]
    href = endpoint_link(crumbs(resp.text))
    assert parse_qs(urlsplit(href).query) == query


def test_the_trail_names_the_tab_and_the_page(app, admin) -> None:  # noqa: ANN001
    crumb = crumbs(admin.get(sub_pages(app)["outlier"] + "?last=6h").text)
    tab = re.search(r'›\s*<a href="([^"]*)">Outliers</a>', crumb)
    assert tab and parse_qs(urlsplit(html.unescape(tab.group(1))).query) == {"last": ["6h"]}
    assert f'<span aria-current="page">outlier {app.outlier_id}</span>' in crumb
    crumb = crumbs(admin.get(sub_pages(app)["purge"]).text)
    assert '<span aria-current="page">Purge</span>' in crumb


def test_the_endpoint_page_names_itself(app, admin) -> None:  # noqa: ANN001
    resp = admin.get(f"{PREFIX}/endpoint/{app.eid}")
    assert resp.status_code == 200
    crumb = crumbs(resp.text)
    assert f'<span class="fmd-crumb-endpoint" aria-current="page">{ESCAPED}</span>' in crumb
    assert NAME not in resp.text
    # Every tab's whole page too (the Exceptions tab is one of them).
    resp = admin.get(f"{PREFIX}/endpoint/{app.eid}/exceptions")
    assert resp.status_code == 200 and ESCAPED in crumbs(resp.text)
