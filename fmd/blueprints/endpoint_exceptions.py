"""The Exceptions tab of the endpoint page. (Being built for issue 9.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import Connection

from ..queries._range import DatePeriod
from ..store.models import Tables
from ._tabs import Tab

bp = Blueprint("endpoint_exceptions", __name__)


def panel(conn: Connection, t: Tables, endpoint: dict, period: DatePeriod, args: Any) -> dict:
    return {}


EXCEPTIONS_TAB = Tab("exceptions", "Exceptions", "", None, None, "fmd/partials/_endpoint_exceptions.html", panel)
