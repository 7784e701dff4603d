"""``FMD.init_app``: resolve the configuration, build the per-app state, hook requests, mount the dashboard.

Binding does no database I/O and imports neither SQLAlchemy's dialects nor Altair: the engine, schema
check and writer thread start in each process on first use (after gunicorn's fork). Binding never raises
for fmd's own storage: a database fmd cannot create is logged, and the host runs unrecorded while the
dashboard explains why. The host's ``app.config`` is left as the host set it (fmd's effective settings,
secrets included, live in ``app.extensions["fmd"].settings``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .api_token import api_token
from .instrument import install
from .instrument.exceptions import ExceptionCapture
from .instrument.guard import ErrorLog
from .instrument.hooks import WRAPPER_CODES
from .instrument.levels import Levels
from .instrument.maintenance import Maintenance
from .instrument.outliers import Baselines, Watchdog
from .instrument.profiler import Sampler
from .instrument.recorder import Recorder
from .instrument.redact import Redactor
from .instrument.tracebacks import AppCode
from .instrument.version import app_version
from .lifecycle import bound, close_when_collected, weak_endpoint_names
from .logs import enable_logging
from .mount import DashboardMount
from .state import DisabledState, State
from .store.engine import Store
from .store.hostalembic import protect_from_host_migrate

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

    def init_app(self, app: Flask) -> State | DisabledState:
        """Bind fmd to *app*. Reads FMD_* keys of ``app.config`` (see the README's configuration table).

        With ENABLED false nothing is bound (no hooks, dashboard, threads or database): the returned
        state answers ``stats()`` with ``enabled: False`` and ignores ``set_level`` and ``flush``.
        """
        if "fmd" in app.extensions:
            raise RuntimeError(f"fmd is already bound to the app {app.name!r}; bind it once per app.")
        if self._config is not None:
            cfg = self._config
        else:
            import fmd  # the process-wide fmd.config, looked up now (tests and apps may replace it)

            cfg = fmd.config
        settings = cfg.resolve(app.config, self._options, Path(app.root_path))
        # The export API's token: a short one is refused now, a documented example turns the API off (logged).
        token = api_token(settings.security_token, settings.sources["SECURITY_TOKEN"])
        # Nothing is copied into app.config: a host template rendering {{ config }} must not show fmd's
        # password, secret key, token or database URL (issue 7 item 12).
        if settings.enable_logging:
            enable_logging()
        from .cli import fmd_group

        app.cli.add_command(fmd_group)  # also when disabled: the commands then say so
        # Also when disabled: the host's `flask db migrate` must not drop fmd's tables in a shared database.
        protect_from_host_migrate(app, settings.table_prefix)
        if not settings.enabled:
            disabled = DisabledState(settings)
            app.extensions["fmd"] = disabled
            bound.add(disabled)
            log.info("fmd: disabled for app %r (ENABLED from %s)", app.name, settings.sources["ENABLED"])
            return disabled
        database, unavailable = _database_for(app, settings)
        version = app_version(settings.app_version, settings.git)
        store = Store(database, settings.table_prefix)
        levels = Levels(settings.monitor_level)
        levels.seed(list(app.view_functions))
        errors = ErrorLog()
        baselines = Baselines(settings.outlier_detection_constant, settings.outlier_min_ms / 1000.0)
        app_code = AppCode([os.path.join(app.root_path, path) for path in settings.app_paths] or None)
        redactor = Redactor(settings.redact)
        recorder = Recorder(store, levels, version, queue_size=settings.queue_size, batch_size=settings.batch_size,
                            flush_interval=settings.flush_interval, sync_interval=settings.sync_interval,
                            errors=errors, endpoint_names=weak_endpoint_names(app), baselines=baselines,
                            redactor=redactor)
        recorder.maintenance = Maintenance.from_settings(store, settings, errors)  # the retention job's thread
        state = State(settings=settings, version=version, store=store, levels=levels, recorder=recorder,
                      errors=errors, unavailable=unavailable, baselines=baselines,
                      exceptions=ExceptionCapture(app_code, redactor))
        state.watchdog = recorder.watchdog = Watchdog(state.inflight, baselines, app_code, errors, WRAPPER_CODES)
        state.sampler = recorder.sampler = Sampler(state.inflight, errors, settings.sampling_period / 1000.0,
                                                   WRAPPER_CODES)
        app.extensions["fmd"] = state
        state.host_app = app
        state.api_token = token  # None: the API answers 404 (fmd.blueprints.api)
        if unavailable is None:  # else nothing is queued: the host's requests are served unrecorded
            install(app, state)
            # issue 8 (SERVERS): the server's limits, warned once; uWSGI's post-fork reset; SIGTERM flush.
            from .instrument import servers, shutdown

            servers.install_hooks()
            servers.warn_once(log)
            shutdown.install()
        state.dashboard = DashboardMount(app.wsgi_app, state, "/" + settings.custom_link)
        app.wsgi_app = state.dashboard  # type: ignore[method-assign]
        if settings.password == DEFAULT_PASSWORD:
            log.warning("fmd: the dashboard password is the default %r; set PASSWORD (or FMD_PASSWORD) "
                        "before exposing /%s", DEFAULT_PASSWORD, settings.custom_link)
        bound.add(state)
        close_when_collected(app, recorder, store)
        from .graphs.registry import adopt_pending  # (stdlib only: APScheduler waits for the first graph's run)

        adopt_pending(state)  # custom graphs added before bind (fmd.add_graph)
        return state


def _database_for(app: Flask, settings: config_module.Settings) -> tuple[str, str | None]:
    """fmd's database URL and, when fmd cannot use it at all, why (logged once, shown on the dashboard).

    DATABASE when set; for an app with TESTING=True an in-memory database of its own (never the
    development ``instance/fmd.db``); else ``sqlite:///<app.instance_path>/fmd.db``, creating the instance
    folder as Flask apps expect.
    """
    if settings.database:
        return settings.database, None
    if app.config.get("TESTING"):
        return "sqlite://", None
    url = f"sqlite:///{Path(app.instance_path) / 'fmd.db'}"
    try:
        os.makedirs(app.instance_path, exist_ok=True)
    except OSError as exc:
        reason = (f"fmd cannot create its database: the instance folder {app.instance_path} cannot be created "
                  f"({type(exc).__name__}: {exc.strerror or exc}). Requests are served but not recorded; "
                  "set DATABASE (FMD_DATABASE) to a database fmd can write.")
        log.error("%s", reason)
        return url, reason
    return url, None
