"""Per-app state of a bound fmd, kept in ``app.extensions["fmd"]``.

The state refers to its host app only weakly (``host_app``): a host test suite builds hundreds of apps,
and each must be free to go, taking fmd's threads and connections with it (see ``fmd.extension``).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .instrument.guard import ErrorLog
from .instrument.levels import Levels, is_static
from .instrument.recorder import Recorder
from .store.engine import Store

log = logging.getLogger("fmd")

LEVELS = (0, 1, 2, 3)


def _check_level(endpoint: str, level: int) -> None:
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValueError(f"monitoring level must be one of {LEVELS}, not {level!r}")
    if not isinstance(endpoint, str) or not endpoint or is_static(endpoint):
        raise ValueError(f"not a monitorable endpoint: {endpoint!r}")


@dataclass(eq=False)
class State:
    settings: Settings
    version: str
    store: Store
    levels: Levels
    recorder: Recorder
    errors: ErrorLog
    #: thread ident -> (started epoch, endpoint, level) of every monitored request under way
    inflight: dict = field(default_factory=dict)
    dashboard: Any = None
    #: Level 2: outlier thresholds per endpoint, the watchdog thread, the exception capture (see extension)
    baselines: Any = None
    watchdog: Any = None
    exceptions: Any = None
    #: Level 3: the sampling profiler's thread (fmd.instrument.profiler)
    sampler: Any = None
    #: The export API's token (fmd.api_token); None: the API is off and answers 404
    api_token: str | None = None
    #: Why fmd cannot use its database at all (e.g. an instance folder that cannot be created): requests
    #: are then served unrecorded and the dashboard explains this reason with a 503. None when fine.
    unavailable: str | None = None
    _host_ref: Any = field(default=None, repr=False)

    enabled = True

    @property
    def host_app(self) -> Any:
        """The bound host app (the dashboard runs config.authorize in a request context of it), or None."""
        return self._host_ref() if self._host_ref is not None else None

    @host_app.setter
    def host_app(self, app: Any) -> None:
        self._host_ref = weakref.ref(app) if app is not None else None

    def set_level(self, endpoint: str, level: int) -> None:
        """Store *endpoint*'s monitoring level; every process and host follows within SYNC_INTERVAL."""
        _check_level(endpoint, level)
        if self.unavailable:
            log.warning("fmd: set_level(%r, %r) ignored: %s", endpoint, level, self.unavailable)
            return
        from .store import writes

        with self.store.write() as conn:
            writes.store_level(conn, self.store.tables, endpoint, level)
        table = dict(self.levels.table)
        table[endpoint] = level
        self.levels.table = table  # replaced, never mutated: request threads read it without a lock

    def capture(self, exc: BaseException | None = None) -> bool:
        """Record a handled exception like an unhandled one (its group, counts, traceback); True when queued.

        Inside a monitored request it counts for that request's endpoint, elsewhere (a job, a thread) as
        "outside a request". Without *exc*, the exception being handled (``sys.exc_info()``). Never raises.
        """
        import sys
        import threading
        import time

        from .instrument.records import EVENT

        if exc is None:
            exc = sys.exc_info()[1]
        if exc is None or self.unavailable or self.exceptions is None:
            return False
        try:
            seen = self.exceptions.seen(exc)
            if seen is None:
                return False
            running = self.inflight.get(threading.get_ident())
            self.recorder.submit((running[1] if running else None, 0.0, time.time(), EVENT, "", "", (seen,)))
            return True
        except Exception:
            self.errors.report("capture", "fmd: could not capture an exception")
            return False

    def stats(self) -> dict:
        """This process's recording health."""
        stats = {"enabled": True, **self.recorder.stats()}
        if self.unavailable:
            stats["unavailable"] = self.unavailable
        return stats

    def flush(self, timeout: float = 10.0) -> bool:
        return self.recorder.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, stop fmd's threads and release database connections; False if the flush timed out.

        Idempotent. A later request to the app starts the writer (and opens connections) again.
        """
        return close_parts(self.recorder, self.store, timeout)


def close_parts(recorder: Recorder, store: Store, timeout: float = 10.0) -> bool:
    """Stop *recorder* (after flushing it) and dispose *store*'s engine; never raises."""
    flushed = False
    try:
        flushed = recorder.stop(timeout)
    except Exception:  # closing is best effort: it runs from finalizers and test teardown
        log.exception("fmd: could not stop the recorder cleanly")
    try:
        store.dispose()
    except Exception:
        log.exception("fmd: could not release the database connections")
    return flushed


class DisabledState:
    """What ``bind`` returns with ENABLED false: the API stays callable and does nothing."""

    enabled = False
    unavailable = None
    host_app = None
    dashboard = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def set_level(self, endpoint: str, level: int) -> None:
        """Checks its arguments like the enabled form, then does nothing."""
        _check_level(endpoint, level)

    def capture(self, exc: BaseException | None = None) -> bool:
        """Does nothing (fmd is disabled)."""
        return False

    def stats(self) -> dict:
        """``enabled: False`` and zero counters."""
        return {"enabled": False, "writer_running": False, "queue_length": 0, "submitted": 0, "rows_written": 0,
                "dropped": 0, "failed_writes": 0, "last_error": None}

    def flush(self, timeout: float = 10.0) -> bool:
        return True

    def close(self, timeout: float = 10.0) -> bool:
        return True
