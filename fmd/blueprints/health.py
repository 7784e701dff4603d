"""The Health page: recording health of every process writing into fmd's database, and fmd's own cost."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response

from ..instrument import servers
from ..queries import health as queries
from ..store.writes import utcnow
from ._access import get_state, login_required
from ._htmx import page_or_fragment

bp = Blueprint("health", __name__)

@bp.get("/health")
@login_required
def index() -> Response:
    """Queue length, rows written, drops, failed writes, last error and fmd's cost, per process and this one."""
    state = get_state()
    now = utcnow()
    # A writer thread reports every 5 s while it runs; a minute of silence means the process is gone.
    stale_after = timedelta(seconds=max(60.0, 10 * state.settings.sync_interval))
    with state.store.read() as conn:
        rows = queries.processes(conn, state.store.tables, now, stale_after)
    return page_or_fragment("fmd/health.html", "fmd/partials/_health.html", processes=rows,
                            totals=queries.totals(rows), this=state.stats(), now=now, stale_after=stale_after,
                            version=state.version, queue_size=state.settings.queue_size,
                            server_problems=servers.problems())  # SERVERS (issue 8 item 3)
