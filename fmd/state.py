"""Per-app state of a bound fmd, kept in ``app.extensions["fmd"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .instrument.guard import ErrorLog
from .instrument.levels import Levels, is_static
from .instrument.recorder import Recorder
from .store.engine import Store

LEVELS = (0, 1, 2, 3)


@dataclass
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
    #: the bound host app (the dashboard runs config.authorize in a request context of it)
    host_app: Any = None

    def set_level(self, endpoint: str, level: int) -> None:
        """Store *endpoint*'s monitoring level; every process and host follows within SYNC_INTERVAL."""
        if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
            raise ValueError(f"monitoring level must be one of {LEVELS}, not {level!r}")
        if not isinstance(endpoint, str) or not endpoint or is_static(endpoint):
            raise ValueError(f"not a monitorable endpoint: {endpoint!r}")
        from .store import writes

        with self.store.write() as conn:
            writes.store_level(conn, self.store.tables, endpoint, level)
        table = dict(self.levels.table)
        table[endpoint] = level
        self.levels.table = table  # replaced, never mutated: request threads read it without a lock

    def stats(self) -> dict:
        """This process's recording health."""
        return self.recorder.stats()

    def flush(self, timeout: float = 10.0) -> bool:
        return self.recorder.flush(timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, stop the writer thread and release database connections; False if the flush timed out."""
        flushed = self.recorder.stop(timeout)
        self.store.dispose()
        return flushed
