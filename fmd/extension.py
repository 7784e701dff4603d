"""``FMD.init_app``: resolve the configuration, build the per-app state, hook requests, mount the dashboard.

Binding does no database I/O and imports neither SQLAlchemy's dialects nor Altair: the engine, schema
check and writer thread start in each process on first use (after gunicorn's fork).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .instrument import install
from .instrument.guard import ErrorLog
from .instrument.levels import Levels
from .instrument.maintenance import Maintenance
from .instrument.recorder import Recorder
from .instrument.version import app_version
from .mount import DashboardMount
from .state import State
from .store.engine import Store

log = logging.getLogger("fmd")

DEFAULT_PASSWORD = "admin"


class FMD:
    """The extension object: ``FMD(app)`` or ``ext = FMD(); ext.init_app(app)``.

    Keyword options override every other source (see ``fmd.config``), e.g. ``FMD(app, database=url)``.
    """

    def __init__(self, app: Flask | None = None, config: config_module.Config | None = None, **options: Any) -> None:
        self._config = config
        self._options = options
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> State:
        """Bind fmd to *app*. Reads FMD_* keys of ``app.config`` (see the README's configuration table)."""
        if "fmd" in app.extensions:
            raise RuntimeError(f"fmd is already bound to the app {app.name!r}; bind it once per app.")
        if self._config is not None:
            cfg = self._config
        else:
            import fmd  # the process-wide fmd.config, looked up now (tests and apps may replace it)

            cfg = fmd.config
        settings = cfg.resolve(app.config, self._options, Path(app.root_path))
        for key in config_module.OPTIONS:  # make the effective values visible to the host, as extensions do
            app.config.setdefault(f"FMD_{key}", settings.values[key])
        if settings.enable_logging:
            logging.getLogger("fmd").setLevel(logging.INFO)
        database = settings.database or _default_database(app)
        version = app_version(settings.app_version, settings.git)
        store = Store(database, settings.table_prefix)
        levels = Levels(settings.monitor_level)
        levels.seed(list(app.view_functions))
        errors = ErrorLog()
        recorder = Recorder(store, levels, version, queue_size=settings.queue_size, batch_size=settings.batch_size,
                            flush_interval=settings.flush_interval, sync_interval=settings.sync_interval,
                            errors=errors, endpoint_names=lambda: list(app.view_functions))
        recorder.maintenance = Maintenance.from_settings(store, settings, errors)  # the retention job's thread
        state = State(settings=settings, version=version, store=store, levels=levels, recorder=recorder,
                      errors=errors)
        app.extensions["fmd"] = state
        state.host_app = app
        install(app, state)
        state.dashboard = DashboardMount(app.wsgi_app, state, "/" + settings.custom_link)
        app.wsgi_app = state.dashboard  # type: ignore[method-assign]
        from .cli import fmd_group

        app.cli.add_command(fmd_group)
        if settings.password == DEFAULT_PASSWORD:
            log.warning("fmd: the dashboard password is the default %r; set PASSWORD (or FMD_PASSWORD) "
                        "before exposing /%s", DEFAULT_PASSWORD, settings.custom_link)
        _bound.append(state)
        return state


def _default_database(app: Flask) -> str:
    """``sqlite:///<app.instance_path>/fmd.db``, creating the instance folder when needed."""
    os.makedirs(app.instance_path, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'fmd.db'}"


#: States bound in this process, newest last (for fmd.flush(), fmd.stats() outside an app context).
_bound: list[State] = []
