"""The dashboard: fmd's own Flask app, mounted at /<CUSTOM_LINK> (see fmd.mount)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from ..state import State


def create_dashboard_app(state: "State") -> Flask:
    """Build the dashboard app for one bound host app."""
    from pathlib import Path

    package = Path(__file__).resolve().parent.parent
    app = Flask("fmd.dashboard", template_folder=str(package / "templates"),
                static_folder=str(package / "static"), static_url_path="/static")
    app.extensions["fmd"] = state

    @app.get("/")
    def index():  # placeholder until the dashboard lands
        return '<!doctype html><html><body><form method="post" action="login"><input name="username">' \
               '<input name="password" type="password"><button>Log in</button></form></body></html>'

    app.add_url_rule("/login", "login", index, methods=["GET"])
    return app
