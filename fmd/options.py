"""Every fmd option: its section, default, parser (validation) and meaning. Standard library only.

``fmd.config`` reads options from their sources and merges them; this module says what they are.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping


class ConfigError(ValueError):
    """A configuration value fmd cannot use; the message names where it came from and what was expected."""


class ConfigWarning(UserWarning):
    """An unknown key or section in fmd's configuration (most likely a typo)."""


# ---------------------------------------------------------------------------------------------- parsers
# Each parser takes the raw value (a string from a file or the environment, or any Python value set in
# code) and returns the typed value, or raises ValueError whose text says what was expected.


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("a string")
    return value.strip()


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = _str(value)
    return text or None


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("true or false")


def _int_range(low: int, high: int | None) -> Callable[[Any], int]:
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"

    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(expected)
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError(expected) from None
        if number < low or (high is not None and number > high):
            raise ValueError(expected)
        return number

    return parse


def _positive_float(maximum: float) -> Callable[[Any], float]:
    expected = f"a number greater than 0 and at most {maximum:g}"

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(expected)
        try:
            number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
        except ValueError:
            raise ValueError(expected) from None
        if not (0 < number <= maximum):
            raise ValueError(expected)
        return number

    return parse


def _float_range(low: float, high: float) -> Callable[[Any], float]:
    expected = f"a number from {low:g} to {high:g}"

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(expected)
        try:
            number = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
        except ValueError:
            raise ValueError(expected) from None
        if not (low <= number <= high):  # (NaN fails both)
            raise ValueError(expected)
        return number

    return parse


_WORD = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _names(value: Any) -> tuple[str, ...]:
    """A list of key names: a Python list/tuple, or text separated by commas or whitespace."""
    expected = "key names (letters, digits, '_', '-', '.') separated by commas, e.g. 'ssn, pin'"
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,\s]+", _str(value))
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not all(isinstance(item, str) for item in items) or not all(_WORD.match(n) for n in names):
        raise ValueError(expected)
    return names


