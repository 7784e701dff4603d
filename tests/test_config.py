"""Configuration: Flask-MonitoringDashboard's INI file, FMD_* environment, app.config, bind() keywords.

Every option, the documented precedence, the errors (naming file, section, key, value, expectation) and
the warnings for unknown names. GIT is tested against real repositories made with the git command.
"""

from __future__ import annotations

import logging
import subprocess
import textwrap
import warnings
from pathlib import Path

import pytest
from flask import Flask

import fmd
from fmd.config import OPTIONS, Config, ConfigError, ConfigWarning

FULL = """\
[dashboard]
APP_VERSION=2.4.1
CUSTOM_LINK=monitor
MONITOR_LEVEL=3
OUTLIER_DETECTION_CONSTANT=3.5
SAMPLING_PERIOD=20
ENABLE_LOGGING=True

[authentication]
USERNAME=boss
PASSWORD=s3cret
SECURITY_TOKEN=tok-1234567890abcdef

[database]
TABLE_PREFIX=mon_
DATABASE=postgresql+psycopg://fmd@db.example/fmd

[visualization]
TIMEZONE=Europe/Amsterdam
COLORS={'main':'[0,97,255]', 'static':'[255,153,0]'}
"""

FULL_VALUES = {
    "APP_VERSION": "2.4.1", "CUSTOM_LINK": "monitor", "MONITOR_LEVEL": 3, "OUTLIER_DETECTION_CONSTANT": 3.5,
    "SAMPLING_PERIOD": 20.0, "ENABLE_LOGGING": True, "USERNAME": "boss", "PASSWORD": "s3cret",
    "SECURITY_TOKEN": "tok-1234567890abcdef", "TABLE_PREFIX": "mon_",
    "DATABASE": "postgresql+psycopg://fmd@db.example/fmd",
    "TIMEZONE": "Europe/Amsterdam", "COLORS": {"main": (0, 97, 255), "static": (255, 153, 0)},
}


def write(tmp_path: Path, text: str, name: str = "config.cfg") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def resolve(cfg: Config, app_config: dict | None = None, kwargs: dict | None = None,
            environ: dict | None = None, root: Path = Path("/srv/app")):  # noqa: ANN201
    return cfg.resolve(app_config or {}, kwargs or {}, root, environ=environ or {})


# ------------------------------------------------------------------------------------------ the file


