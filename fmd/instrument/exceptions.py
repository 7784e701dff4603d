"""Level 1 and up: unhandled exceptions of monitored requests (and ``fmd.capture``), made into occurrences.

Runs on the request thread, only when a request failed: the fingerprint (the type plus the application frames
that raised it, line numbers left out: fmd.instrument.tracebacks) costs a walk over the traceback's frames.
The full traceback, with source lines and local variables, is taken at most once a minute per group and
process (REFRESH_S): an endpoint failing a thousand times a second pays for it once a minute. Everything is
guarded: the host's exception goes on exactly as it would without fmd.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException

from .records import ExceptionSeen

if TYPE_CHECKING:
    from .redact import Redactor
    from .tracebacks import AppCode

#: Seconds between two full tracebacks of one group in one process.
REFRESH_S = 60.0
#: Groups remembered for that rate limit; beyond it the memory starts afresh.
_REMEMBERED = 10_000


class ExceptionCapture:
    """Turns exceptions into ExceptionSeen occurrences, rate-limiting the full tracebacks."""

    def __init__(self, app_code: "AppCode", redactor: "Redactor") -> None:
        self.app_code = app_code
        self.redactor = redactor
        self._full_at: dict[str, float] = {}

    def seen(self, exc: BaseException) -> ExceptionSeen | None:
        """The occurrence of *exc*, or None for what is not an error here (an HTTP exception such as abort(404))."""
        if isinstance(exc, HTTPException) or not isinstance(exc, BaseException):
            return None
        from .tracebacks import fingerprint, full_traceback, summary

        key, location = fingerprint(exc, self.app_code)
        kind, message = summary(exc)
        now = time.monotonic()
        traceback = None
        last = self._full_at.get(key)
        if last is None or now - last >= REFRESH_S:
            if len(self._full_at) >= _REMEMBERED:
                self._full_at.clear()
            self._full_at[key] = now
            traceback = full_traceback(exc, self.app_code, self.redactor.value)
        return ExceptionSeen(kind, message, key, location, time.time(), traceback)
