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

import configparser
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

log = logging.getLogger("fmd.config")


from .options import (ALIASES, FMD_ONLY_KEYS, OPTIONS, SECRET_KEYS, SECTIONS, ConfigError,  # noqa: F401
                      ConfigWarning, Option)


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
    #: Code-only options given to bind()/FMD() or in app.config (FMD_GROUP_BY, FMD_AUTHORIZE): they win.
    fixed_group_by: Any = None
    fixed_authorize: Callable[[], bool] | None = None
    #: The fmd.config the app was bound with: its group_by and authorize are read when used, so an
    #: assignment after bind() takes effect.
    config: "Config | None" = None

    @property
    def group_by(self) -> Any:
        """The group_by in force now."""
        if self.fixed_group_by is not None:
            return self.fixed_group_by
        return getattr(self.config, "group_by", None)

    @property
    def authorize(self) -> Callable[[], bool] | None:
        """The authorize callable in force now."""
        if self.fixed_authorize is not None:
            return self.fixed_authorize
        return getattr(self.config, "authorize", None)

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


#: Options that only code can give (callables): ``fmd.config.<name>``, ``bind(app, <name>=...)``,
#: ``FMD(<name>=...)`` or ``app.config["FMD_<NAME>"]``.
CODE_ONLY = ("group_by", "authorize")


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
        code = {name: app_config.get(f"FMD_{name.upper()}") for name in CODE_ONLY}
        for name in CODE_ONLY:
            if kwargs.get(name) is not None:
                code[name] = kwargs[name]
        if code["authorize"] is not None and not callable(code["authorize"]):
            raise ConfigError(f"authorize = {code['authorize']!r}: expected a callable returning True or False")
        kwargs = {k: v for k, v in kwargs.items() if k not in CODE_ONLY}
        layers: dict[str, _Value] = dict(self._values)
        for key in OPTIONS:
            name = f"FMD_{key}"
            if name in environ:
                layers[key] = _Value(environ[name], f"environment variable {name}", root)
            if name in app_config:
                layers[key] = _Value(app_config[name], f"app.config['{name}']", root)
        for name in app_config:
            if (name.startswith("FMD_") and name[4:] not in OPTIONS and name != "FMD_CONFIG"
                    and name[4:].lower() not in CODE_ONLY):
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
        return Settings(values=values, sources=sources, fixed_group_by=code["group_by"],
                        fixed_authorize=code["authorize"], config=self)


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
