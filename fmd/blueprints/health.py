"""The Health page: recording health of every process writing into fmd's database, and fmd's own cost."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response

from ..queries import health as queries
from ..store.writes import utcnow
from ._access import get_state, login_required
from ._htmx import page_or_fragment

bp = Blueprint("health", __name__)

#: fmd's cost per request, as measured by tests/benchmarks/overhead.py and documented in the README.
#: Measuring it live would itself cost every request, so the page shows the benchmark figure.
COST_PER_REQUEST = {"ratio": 1.02, "what": "hello-world request at level 1 (median, against bare Flask)",
                    "source": "tests/benchmarks/overhead.py, README → Performance"}


@bp.get("/health")
@login_required
def index() -> Response:
    """Queue length, rows written, drops, failed writes and last error, per process and for this one."""
    state = get_state()
    now = utcnow()
    # A writer thread reports every 5 s while it runs; a minute of silence means the process is gone.
    stale_after = timedelta(seconds=max(60.0, 10 * state.settings.sync_interval))
    with state.store.read() as conn:
        rows = queries.processes(conn, state.store.tables, now, stale_after)
    return page_or_fragment("fmd/health.html", "fmd/partials/_health.html", processes=rows,
                            totals=queries.totals(rows), this=state.stats(), now=now, stale_after=stale_after,
                            cost=COST_PER_REQUEST, version=state.version)
