"""The dashboard works offline (README): no page, fragment, chart spec, CSS or script of fmd's own refers to
anything outside the dashboard.

Every GET page of the dashboard's URL map (each endpoint page and tab for a real endpoint), each as a full page
and as an htmx fragment, plus fmd's own CSS and JS, is rendered against seeded demo data and scanned for an
absolute URL: ``http://``, ``https://``, a protocol-relative ``//host`` or a CSS ``url(...)`` that leaves the
dashboard. A CDN script tag or a web font would fail here on a machine that is online.
"""

from __future__ import annotations

import json
import re

import pytest

from dashboard_helpers import PREFIX, dashboard, logged_in
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)

#: A URL with a scheme, or protocol-relative (``//cdn.example``) in an attribute, a string or CSS ``url()``.
ABSOLUTE = re.compile(r"""(?:[a-z][a-z0-9+.-]*:)?//[\w.-]+\.[a-z]{2,}|https?://""", re.I)
#: Allowed on purpose, each because nothing ever fetches it:
#: - a Vega-Lite spec's "$schema": vega-embed parses the URL's text for the library and version (its
#:   schema parser), it never loads it; strip it before scanning.
SCHEMA = re.compile(r'"\$schema":\s*"https://(?:vega\.github\.io/schema/vega-lite/v\d+(?:\.\d+)*\.json'
                    r'|www\.speedscope\.app/file-format-schema\.json)"')  # names of formats, never fetched
#: - SVG's XML namespace, an identifier and not a resource.
SVG_NS = "http://www.w3.org/2000/svg"
#: The chart specs travel inside the pages as escaped JSON: ``&#34;`` stands for a quote.
ESCAPED_QUOTE = "&#34;"
SKIP_ENDPOINTS = {"static", "auth.logout", "auth.login", "index"}


def external_urls(text: str) -> list[str]:
    text = text.replace(ESCAPED_QUOTE, '"').replace("\\u0022", '"')
    text = SCHEMA.sub('"$schema": ""', text).replace(SVG_NS, "")
    return [text[max(m.start() - 60, 0): m.end() + 40] for m in ABSOLUTE.finditer(text)]


def dashboard_urls(app) -> list[str]:  # noqa: ANN001
    """Every GET route of the dashboard, for the busiest endpoint where a route takes an endpoint id."""
    state = app.extensions["fmd"]
    t = state.store.tables
    from sqlalchemy import func, select

    with state.store.read() as conn:
        endpoint_id = conn.execute(select(t.rollup_day.c.endpoint_id).group_by(t.rollup_day.c.endpoint_id)
                                   .order_by(func.sum(t.rollup_day.c["count"]).desc()).limit(1)).scalar_one()
    found = []
    for rule in state.dashboard.app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith("api.") or "GET" not in (rule.methods or ()):
            continue  # (the export API answers only a token: tests/api)
        if not rule.arguments:
            found.append(rule.rule)
        elif rule.arguments == {"endpoint_id"}:
            found.append(rule.rule.replace("<int:endpoint_id>", str(endpoint_id)))
    return sorted(found)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with a week of demo traffic (seeded once for the module)."""
    import fmd
    from flask import Flask

    path = tmp_path_factory.mktemp("offline") / "fmd.db"
    app = Flask("offline-seed")
    fmd.bind(app, database=f"sqlite:///{path}", table_prefix="off_")
    result = app.test_cli_runner().invoke(args=["fmd", "seed-demo", "--requests", "3000", "--days", "7",
                                                "--seed", "3"])
    assert result.exit_code == 0, result.output
    app.extensions["fmd"].close(5)
    return f"sqlite:///{path}"


@pytest.mark.slow  # seeds a week of traffic and renders ~60 pages
def test_no_page_fragment_spec_or_asset_refers_outside_the_dashboard(seeded: str, make_app) -> None:  # noqa: ANN001
    app = dashboard(make_app, seeded, table_prefix="off_")
    client = logged_in(app)
    urls = dashboard_urls(app)
    assert len(urls) >= 30 and any(u.endswith("/chart") for u in urls) and any("/endpoint/" in u for u in urls)
    pages = {"/login": app.test_client().get(PREFIX + "/login")}
    for url in urls:
        pages[url] = client.get(PREFIX + url)
        pages[url + " (htmx)"] = client.get(PREFIX + url, headers={"HX-Request": "true"})
    for asset in ("fmd.css", "fmd.js"):
        pages[asset] = client.get(f"{PREFIX}/static/fmd/{asset}")
    specs = 0
    for url, resp in pages.items():
        assert resp.status_code == 200, (url, resp.status_code)
        text = resp.get_data(as_text=True)
        assert not external_urls(text), (url, external_urls(text))
        specs += text.count("vega-lite/v")
        if resp.mimetype == "application/json":
            json.loads(text)
    assert specs >= 10  # the scan really went through chart specs


def test_the_scan_finds_what_it_must() -> None:
    for bad in ('<script src="https://cdn.jsdelivr.net/npm/vega@6"></script>', "<link href='//fonts.gstatic.com/x'>",
                "@import url(http://fonts.googleapis.com/css)", '{"url": "https://example.org/data.csv"}',
                '<img src="//cdn.example/x.png">'):
        assert external_urls(bad), bad
    ok = ('{"$schema": "https://vega.github.io/schema/vega-lite/v6.1.0.json", "mark": "bar"}',
          f'<svg xmlns="{SVG_NS}"></svg>', '<a href="/dashboard/overview">', "10.0.0.1 // comment")
    for fine in ok:
        assert not external_urls(fine), fine
