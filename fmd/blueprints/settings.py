"""The Settings page (admins): every effective configuration value and where it came from, secrets masked."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ._access import admin_required, get_state
from ._htmx import page_or_fragment

bp = Blueprint("settings", __name__)


def _hide_url_password(url: str) -> str:
    """A database URL with its password replaced by ***."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable: show nothing of it rather than risk a secret
        return "(set, not shown)"


def _shown(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "COLORS" and isinstance(value, dict):
        return ", ".join(f"{name}: rgb{tuple(rgb)}" for name, rgb in value.items())
    if key == "DATABASE":
        return _hide_url_password(str(value))
    return str(value)


@bp.get("/settings")
@admin_required
def index() -> Response:
    """The settings table: section, key, effective value, source."""
    state = get_state()
    rows = [{"section": section, "key": key, "value": _shown(key, value), "source": source}
            for section, key, value, source in state.settings.masked()]
    for row in rows:
        if row["key"] == "DATABASE" and not row["value"]:
            row["value"] = _hide_url_password(state.store.url)
            row["source"] = "default (the app's instance folder)"
        if row["key"] == "SECRET_KEY" and not row["value"]:
            # Unset: the dashboard signs with the secret generated once and kept in the database (fmd.auth.secret).
            row["value"] = "******** (generated, kept in the database)"
            row["source"] = "generated, kept in the database"
    code_only = [{"key": name, "value": "set" if getattr(state.settings, name) else "not set",
                  "source": f"fmd.config.{name}" if getattr(state.settings, name) else "default"}
                 for name in ("group_by", "authorize")]
    return page_or_fragment("fmd/settings.html", "fmd/partials/_settings.html", rows=rows, code_only=code_only,
                            version=state.version)