def _paths(value: Any) -> tuple[str, ...]:
    """Directories: a Python list/tuple, or text separated by commas or the OS path separator."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,%s]" % re.escape(os.pathsep), _str(value))
    if not all(isinstance(item, (str, os.PathLike)) for item in items):
        raise ValueError("directories separated by commas, e.g. '/srv/app, /srv/lib'")
    return tuple(os.fspath(item).strip() for item in items if os.fspath(item).strip())


_LINK = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")


def _link(value: Any) -> str:
    text = _str(value).strip("/")
    if not _LINK.match(text):
        raise ValueError("a URL path such as 'dashboard' (letters, digits, '-', '_', '.', '/')")
    return text


_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,23}$")


def _prefix(value: Any) -> str:
    text = _str(value)
    if not _PREFIX.match(text):
        raise ValueError("1-24 letters, digits or underscores, starting with a letter (e.g. 'fmd_')")
    return text


#: SQLAlchemy's built-in dialects; others must be installed as a ``sqlalchemy.dialects`` entry point.
_BUILTIN_DIALECTS = {"sqlite", "postgresql", "postgres", "mysql", "mariadb", "mssql", "oracle"}
_URL = re.compile(r"^(?P<dialect>[A-Za-z0-9_]+)(\+(?P<driver>[A-Za-z0-9_]+))?://")


def _database(value: Any) -> str | None:
    url = _optional_str(value)
    if url is None:
        return None
    match = _URL.match(url)
    if not match:
        raise ValueError("an SQLAlchemy database URL such as sqlite:////path/fmd.db or "
                         "postgresql+psycopg://user@host/db")
    dialect = match["dialect"].lower()
    if dialect not in _BUILTIN_DIALECTS and not _dialect_plugin_exists(dialect):
        raise ValueError(f"a URL whose dialect SQLAlchemy knows; {dialect!r} is not one of "
                         f"{sorted(_BUILTIN_DIALECTS)} nor an installed dialect plugin")
    return url


def _dialect_plugin_exists(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name.split(".")[0] == name for ep in entry_points(group="sqlalchemy.dialects"))


def _timezone(value: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as 'America' on some OSes
        raise ValueError("an IANA time zone name such as 'UTC' or 'Europe/Amsterdam'") from None
    return name


def _colors(value: Any) -> dict[str, tuple[int, int, int]]:
    expected = "a mapping of endpoint name to an RGB triple, e.g. {'main': [0, 97, 255]}"
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value.strip() or "{}")
        except (ValueError, SyntaxError):
            raise ValueError(expected) from None
    if not isinstance(value, Mapping):
        raise ValueError(expected)
    colors: dict[str, tuple[int, int, int]] = {}
    for name, rgb in value.items():
        if isinstance(rgb, str):  # FMD 3.x files quote the triple: {'main': '[0,97,255]'}
            try:
                rgb = ast.literal_eval(rgb)
            except (ValueError, SyntaxError):
                raise ValueError(expected) from None
        if (not isinstance(name, str) or not isinstance(rgb, (list, tuple)) or len(rgb) != 3
                or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb)):
            raise ValueError(expected)
        colors[name] = (rgb[0], rgb[1], rgb[2])
    return colors


def _git(value: Any) -> str | None:
    # Only the type is checked here; the path is resolved against the file that named it in _resolve_git.
    return _optional_str(value)


@dataclass(frozen=True)
class Option:
    key: str
    section: str
    default: Any
    parse: Callable[[Any], Any]
    doc: str


#: Every option fmd reads. Keys and sections follow Flask-MonitoringDashboard 3.x, so its files keep working.
OPTIONS: dict[str, Option] = {o.key: o for o in [
    Option("ENABLED", "dashboard", True, _bool,
           "Monitor the app at all; false binds nothing (no hooks, dashboard, threads or database), for tests."),
    Option("APP_VERSION", "dashboard", "1.0", _str, "Version of the host app recorded with every request."),
    Option("GIT", "dashboard", None, _git,
           "Path of the host's .git directory (relative to the config file); its commit becomes the version."),
    Option("CUSTOM_LINK", "dashboard", "dashboard", _link, "URL path where the dashboard is served."),
    Option("MONITOR_LEVEL", "dashboard", 1, _int_range(0, 3), "Monitoring level of a newly seen endpoint (0-3)."),
    Option("OUTLIER_DETECTION_CONSTANT", "dashboard", 2.5, _positive_float(1000),
           "A request slower than this many times the endpoint's average is an outlier."),
    Option("OUTLIER_MIN_MS", "dashboard", 20.0, _float_range(0, 3_600_000),
           "A request faster than this many milliseconds is never an outlier, however slow for its endpoint."),
    Option("REDACT", "dashboard", (), _names,
           "More key names whose values are redacted in outliers and tracebacks (the defaults stay)."),
    Option("APP_PATHS", "dashboard", (), _paths,
           "Directories holding the application's own code (default: whatever is outside the standard "
           "library and site-packages); relative ones are taken from the app's root_path."),
    Option("SAMPLING_PERIOD", "dashboard", 5.0, _float_range(1, 10_000),
           "Profiler sampling period in ms (at least 1: a faster sampler would cost the requests it samples)."),
    Option("REPORT_MIN_EFFECT", "dashboard", 10.0, _float_range(0, 1000),
           "Smallest change of the median, in percent, that a report flags (a significant but smaller change is not)."),
    Option("ENABLE_LOGGING", "dashboard", False, _bool,
           "Log fmd's activity at INFO level (to stderr when the host configured no logging)."),
    Option("TRUSTED_PROXIES", "dashboard", 0, _int_range(0, 10),
           "Number of reverse proxies in front of the app whose X-Forwarded-For is trusted."),
    Option("USERNAME", "authentication", "admin", _str, "Name of the dashboard's first admin."),
    Option("PASSWORD", "authentication", "admin", _str, "Password of that admin (applied at every start)."),
    Option("SECURITY_TOKEN", "authentication", None, _optional_str,
           "Token for the export API; the API is off while unset."),
    Option("SECRET_KEY", "authentication", None, _optional_str,
           "Secret signing the dashboard's sessions; default: one generated once and kept in the database."),
    Option("SESSION_IDLE_HOURS", "authentication", 12.0, _positive_float(8_760),
           "Hours without a dashboard request after which a login ends (logout ends it at once)."),
    Option("DATABASE", "database", None, _database,
           "SQLAlchemy URL of fmd's database; default sqlite:///<app.instance_path>/fmd.db."),
    Option("TABLE_PREFIX", "database", "fmd_", _prefix, "Prefix of every fmd table."),
    Option("TIMEZONE", "visualization", "UTC", _timezone, "Time zone the dashboard shows times in."),
    Option("COLORS", "visualization", {}, _colors, "Fixed chart colours per endpoint name."),
    Option("QUEUE_SIZE", "recording", 100_000, _int_range(100, 10_000_000),
           "Records held in memory per process while the database is slow or down; beyond it the oldest "
           "are dropped and counted."),
    Option("BATCH_SIZE", "recording", 2_000, _int_range(1, 100_000), "Most records written in one transaction."),
    Option("FLUSH_INTERVAL", "recording", 0.5, _positive_float(60),
           "Seconds between the writer's passes over the queue."),
    Option("SYNC_INTERVAL", "recording", 2.0, _positive_float(60),
           "Seconds between checks for monitoring levels changed by another process or host."),
    Option("RETENTION_REQUESTS_DAYS", "retention", 30, _int_range(0, 36_500),
           "Days raw request rows are kept (0: forever); the rollups behind every chart stay."),
    Option("RETENTION_OUTLIERS_DAYS", "retention", 14, _int_range(0, 36_500), "Days outliers are kept (0: forever)."),
    Option("RETENTION_PROFILES_DAYS", "retention", 14, _int_range(0, 36_500),
           "Days profiler samples are kept (0: forever)."),
    Option("RETENTION_HOURLY_DAYS", "retention", 0, _int_range(0, 36_500),
           "Days hourly duration histograms are kept (0: forever); daily ones and hourly counts stay."),
    Option("PRUNE_INTERVAL_HOURS", "retention", 24, _int_range(0, 8_760),
           "Hours between two runs of the retention job across all workers and hosts (0: never automatically)."),
]}

SECTIONS = sorted({o.section for o in OPTIONS.values()})
SECRET_KEYS = ("PASSWORD", "SECURITY_TOKEN", "SECRET_KEY")

#: Other spellings Flask-MonitoringDashboard itself reads: its 3.x code parses SAMPLING_RATE although its
#: documentation says SAMPLING_PERIOD (both in ms).
ALIASES = {"SAMPLING_RATE": "SAMPLING_PERIOD"}
#: Flask-MonitoringDashboard options fmd has no use for: a file that sets them still loads, with a warning.
FMD_ONLY_KEYS = frozenset({"BLUEPRINT_NAME", "BRAND_NAME", "TITLE_NAME", "DESCRIPTION", "SHOW_LOGIN_BANNER",
                           "SHOW_LOGIN_FOOTER", "GUEST_USERNAME", "GUEST_PASSWORD", "OUTLIERS_ENABLED", "TEST_DIR"})
