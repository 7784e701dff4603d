"""fmd configuration: every option, its default, where it may come from, and validation.

Sources, lowest precedence first (a later source overrides an earlier one):

1. the defaults below;
2. the INI file read by ``fmd.config.init_from(file=...)`` and attributes assigned on ``fmd.config``
   in code (whichever happened last wins);
3. environment variables named ``FMD_<KEY>`` (never a bare ``USERNAME``);
4. ``app.config["FMD_<KEY>"]``;
5. keyword arguments to ``fmd.bind(app, key=value)`` / ``fmd.FMD(app, key=value)``.

Only the standard library is imported here: binding fmd must stay cheap.
"""

from __future__ import annotations

import ast
import configparser
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

log = logging.getLogger("fmd.config")


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
    Option("APP_VERSION", "dashboard", "1.0", _str, "Version of the host app recorded with every request."),
    Option("GIT", "dashboard", None, _git,
           "Path of the host's .git directory (relative to the config file); its commit becomes the version."),
    Option("CUSTOM_LINK", "dashboard", "dashboard", _link, "URL path where the dashboard is served."),
    Option("MONITOR_LEVEL", "dashboard", 1, _int_range(0, 3), "Monitoring level of a newly seen endpoint (0-3)."),
    Option("OUTLIER_DETECTION_CONSTANT", "dashboard", 2.5, _positive_float(1000),
           "A request slower than this many times the endpoint's average is an outlier."),
    Option("SAMPLING_PERIOD", "dashboard", 5.0, _positive_float(10_000), "Profiler sampling period in ms."),
    Option("ENABLE_LOGGING", "dashboard", False, _bool, "Log fmd's activity at INFO level."),
    Option("TRUSTED_PROXIES", "dashboard", 0, _int_range(0, 10),
           "Number of reverse proxies in front of the app whose X-Forwarded-For is trusted."),
    Option("USERNAME", "authentication", "admin", _str, "Name of the dashboard's first admin."),
    Option("PASSWORD", "authentication", "admin", _str, "Password of that admin (applied at every start)."),
    Option("SECURITY_TOKEN", "authentication", None, _optional_str,
           "Token for the export API; the API is off while unset."),
    Option("SECRET_KEY", "authentication", None, _optional_str,
           "Secret signing the dashboard's sessions; default: one generated once and kept in the database."),
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
#: configparser treats [DEFAULT] as values for every section; fmd's files have no such thing, so the
#: parser gets a section name nobody writes and [DEFAULT] becomes an ordinary (unknown) section.
_NO_DEFAULT_SECTION = "\x00fmd: no default section"


def _parse(option: Option, value: Any, where: str, section: str | None = None, key: str | None = None) -> Any:
    try:
        return option.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: [{section or option.section}] {key or option.key} = {value!r}: "
                          f"expected {exc}") from None


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one bound app: typed values plus where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    group_by: Any = None
    authorize: Callable[[], bool] | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name.upper()]
        except KeyError:
            raise AttributeError(name) from None

    def masked(self) -> list[tuple[str, str, Any, str]]:
        """(section, key, value, source) for every option, secrets masked: for the settings page."""
        rows = []
        for key, option in OPTIONS.items():
            value = self.values[key]
            if key in SECRET_KEYS and value:
                value = "********"
            rows.append((option.section, key, value, self.sources[key]))
        return rows


@dataclass
class _Value:
    value: Any
    source: str
    base_dir: Path | None = None  # for GIT: the directory of the file that named it
    section: str | None = None  # as written in the file, for error messages
    key: str | None = None


