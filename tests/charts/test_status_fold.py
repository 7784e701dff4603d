"""Status codes chart: endpoints ranked by errors (4xx/5xx) first, so an always-failing endpoint keeps its own
chart; "other" only when it would hold three endpoints or more. Unit tests, plus one through the page."""

from __future__ import annotations

import json
import re
import time

from dashboard_helpers import PREFIX, dashboard, logged_in
from fmd.charts import bars
from rollup_data import record

SPEC = re.compile(r'<script type="application/json">(.*?)</script>', re.S)


def rows_for(endpoints: dict[str, dict[str, int]]) -> list[dict]:
    """{endpoint: {status: hits}} -> unfolded query rows on one day."""
    return [{"endpoint": name, "other": False, "day": "2024-03-05", "status": status, "hits": hits}
            for name, codes in endpoints.items() for status, hits in codes.items()]


def facets(spec: dict) -> list[str]:
    """Endpoint names in the order of their small charts."""
    rows = sorted(spec["datasets"][bars.STATUS], key=lambda r: r["rank"])
    return list(dict.fromkeys(r["endpoint"] for r in rows))


def test_an_always_failing_quiet_endpoint_comes_first() -> None:
    busy = {f"busy{i:02d}": {"200": 1000 - i} for i in range(12)}
    rows = rows_for({**busy, "broken": {"500": 2}, "picky": {"200": 5, "404": 1}})
    names = facets(bars.status_chart(rows))
    assert names[:2] == ["broken", "picky"]  # most errors first, then fewer errors
    assert names[2:8] == [f"busy{i:02d}" for i in range(6)]  # then by traffic
    assert names[8:] == ["other (6 endpoints)"] and len(names) == 9
    other = [r for r in bars.fold_status(rows) if r["other"]]
    assert other == [{"endpoint": "other (6 endpoints)", "endpoint_id": None, "other": True, "day": "2024-03-05",
                      "status": "200",
                      "hits": sum(1000 - i for i in range(6, 12))}]


def test_no_other_series_for_fewer_than_three_endpoints() -> None:
    for count, folded in ((10, False), (9, False), (11, True)):
        rows = rows_for({f"e{i:02d}": {"200": 100 - i} for i in range(count)})
        names = facets(bars.status_chart(rows))
        if folded:
            assert names[-1] == f"other ({count - 8} endpoints)" and len(names) == 9
        else:
            assert names == [f"e{i:02d}" for i in range(count)]  # 1 or 2 left over: shown by name


def test_rows_summed_upstream_join_other() -> None:
    rows = rows_for({f"e{i:02d}": {"200": 100 - i, "503": i % 2} for i in range(12)})
    rows.append({"endpoint": "other (3 endpoints)", "other": True, "day": "2024-03-05", "status": "200", "hits": 7})
    names = facets(bars.status_chart(rows))
    assert names[:6] == ["e01", "e03", "e05", "e07", "e09", "e11"]  # those with a 503
    assert names[6:] == ["e00", "e02", "other (7 endpoints)"]  # 4 folded here + 3 folded upstream
    other = [(r["status"], r["hits"]) for r in bars.fold_status(rows) if r["other"]]
    assert other == [("200", 7 + 96 + 94 + 92 + 90)]  # e04, e06, e08, e10 and the upstream row


def test_the_status_codes_page_keeps_a_failing_endpoint(make_app, sqlite_url) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    now = time.time() - 60
    records = [(f"busy{i:02d}", 0.01, now - j, 200) for i in range(12) for j in range(20 - i)]
    records += [("broken", 0.01, now, 500)]
    record(app.extensions["fmd"].store, records)
    html = logged_in(app).get(PREFIX + "/status-codes/chart").get_data(as_text=True)
    spec = json.loads(SPEC.search(html).group(1))
    names = facets(spec)
    assert names[0] == "broken" and names[-1] == "other (5 endpoints)" and len(names) == 9
