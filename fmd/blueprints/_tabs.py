"""The tabs of the endpoint page (fmd.blueprints.endpoint): what each one loads, draws and renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import abort
from sqlalchemy import Connection

from ..queries._range import DatePeriod
from ..queries.overview import endpoint_by_id
from ..store.models import Tables

Loader = Callable[[Connection, Tables, int, DatePeriod], "tuple[list[dict], list[dict] | None]"]


@dataclass(frozen=True)
class Tab:
    """One tab of the endpoint page."""

    name: str  #: view name; the URL path uses dashes
    title: str
    intro: str
    load: Loader | None  #: (conn, tables, endpoint id, period) -> (chart/CSV rows, table rows or None)
    draw: Callable[[list[dict], DatePeriod], dict] | None  #: rows -> Vega-Lite spec; None: a table only
    body: str = "fmd/partials/_endpoint_chart.html"  #: the panel's template
    #: A tab with its own paging and downloads (outliers, exceptions): (conn, tables, endpoint row, period,
    #: request args) -> extra template context; such a tab has no generic CSV route (load is None).
    panel: Callable[[Connection, Tables, dict, DatePeriod, Any], dict] | None = None
    #: Read from per-UTC-day rollups (users, IPs): a range that is not whole UTC days reads the days around it.
    daily: bool = False

    @property
    def path(self) -> str:
        return self.name.replace("_", "-")




def endpoint_or_404(conn: Connection, t: Tables, endpoint_id: int) -> dict:
    """The endpoint's row, or a 404 that says why an id can be unknown (every page of one endpoint uses it)."""
    endpoint = endpoint_by_id(conn, t, endpoint_id)
    if endpoint is None:
        abort(404, f"There is no endpoint with id {endpoint_id}: it was never recorded, or it was merged into "
                   "another endpoint. The overview lists every endpoint.")
    return endpoint