class Config:
    """The user-facing configuration object (``fmd.config``): read a file, or assign attributes in code.

    ``fmd.config.group_by`` and ``fmd.config.authorize`` are code-only options (callables).
    """

    _own = ("_values", "group_by", "authorize")

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "group_by", None)
        object.__setattr__(self, "authorize", None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._own:
            object.__setattr__(self, name, value)
            return
        option = OPTIONS.get(name.upper())
        if option is None:
            raise AttributeError(f"fmd.config has no option {name!r}; known: {', '.join(sorted(OPTIONS))}")
        where = f"fmd.config.{name}"
        _parse(option, value, where)
        self._values[option.key] = _Value(value, where, Path.cwd())

    def __getattr__(self, name: str) -> Any:
        option = OPTIONS.get(name.upper())
        if option is None:
            raise AttributeError(name)
        held = self._values.get(option.key)
        return _parse(option, held.value, held.source) if held else option.default

    def init_from(self, file: str | os.PathLike | None = None, envvar: str | None = None) -> None:
        """Read an INI file (Flask-MonitoringDashboard's format), named directly or by an environment variable.

        Every value is validated now, so a bad file fails here with a message naming the file, the section,
        the key, the value and what was expected. Unknown sections and keys are warned about (ConfigWarning).
        """
        if file is None and envvar is None:
            raise ConfigError("init_from() needs file=... or envvar=...")
        named_by = ""
        if file is None:
            file = os.environ.get(envvar or "")
            if not file:
                raise ConfigError(f"environment variable {envvar} is not set (or empty); expected the path of "
                                  "an fmd config file (Flask-MonitoringDashboard's INI format)")
            named_by = f" (named by environment variable {envvar})"
        path = Path(file).expanduser().resolve()
        where = f"config file {path}"
        if not path.is_file():
            problem = "is a directory" if path.is_dir() else "does not exist"
            raise ConfigError(f"{where}{named_by} {problem}; expected an INI file with sections "
                              f"{', '.join(f'[{s}]' for s in SECTIONS)}")
        parser = configparser.ConfigParser(interpolation=None, strict=False, default_section=_NO_DEFAULT_SECTION)
        parser.optionxform = str.upper  # type: ignore[assignment, method-assign]  # case-insensitive keys, as in FMD
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except OSError as exc:
            raise ConfigError(f"{where}{named_by} cannot be read: {exc}") from None
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}{named_by}: expected an INI file (UTF-8, [section] headers, "
                              f"KEY = value lines): {exc}") from None
        found: dict[str, _Value] = {}
        for section in parser.sections():
            if section.lower() not in SECTIONS:
                _warn(f"{where}: unknown section [{section}] ignored; known sections: "
                      f"{', '.join(f'[{s}]' for s in SECTIONS)}{_did_you_mean(section.lower(), SECTIONS)}")
                continue
            for key, raw in parser.items(section):
                option = OPTIONS.get(ALIASES.get(key, key))
                if option is None:
                    if key in FMD_ONLY_KEYS:
                        _warn(f"{where}: [{section}] {key} is a Flask-MonitoringDashboard option fmd does not use; "
                              "ignored")
                    else:
                        _warn(f"{where}: unknown key [{section}] {key} ignored"
                              f"{_did_you_mean(key, list(OPTIONS) + list(ALIASES))}")
                    continue
                if option.section != section.lower():
                    _warn(f"{where}: [{section}] {key} belongs in [{option.section}]; using it anyway")
                _parse(option, raw, where, section, key)
                found[option.key] = _Value(raw, where, path.parent, section, key)
        held = found.get("GIT")
        if held is not None and held.value.strip():
            _resolve_git(held.value, held.base_dir, where, held.section, held.key)
        self._values.update(found)

    def resolve(self, app_config: Mapping[str, Any], kwargs: Mapping[str, Any], root: Path,
                environ: Mapping[str, str] | None = None) -> Settings:
        """Merge every source (see the module docstring for precedence) into validated Settings."""
        environ = os.environ if environ is None else environ
        layers: dict[str, _Value] = dict(self._values)
        for key in OPTIONS:
            name = f"FMD_{key}"
            if name in environ:
                layers[key] = _Value(environ[name], f"environment variable {name}", root)
            if name in app_config:
                layers[key] = _Value(app_config[name], f"app.config['{name}']", root)
        for name in app_config:
            if name.startswith("FMD_") and name[4:] not in OPTIONS and name != "FMD_CONFIG":
                _warn(f"app.config['{name}'] is not an fmd option and is ignored"
                      f"{_did_you_mean(name[4:], list(OPTIONS))}")
        for name, value in kwargs.items():
            option = OPTIONS.get(name.upper())
            if option is None:
                raise ConfigError(f"bind({name}=...): unknown option{_did_you_mean(name.upper(), list(OPTIONS))}; "
                                  f"known: {', '.join(k.lower() for k in OPTIONS)}")
            layers[option.key] = _Value(value, f"bind({name}=...)", root)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, option in OPTIONS.items():
            held = layers.get(key)
            if held is None:
                values[key], sources[key] = option.default, "default"
                continue
            values[key] = _parse(option, held.value, held.source, held.section, held.key)
            sources[key] = held.source
            if key == "GIT" and values[key]:
                values[key] = str(_resolve_git(values[key], held.base_dir or root, held.source, held.section,
                                               held.key))
        return Settings(values=values, sources=sources, group_by=self.group_by, authorize=self.authorize)


def _resolve_git(value: str, base: Path | None, where: str, section: str | None = None,
                 key: str | None = None) -> Path:
    """The git directory named by *value* (relative to *base*), or a ConfigError.

    *value* may name the repository's working tree, its ``.git`` directory, or a ``.git`` file
    (``gitdir: ...``, as in worktrees and submodules).
    """
    path = Path(value.strip()).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    path = path.resolve()
    if (path / ".git").exists():
        path = path / ".git"
    if path.is_file():  # a worktree's or submodule's .git file points to the real directory
        try:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        if text.startswith("gitdir:"):
            path = (path.parent / text[len("gitdir:"):].strip()).resolve()
    if not (path / "HEAD").is_file():
        raise ConfigError(f"{where}: [{section or 'dashboard'}] {key or 'GIT'} = {value!r}: expected the path "
                          f"of a git repository (its working tree or its .git directory); {path} is not one")
    return path


def _did_you_mean(word: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, ConfigWarning, stacklevel=3)


def option_keys() -> list[str]:
    """Every option key, for documentation checks."""
    return list(OPTIONS)
