"""(Being built for issue 11.)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("custom_graphs", __name__)
