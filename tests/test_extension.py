"""The extension: bind once per app, per-app state, the factory form, app.config keys, cheap import+bind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

import fmd


def rows(app: Flask) -> list[tuple[str, int]]:
    state = app.extensions["fmd"]
    assert state.flush(10)
    t = state.store.tables
    with state.store.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(t.endpoint.c.name, t.request.c.status_code).join(t.endpoint).order_by(t.request.c.id))]


def test_binding_twice_is_an_error(sqlite_url: str, make_app) -> None:  # noqa: ANN001
    app = make_app(sqlite_url)
    state = app.extensions["fmd"]
    with pytest.raises(RuntimeError, match="already bound to the app 'host'"):
        fmd.bind(app)
    with pytest.raises(RuntimeError, match="already bound"):
        fmd.FMD().init_app(app)
    assert app.extensions["fmd"] is state
    app.test_client().get("/")
    assert rows(app) == [("index", 200)]  # still hooked exactly once: one request, one row


@pytest.mark.parametrize("separate", ["prefixes", "databases"])
def test_two_apps_in_one_process(separate: str, tmp_path: Path, make_app, new_host_app) -> None:  # noqa: ANN001
    shop, blog = new_host_app(), new_host_app()
    if separate == "prefixes":
        make_app(f"sqlite:///{tmp_path / 'shared.db'}", app=shop, table_prefix="shop_")
        make_app(f"sqlite:///{tmp_path / 'shared.db'}", app=blog, table_prefix="blog_")
    else:
        make_app(f"sqlite:///{tmp_path / 'shop.db'}", app=shop)
        make_app(f"sqlite:///{tmp_path / 'blog.db'}", app=blog, monitor_level=0)
    assert shop.extensions["fmd"] is not blog.extensions["fmd"]
    assert shop.extensions["fmd"].recorder is not blog.extensions["fmd"].recorder
    for _ in range(2):
        shop.test_client().get("/")
    for _ in range(3):
        blog.test_client().get("/tuple")
    assert rows(shop) == [("index", 200)] * 2
    assert rows(blog) == ([("tuple_view", 200)] * 3 if separate == "prefixes" else [])
    assert fmd.stats(shop)["rows_written"] == 2
    with blog.app_context():  # fmd.stats() without an app: the current one
        assert fmd.stats()["rows_written"] == (3 if separate == "prefixes" else 0)


def test_factory_form_reads_app_config(tmp_path: Path, prefix: str, new_host_app) -> None:  # noqa: ANN001
    ext = fmd.FMD()
    apps = []
    for name in ("first", "second"):
        app = new_host_app()
        app.config.update(FMD_DATABASE=f"sqlite:///{tmp_path / name}.db", FMD_TABLE_PREFIX=prefix,
                          FMD_MONITOR_LEVEL=2, FMD_APP_VERSION=f"{name}-1", FMD_FLUSH_INTERVAL=0.05)
        state = ext.init_app(app)  # one extension object, many apps (application factories)
        apps.append(app)
        assert state is app.extensions["fmd"]
        assert state.store.url == f"sqlite:///{tmp_path / name}.db" and state.store.prefix == prefix
        assert state.settings.monitor_level == 2 and state.version == f"{name}-1"
    try:
        apps[0].test_client().get("/")
        assert rows(apps[0]) == [("index", 200)] and rows(apps[1]) == []
    finally:
        for app in apps:
            app.extensions["fmd"].close(5)


def test_constructor_form_with_keywords(tmp_path: Path, prefix: str, new_host_app) -> None:  # noqa: ANN001
    app = new_host_app()
    ext = fmd.FMD(app, database=f"sqlite:///{tmp_path / 'x.db'}", table_prefix=prefix, custom_link="ops/monitor")
    state = app.extensions["fmd"]
    try:
        assert isinstance(ext, fmd.FMD) and state.settings.custom_link == "ops/monitor"
        client = app.test_client()
        client.get("/ops/monitor/")  # the dashboard, at CUSTOM_LINK: not the host's, not recorded
        assert client.get("/").data == b"hello"
        assert rows(app) == [("index", 200)]
    finally:
        state.close(5)


def test_host_config_is_left_as_the_host_set_it(tmp_path: Path) -> None:
    """fmd copies nothing into app.config: its secrets and database URL stay out of the host's config."""
    app = Flask("host", instance_path=str(tmp_path / "instance"))
    app.config["FMD_MONITOR_LEVEL"] = "2"  # the host's own value stays as the host wrote it
    app.config["FMD_PASSWORD"] = "host-set-password"
    before = dict(app.config)
    state = fmd.bind(app, app_version="7.0", secret_key="kw-secret-key-0123", security_token="kw-token-4567-abcdef",
                     database=f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert dict(app.config) == before
        assert sorted(k for k in app.config if k.startswith("FMD_")) == ["FMD_MONITOR_LEVEL", "FMD_PASSWORD"]
        assert app.config["FMD_MONITOR_LEVEL"] == "2" and state.settings.monitor_level == 2
        assert state.settings.app_version == "7.0" and state.settings.password == "host-set-password"
    finally:
        state.close(1)


def test_host_template_rendering_config_shows_no_fmd_secret(tmp_path: Path) -> None:
    app = Flask("host", instance_path=str(tmp_path / "instance"))

    @app.route("/config")
    def show_config() -> str:
        from flask import render_template_string

        return render_template_string("{{ config }}")

    state = fmd.bind(app, password="pw-0123456789", secret_key="sk-0123456789", security_token="tk-0123456789-abcdef",
                     database="postgresql://fmd:db-pass-0123@127.0.0.1:1/fmd")
    try:
        page = app.test_client().get("/config").get_data(as_text=True)
        assert "SECRET_KEY" in page  # the host's own config is there
        for secret in ("pw-0123456789", "sk-0123456789", "tk-0123456789-abcdef", "db-pass-0123", "FMD_"):
            assert secret not in page
    finally:
        state.close(1)


def test_default_database_is_in_the_instance_folder(tmp_path: Path, new_host_app) -> None:  # noqa: ANN001
    instance = tmp_path / "instance"
    app = new_host_app()
    app.instance_path = str(instance)
    state = fmd.bind(app, flush_interval=0.05)
    try:
        assert state.store.url == f"sqlite:///{instance / 'fmd.db'}"
        assert instance.is_dir()  # created by bind, as Flask apps expect of their instance folder
        app.test_client().get("/")
        assert rows(app) == [("index", 200)]
        assert (instance / "fmd.db").is_file()
    finally:
        state.close(5)


def test_import_and_bind_stay_light(tmp_path: Path) -> None:
    """Importing and binding fmd loads no database dialect, no Altair, no Alembic, no SciPy/pandas."""
    code = textwrap.dedent(f"""
        import json, sys
        from flask import Flask
        app = Flask("host", instance_path={str(tmp_path / "instance")!r})

        @app.route("/")
        def index():
            return "hi"

        import fmd
        fmd.bind(app)
        heavy = ("altair", "alembic", "sqlalchemy.dialects", "scipy", "pandas")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(heavy))))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_sqlite_files_are_readable_by_the_owner_only(tmp_path: Path, new_host_app) -> None:  # noqa: ANN001
    import os
    import stat

    app = new_host_app()
    app.instance_path = str(tmp_path / "instance")
    old_umask = os.umask(0o022)  # the usual umask, under which SQLite would create 0644 files
    try:
        state = fmd.bind(app, flush_interval=0.05)
        app.test_client().get("/")
        assert state.flush(10)
        files = sorted(p.name for p in (tmp_path / "instance").iterdir())
        assert {"fmd.db", "fmd.db-wal", "fmd.db-shm", "fmd.db.fmd-lock"} <= set(files), files
        for name in files:
            mode = stat.S_IMODE((tmp_path / "instance" / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
    finally:
        os.umask(old_umask)
        state.close(5)
