"""Jinja filters of the dashboard: times in TIMEZONE, relative ages, thousands separators.

Times are stored as naive UTC datetimes; pages show them in the configured TIMEZONE (zoneinfo).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def install_filters(app: Flask, tz_name: str) -> None:
    """Register ``localtime``, ``ago`` and ``thousands`` on *app*'s Jinja environment."""
    tz = ZoneInfo(tz_name)

    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
        """A stored UTC time shown in TIMEZONE ("" for None)."""
        return _aware(value).astimezone(tz).strftime(fmt) if value else ""

    def ago(value: datetime | None, now: datetime | None = None) -> str:
        """How long ago *value* was, roughly ("12 s ago", "3 h ago", "5 days ago")."""
        if not value:
            return "never"
        seconds = int(((now and _aware(now)) or datetime.now(timezone.utc)).timestamp() - _aware(value).timestamp())
        if seconds < 0:
            return "just now"
        for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds // size} {unit} ago"
        return f"{seconds} s ago"

    def thousands(value: int | float | None) -> str:
        """1234567 -> "1,234,567"; None -> "–"."""
        if value is None:
            return "–"
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"

    app.jinja_env.filters.update(localtime=localtime, ago=ago, thousands=thousands)
