"""The Profiler and Grouped profiler tabs of the endpoint page. (Being built for issue 10.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from ..queries._range import DatePeriod
from ..store.models import Tables
from ._tabs import Tab

bp = Blueprint("endpoint_profiler", __name__)


def panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    return {}


PROFILER_TAB = Tab("profiler", "Profiler", "", None, None, "fmd/partials/_endpoint_profiler.html", panel)
GROUPED_TAB = Tab("grouped_profiler", "Grouped profiler", "", None, None,
                  "fmd/partials/_endpoint_grouped_profiler.html", panel)
