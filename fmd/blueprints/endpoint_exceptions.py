"""The Exceptions tab of the endpoint page: the Exceptions page's list, filtered to this endpoint.

``fmd.blueprints.endpoint`` serves the tab (``/endpoint/<id>/exceptions``) and merges ``panel``'s dict into its
template context; the list, its queries, filters, paging and admin actions are the Exceptions page's
(``fmd.blueprints.exceptions``). Counts "in the range" are this endpoint's occurrences.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from ..queries._range import DatePeriod
from ..store.models import Tables
from ._tabs import Tab
from .exceptions import list_context, parse_filter

bp = Blueprint("endpoint_exceptions", __name__)


def panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    """The tab's list context: groups with occurrences on this endpoint in the range (``version``, ``state``,
    ``page`` from *args*)."""
    f, page = parse_filter(args, endpoint["id"])
    return list_context(conn, t, period, f, page, tab_endpoint=endpoint["id"])


EXCEPTIONS_TAB = Tab("exceptions", "Exceptions", "Exception groups with an occurrence on this endpoint in the "
                     "range, newest first; counts in the range are this endpoint's. Expand a group for its latest "
                     "traceback.", None, None, "fmd/partials/_endpoint_exceptions.html", panel)
