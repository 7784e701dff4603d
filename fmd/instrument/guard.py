"""fmd's own failures: counted and logged at a limited rate, never raised into the host's response."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("fmd.instrument")


class ErrorLog:
    """Counts errors per kind and logs at most one line per kind every *interval* seconds."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self.counts: dict[str, int] = {}
        self._last_logged: dict[str, float] = {}

    def report(self, kind: str, message: str, *args: Any, exc_info: bool = True) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._last_logged.get(kind, -1e9) >= self.interval:
            self._last_logged[kind] = now
            suppressed = self.counts[kind]
            log.error(f"{message} (the host's request is unaffected; {suppressed} so far)", *args,
                      exc_info=exc_info)

    @property
    def total(self) -> int:
        return sum(self.counts.values())
