"""The app-wide Exceptions page. (Being built for issue 9.)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exceptions", __name__)
