"""The Outliers tab of the endpoint page. (Being built for issue 9.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from ..queries._range import DatePeriod
from ..store.models import Tables
from ._tabs import Tab

bp = Blueprint("endpoint_outliers", __name__)


def panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    return {}


OUTLIERS_TAB = Tab("outliers", "Outliers", "", None, None, "fmd/partials/_endpoint_outliers.html", panel)