def test_every_fmd_option_is_read_from_the_file(tmp_path: Path) -> None:
    cfg = Config()
    path = write(tmp_path, FULL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete, correct file warns about nothing
        cfg.init_from(file=path)
    settings = resolve(cfg)
    for key, value in FULL_VALUES.items():
        assert settings.values[key] == value, key
        assert settings.sources[key] == f"config file {path}", key
    assert set(FULL_VALUES) | {"GIT"} <= set(OPTIONS)  # GIT: see the git tests below


def test_defaults() -> None:
    settings = resolve(Config())
    assert settings.values == {key: option.default for key, option in OPTIONS.items()}
    assert set(settings.sources.values()) == {"default"}
    assert settings.monitor_level == 1 and settings.custom_link == "dashboard" and settings.table_prefix == "fmd_"


def test_keys_and_sections_are_case_insensitive_and_fmd_spellings_work(tmp_path: Path) -> None:
    cfg = Config()
    cfg.init_from(file=write(tmp_path, """\
        [Dashboard]
        monitor_level = 2
        OUTlIER_DETECTION_CONSTANT = 4
        SAMPLING_RATE = 12
        custom_link = /stats/
        ENABLE_LOGGING = false
        [VISUALIZATION]
        colors = {'index': [1, 2, 3]}
        """))
    values = resolve(cfg).values
    assert values["MONITOR_LEVEL"] == 2 and values["OUTLIER_DETECTION_CONSTANT"] == 4.0
    assert values["SAMPLING_PERIOD"] == 12.0  # FMD 3.x's own code reads SAMPLING_RATE
    assert values["CUSTOM_LINK"] == "stats" and values["ENABLE_LOGGING"] is False
    assert values["COLORS"] == {"index": (1, 2, 3)}


def test_init_from_envvar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_APP_FMD_FILE", str(write(tmp_path, "[dashboard]\nMONITOR_LEVEL=0\n")))
    cfg = Config()
    cfg.init_from(envvar="MY_APP_FMD_FILE")
    assert resolve(cfg).values["MONITOR_LEVEL"] == 0


def test_file_then_code_and_code_then_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[dashboard]\nMONITOR_LEVEL=2\n")
    cfg = Config()
    cfg.init_from(file=path)
    cfg.monitor_level = 3
    assert resolve(cfg).values["MONITOR_LEVEL"] == 3 and resolve(cfg).sources["MONITOR_LEVEL"] == \
        "fmd.config.monitor_level"
    cfg.init_from(file=path)  # whichever happened last wins
    assert resolve(cfg).values["MONITOR_LEVEL"] == 2
    assert cfg.monitor_level == 2


# ------------------------------------------------------------------------------------------ precedence


def test_precedence(tmp_path: Path) -> None:
    cfg = Config()
    cfg.init_from(file=write(tmp_path, "[dashboard]\nMONITOR_LEVEL=1\nAPP_VERSION=file\nCUSTOM_LINK=file\n"
                                       "[authentication]\nUSERNAME=file\n"))
    environ = {"FMD_MONITOR_LEVEL": "2", "FMD_APP_VERSION": "env", "FMD_CUSTOM_LINK": "env"}
    app_config = {"FMD_MONITOR_LEVEL": 3, "FMD_APP_VERSION": "app"}
    kwargs = {"monitor_level": 0}
    s = resolve(cfg, app_config, kwargs, environ)
    assert s.values["MONITOR_LEVEL"] == 0 and s.sources["MONITOR_LEVEL"] == "bind(monitor_level=...)"
    assert s.values["APP_VERSION"] == "app" and s.sources["APP_VERSION"] == "app.config['FMD_APP_VERSION']"
    assert s.values["CUSTOM_LINK"] == "env" and s.sources["CUSTOM_LINK"] == "environment variable FMD_CUSTOM_LINK"
    assert s.values["USERNAME"] == "file" and s.sources["USERNAME"].startswith("config file ")
    assert s.values["TIMEZONE"] == "UTC" and s.sources["TIMEZONE"] == "default"


def test_bare_environment_variables_are_never_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"USERNAME": "mallory", "PASSWORD": "hunter2", "DATABASE": "sqlite:////tmp/evil.db",
                        "MONITOR_LEVEL": "3", "TIMEZONE": "Asia/Tokyo", "APP_VERSION": "os",
                        "TABLE_PREFIX": "evil_", "SECURITY_TOKEN": "leak"}.items():
        monkeypatch.setenv(name, value)
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    state = fmd.bind(app)
    try:
        assert state.settings.username == "admin" and state.settings.password == "admin"
        assert state.settings.database is None and state.settings.monitor_level == 1
        assert state.settings.timezone == "UTC" and state.settings.table_prefix == "fmd_"
        assert state.settings.security_token is None and state.version == "1.0"
        monkeypatch.setenv("FMD_USERNAME", "alice")  # the namespaced one is read
        assert Config().resolve({}, {}, Path("."), environ=None).username == "alice"
    finally:
        state.close(1)


def test_every_option_through_app_config_and_bind(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Each FMD_* key and each bind() keyword reaches the bound app's settings."""
    fmd_logger = logging.getLogger("fmd")
    request.addfinalizer(lambda level=fmd_logger.level: fmd_logger.setLevel(level))  # ENABLE_LOGGING sets INFO
    before = list(fmd_logger.handlers)  # ... and may add a stderr handler (run without pytest's log capture)
    request.addfinalizer(lambda: [fmd_logger.removeHandler(h) for h in fmd_logger.handlers[:] if h not in before])
    values = dict(FULL_VALUES, DATABASE=f"sqlite:///{tmp_path / 'x.db'}")
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config.update({f"FMD_{key}": value for key, value in values.items()})
    state = fmd.bind(app)
    try:
        for key, value in values.items():
            assert state.settings.values[key] == value and state.settings.sources[key] == f"app.config['FMD_{key}']"
    finally:
        state.close(1)
    other = Flask("other", instance_path=str(tmp_path / "instance"))
    state = fmd.bind(other, **{key.lower(): value for key, value in values.items()})
    try:
        for key, value in values.items():
            assert state.settings.values[key] == value and state.settings.sources[key] == f"bind({key.lower()}=...)"
    finally:
        state.close(1)


def test_app_config_takes_native_types_and_strings() -> None:
    s = resolve(Config(), {"FMD_MONITOR_LEVEL": "2", "FMD_ENABLE_LOGGING": "yes", "FMD_COLORS": "{'a': (1, 2, 3)}",
                           "FMD_OUTLIER_DETECTION_CONSTANT": 4})
    assert s.monitor_level == 2 and s.enable_logging is True and s.colors == {"a": (1, 2, 3)}
    assert s.outlier_detection_constant == 4.0


def test_secrets_are_masked_for_display(tmp_path: Path) -> None:
    cfg = Config()
    cfg.init_from(file=write(tmp_path, FULL))
    shown = {key: value for _, key, value, _ in resolve(cfg).masked()}
    assert shown["PASSWORD"] == "********" and shown["SECURITY_TOKEN"] == "********"
    assert shown["USERNAME"] == "boss" and "s3cret" not in repr(resolve(cfg).masked())


# ------------------------------------------------------------------------------------------ errors

BAD = [
    ("dashboard", "MONITOR_LEVEL", "5", "a whole number from 0 to 3"),
    ("dashboard", "MONITOR_LEVEL", "high", "a whole number from 0 to 3"),
    ("dashboard", "OUTLIER_DETECTION_CONSTANT", "-1", "a number greater than 0"),
    ("dashboard", "OUTLIER_DETECTION_CONSTANT", "0", "a number greater than 0"),
    ("dashboard", "SAMPLING_PERIOD", "fast", "a number from 1 to 10000"),
    ("dashboard", "SAMPLING_PERIOD", "0.5", "a number from 1 to 10000"),
    ("dashboard", "SAMPLING_PERIOD", "-5", "a number from 1 to 10000"),
    ("dashboard", "ENABLE_LOGGING", "maybe", "true or false"),
    ("dashboard", "CUSTOM_LINK", "my dashboard", "a URL path"),
    ("dashboard", "TRUSTED_PROXIES", "-1", "a whole number from 0 to 10"),
    ("visualization", "TIMEZONE", "Mars/Base", "an IANA time zone name"),
    ("visualization", "TIMEZONE", "../../etc/passwd", "an IANA time zone name"),
    ("visualization", "COLORS", "['main', 'static']", "a mapping of endpoint name to an RGB triple"),
    ("visualization", "COLORS", "{'main': [0, 97]}", "a mapping of endpoint name to an RGB triple"),
    ("visualization", "COLORS", "{'main': [0, 97, 256]}", "a mapping of endpoint name to an RGB triple"),
    ("visualization", "COLORS", "{'main': 'blue'}", "a mapping of endpoint name to an RGB triple"),
    ("visualization", "COLORS", "{'main': (0.5, 1, 2)}", "a mapping of endpoint name to an RGB triple"),
    ("visualization", "COLORS", "not python", "a mapping of endpoint name to an RGB triple"),
    ("database", "DATABASE", "nosuchdb://user@host/db", "a URL whose dialect SQLAlchemy knows"),
    ("database", "DATABASE", "fmd.db", "an SQLAlchemy database URL"),
    ("database", "TABLE_PREFIX", "fmd-", "1-24 letters, digits or underscores, starting with a letter"),
    ("database", "TABLE_PREFIX", "9lives_", "1-24 letters, digits or underscores, starting with a letter"),
]


@pytest.mark.parametrize(("section", "key", "value", "expected"), BAD, ids=[f"{k}={v}" for _, k, v, _ in BAD])
def test_bad_value_in_file_names_everything(section: str, key: str, value: str, expected: str,
                                            tmp_path: Path) -> None:
    path = write(tmp_path, f"[{section}]\n{key} = {value}\n")
    with pytest.raises(ConfigError) as info:
        Config().init_from(file=path)
    message = str(info.value)
    assert str(path) in message and f"[{section}]" in message and key in message
    assert repr(value) in message and f"expected {expected}" in message


#: The issue's list of bad values, also given through the environment, app.config, bind() and code.
REQUIRED = [b for b in BAD if (b[1], b[2]) in {("MONITOR_LEVEL", "5"), ("OUTLIER_DETECTION_CONSTANT", "-1"),
                                               ("SAMPLING_PERIOD", "fast"), ("TIMEZONE", "Mars/Base"),
                                               ("COLORS", "['main', 'static']"),
                                               ("DATABASE", "nosuchdb://user@host/db")}]


@pytest.mark.parametrize(("section", "key", "value", "expected"), REQUIRED, ids=[f"{k}={v}" for _, k, v, _ in REQUIRED])
def test_bad_value_from_other_sources_names_the_source(section: str, key: str, value: str, expected: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for source, kwargs in [(f"environment variable FMD_{key}", {"environ": {f"FMD_{key}": value}}),
                           (f"app.config['FMD_{key}']", {"app_config": {f"FMD_{key}": value}}),
                           (f"bind({key.lower()}=...)", {"kwargs": {key.lower(): value}})]:
        with pytest.raises(ConfigError) as info:
            resolve(Config(), **kwargs)
        message = str(info.value)
        assert message.startswith(source) and f"[{section}] {key} = {value!r}" in message, message
        assert f"expected {expected}" in message
    with pytest.raises(ConfigError, match=f"fmd.config.{key.lower()}: .*{key}"):
        setattr(Config(), key.lower(), value)


def test_bind_rejects_a_bad_value_before_touching_the_app(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    with pytest.raises(ConfigError, match=r"bind\(monitor_level=\.\.\.\): \[dashboard\] MONITOR_LEVEL = 5"):
        fmd.bind(app, monitor_level=5)
    assert "fmd" not in app.extensions and "FMD_MONITOR_LEVEL" not in app.config


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*nope\.cfg does not exist; expected an INI file"):
        Config().init_from(file=tmp_path / "nope.cfg")
    with pytest.raises(ConfigError, match="is a directory"):
        Config().init_from(file=tmp_path)


def test_unset_or_empty_envvar(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FMD_TEST_NO_SUCH_VAR", raising=False)
    with pytest.raises(ConfigError, match="environment variable FMD_TEST_NO_SUCH_VAR is not set"):
        Config().init_from(envvar="FMD_TEST_NO_SUCH_VAR")
    monkeypatch.setenv("FMD_TEST_NO_SUCH_VAR", "")
    with pytest.raises(ConfigError, match="FMD_TEST_NO_SUCH_VAR is not set"):
        Config().init_from(envvar="FMD_TEST_NO_SUCH_VAR")
    monkeypatch.setenv("FMD_TEST_NO_SUCH_VAR", str(tmp_path / "gone.cfg"))
    with pytest.raises(ConfigError, match=r"gone\.cfg \(named by environment variable FMD_TEST_NO_SUCH_VAR\) "
                                          "does not exist"):
        Config().init_from(envvar="FMD_TEST_NO_SUCH_VAR")
    with pytest.raises(ConfigError, match="needs file"):
        Config().init_from()


@pytest.mark.parametrize("content", [b"MONITOR_LEVEL=2\n", b"[dashboard\nMONITOR_LEVEL=2\n",
                                     b"[dashboard]\nAPP_VERSION=\xff\xfe\n"], ids=["no section", "bad header",
                                                                                   "not utf-8"])
def test_not_an_ini_file(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "config.cfg"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"config file {path}: expected an INI file"):
        Config().init_from(file=path)


def test_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    cfg = Config()
    with pytest.raises(ConfigError):
        cfg.init_from(file=write(tmp_path, "[dashboard]\nAPP_VERSION=9\nMONITOR_LEVEL=7\n"))
    assert resolve(cfg).values["APP_VERSION"] == "1.0"


def test_unknown_code_option_and_bind_keyword() -> None:
    with pytest.raises(AttributeError, match="no option 'monitor_levl'"):
        Config().monitor_levl = 2  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"bind\(monitor_levl=\.\.\.\): unknown option \(did you mean "
                                          "MONITOR_LEVEL\\?\\)"):
        resolve(Config(), kwargs={"monitor_levl": 2})


# ------------------------------------------------------------------------------------------ warnings


def init_warnings(path: Path) -> tuple[Config, list[str]]:
    cfg = Config()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg.init_from(file=path)
    return cfg, [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]


def test_unknown_section_and_key_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        [dashboard]
        MONITOR_LEVL = 2
        APP_VERSION = 3.0
        [dashbaord]
        MONITOR_LEVEL = 3
        [DEFAULT]
        USERNAME = x
        """)
    cfg, messages = init_warnings(path)
    assert len(messages) == 3, messages
    assert any("unknown key [dashboard] MONITOR_LEVL" in m and "did you mean MONITOR_LEVEL?" in m for m in messages)
    assert any("unknown section [dashbaord]" in m and "did you mean dashboard?" in m for m in messages)
    assert any("unknown section [DEFAULT]" in m for m in messages)
    assert all(str(path) in m for m in messages)
    s = resolve(cfg)
    assert s.app_version == "3.0" and s.monitor_level == 1 and s.username == "admin"  # the typos are not used


def test_fmd_options_fmd_does_not_use_warn_but_load(tmp_path: Path) -> None:
    cfg, messages = init_warnings(write(tmp_path, "[dashboard]\nBRAND_NAME=Shop\nSHOW_LOGIN_BANNER=True\n"
                                                  "MONITOR_LEVEL=2\n"))
    assert len(messages) == 2 and all("Flask-MonitoringDashboard option fmd does not use" in m for m in messages)
    assert resolve(cfg).monitor_level == 2


def test_key_in_the_wrong_section_warns_and_counts(tmp_path: Path) -> None:
    cfg, messages = init_warnings(write(tmp_path, "[dashboard]\nTIMEZONE=Asia/Tokyo\n"))
    assert messages == [f"config file {tmp_path / 'config.cfg'}: [dashboard] TIMEZONE belongs in [visualization]; "
                        "using it anyway"]
    assert resolve(cfg).timezone == "Asia/Tokyo"


def test_unknown_app_config_key_warns() -> None:
    with pytest.warns(ConfigWarning, match=r"app.config\['FMD_MONITORING_LEVEL'\] is not an fmd option.*"
                                           "did you mean MONITOR_LEVEL"):
        resolve(Config(), {"FMD_MONITORING_LEVEL": 2, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


# ------------------------------------------------------------------------------------------ GIT


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "HOME": str(repo), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository with two commits on branch main, next to the config file's directory."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for n in (1, 2):
        (path / "app.py").write_text(f"version = {n}\n")
        git(path, "add", "app.py")
        git(path, "commit", "-q", "-m", f"commit {n}")
    return path


def version_with(config_dir: Path, git_value: str, app_version: str = "9.9") -> str:
    config_dir.mkdir(exist_ok=True)
    cfg = Config()
    cfg.init_from(file=write(config_dir, f"[dashboard]\nAPP_VERSION={app_version}\nGIT={git_value}\n"))
    app = Flask("host", instance_path=str(config_dir / "instance"))
    state = fmd.FMD(config=cfg).init_app(app)
    state.close(1)
    return state.version


def test_git_commit_is_the_version(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    # Relative to the config file, not to the working directory: the file lives in tmp_path/conf.
    assert version_with(tmp_path / "conf", "../project/.git") == head[:12]
    assert version_with(tmp_path / "conf", "../project") == head[:12]  # the working tree works too
    assert version_with(tmp_path / "conf", str(repo / ".git")) == head[:12]
    assert len(head[:12]) == 12


def test_git_with_packed_refs(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()  # only packed-refs holds it now
    assert version_with(tmp_path / "conf", "../project/.git") == head[:12]


def test_git_detached_head(repo: Path, tmp_path: Path) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", first)
    assert version_with(tmp_path / "conf", "../project/.git") == first[:12]


def test_git_worktree(repo: Path, tmp_path: Path) -> None:
    git(repo, "pack-refs", "--all")
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tmp_path / "wt"), "HEAD~1")
    first = git(repo, "rev-parse", "HEAD~1")
    assert (tmp_path / "wt" / ".git").is_file()  # "gitdir: ..." pointing into the main repository
    assert version_with(tmp_path / "conf", "../wt") == first[:12]


def test_git_repository_without_commits_falls_back_to_app_version(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    git(tmp_path / "empty", "init", "-q")
    assert version_with(tmp_path / "conf", "../empty/.git", app_version="3.1") == "3.1"


def test_app_version_without_git(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path))
    state = fmd.bind(app, app_version="5.0")
    state.close(1)
    assert state.version == "5.0"


def test_git_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    path = write(tmp_path, "[dashboard]\nGIT=plain\n")
    with pytest.raises(ConfigError) as info:
        Config().init_from(file=path)
    message = str(info.value)
    assert str(path) in message and "[dashboard] GIT = 'plain'" in message
    assert "expected the path of a git repository" in message and str(tmp_path / "plain") in message
    with pytest.raises(ConfigError, match=r"bind\(git=\.\.\.\): \[dashboard\] GIT = '/no/such/repo'"):
        resolve(Config(), kwargs={"git": "/no/such/repo"})


def test_git_from_app_config_is_relative_to_the_app_root(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    s = resolve(Config(), {"FMD_GIT": ".git"}, root=repo)
    assert s.git == str(repo / ".git")
    from fmd.instrument.version import app_version

    assert app_version("1.0", s.git) == head[:12]


def test_recorded_requests_carry_the_commit(repo: Path, tmp_path: Path, prefix: str) -> None:
    from sqlalchemy import select

    head = git(repo, "rev-parse", "HEAD")
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.add_url_rule("/", "index", lambda: "hi")
    state = fmd.bind(app, git=str(repo), database=f"sqlite:///{tmp_path / 'fmd.db'}", table_prefix=prefix,
                     flush_interval=0.05)
    try:
        app.test_client().get("/")
        assert state.flush(10)
        t = state.store.tables
        with state.store.read() as conn:
            assert conn.execute(select(t.request.c.version_requested)).scalars().all() == [head[:12]]
    finally:
        state.close(1)
