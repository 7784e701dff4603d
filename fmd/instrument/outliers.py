"""Level 2: which requests are outliers, and what the process looked like while they were slow.

The rule (Flask-MonitoringDashboard's): a request is an outlier when its duration exceeds
OUTLIER_DETECTION_CONSTANT times its endpoint's average duration, and OUTLIER_MIN_MS as well (so a 2 ms
garbage-collection pause on a 0.2 ms endpoint is not one). The average is kept per process by the writer
thread from the requests it writes (a running mean that becomes an exponential one over the last ~1000
requests, so it follows the endpoint as it changes), seeded from the stored rollups of the last 7 days the
first time the endpoint is seen at level 2 or higher, so a fresh worker does not flag everything. Until
MIN_SAMPLES requests (seed included) are known there is no verdict.

``Baselines.thresholds`` (endpoint -> seconds) is what the request path and the watchdog read: a plain
dict, written only by the writer thread item by item (each assignment is atomic), read without a lock.

The watchdog: one thread per process, started by the first level-2 request of the process (after a fork as
well), asleep while no level-2 request is in flight. Awake, it looks at the in-flight registry that
fmd.instrument.hooks fills when the first request in flight can cross its threshold (every few ms at most,
see WATCH_PERIOD); a level-2 request running past its threshold gets the stack of the
thread serving it taken there and then ("where it is stuck", from the view down), with the CPU use per
core and the process's and the system's memory. The request thread picks that capture up when the request
ends; nothing else is added to the request path. Under gevent or eventlet an in-flight request is a
greenlet that ``sys._current_frames()`` does not show: its outlier is stored without a stack.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from types import CodeType
from typing import TYPE_CHECKING, Any, Collection, Iterable

from .lazythread import LazyThread

if TYPE_CHECKING:
    from .guard import ErrorLog
    from .tracebacks import AppCode

log = logging.getLogger("fmd.outliers")

#: No verdict on an endpoint before this many of its requests are known (seed included).
MIN_SAMPLES = 10
#: The running mean turns into an exponential one with this weight: it follows roughly the last N requests.
WINDOW = 1000
#: How often, at most, the awake watchdog looks at the requests in flight (seconds): it sleeps until the first
#: of them can cross its threshold, at least this long, at most half the shortest threshold and LONGEST_NAP.
WATCH_PERIOD = 0.005
LONGEST_NAP = 0.05
#: The stored rollups that seed an endpoint's mean: this many days back.
SEED_DAYS = 7


_FMD_DIR = os.path.normcase(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))


def _in_fmd(filename: str) -> bool:
    """*filename* is one of fmd's own modules."""
    try:
        return os.path.normcase(os.path.realpath(filename)).startswith(_FMD_DIR + os.sep)
    except (TypeError, ValueError, OSError):
        return False


class Baselines:
    """Mean duration per endpoint at level >= 2, and the threshold that makes a request an outlier."""

    def __init__(self, constant: float, floor_s: float) -> None:
        self.constant = constant
        self.floor_s = floor_s
        #: endpoint -> seconds; absent while fewer than MIN_SAMPLES are known (read by request threads)
        self.thresholds: dict[str, float] = {}
        self._n: dict[str, int] = {}
        self._mean: dict[str, float] = {}
        #: endpoints whose stored mean was looked up (writer thread)
        self.seeded: set[str] = set()

    def average(self, endpoint: str) -> float | None:
        return self._mean.get(endpoint)

    def seed(self, endpoint: str, count: int, mean: float) -> None:
        """Start *endpoint* from the stored mean of *count* requests (weight at most WINDOW)."""
        self.seeded.add(endpoint)
        if count <= 0:
            return
        n = self._n.get(endpoint, 0)
        if n:  # requests already seen in this process: weigh the two means by their counts
            weight = min(count, WINDOW)
            self._mean[endpoint] = (self._mean[endpoint] * n + mean * weight) / (n + weight)
            self._n[endpoint] = min(n + weight, WINDOW)
        else:
            self._mean[endpoint] = mean
            self._n[endpoint] = min(count, WINDOW)
        self._publish(endpoint)

    def observe(self, endpoint: str, duration: float) -> None:
        """One more request of *endpoint* (writer thread)."""
        n = self._n.get(endpoint, 0) + 1
        mean = self._mean.get(endpoint, 0.0)
        if n > WINDOW:
            n = WINDOW
        self._mean[endpoint] = mean + (duration - mean) / n
        self._n[endpoint] = n
        if n >= MIN_SAMPLES:
            self._publish(endpoint)

    def _publish(self, endpoint: str) -> None:
        if self._n.get(endpoint, 0) >= MIN_SAMPLES:
            self.thresholds[endpoint] = max(self.constant * self._mean[endpoint], self.floor_s)

    def forget(self, keep: Iterable[str]) -> None:
        """Drop endpoints no longer at level >= 2 (their next stint starts from the rollups again)."""
        wanted = set(keep)
        for name in [n for n in self._mean if n not in wanted]:
            self._mean.pop(name, None)
            self._n.pop(name, None)
            self.thresholds.pop(name, None)
            self.seeded.discard(name)


class Watchdog(LazyThread):
    """The per-process thread that captures slow level-2 requests while they run (see the module docstring)."""

    thread_name = "fmd-watchdog"
    error_message = "fmd: the outlier watchdog hit an internal error; it goes on"

    def __init__(self, inflight: dict, baselines: Baselines, app_code: "AppCode", errors: "ErrorLog",
                 stop_codes: "Collection[CodeType]" = ()) -> None:
        self.inflight = inflight
        self.baselines = baselines
        self.app_code = app_code
        self.stop_codes = stop_codes  # (a live set: fmd.instrument.hooks adds its wrapper's code at install)
        #: thread ident -> (request's start epoch, stack, seconds into the request, cpu per core, memory)
        self.captures: dict[int, tuple] = {}
        self.captured = 0  # stacks taken (for tests and Health)
        super().__init__(errors)

    def _reset(self) -> None:
        super()._reset()
        self.captures.clear()

    def take(self, ident: int, started: float) -> tuple | None:
        """The capture of the request *ident* started at *started*, if the watchdog made one (removed)."""
        capture = self.captures.pop(ident, None)
        if capture is not None and capture[0] == started:
            return capture
        return None

    # ------------------------------------------------------------------ watchdog thread

    def _started(self) -> None:
        try:
            import psutil

            self._process = psutil.Process()
            self._psutil = psutil
            psutil.cpu_percent(percpu=True)  # the first call only starts the measurement
        except Exception:  # psutil missing or refused: stacks are still worth taking
            self._psutil = None

    def _woken(self) -> None:
        if self._psutil is not None:
            self._psutil.cpu_percent(percpu=True)  # CPU use from now on: the time this request is slow

    _nap = WATCH_PERIOD

    def _pause(self) -> None:
        # Until the first request in flight can cross its threshold (a run of fast requests, each far from
        # it, costs a wake-up every ~OUTLIER_MIN_MS, not every WATCH_PERIOD), at least WATCH_PERIOD.
        time.sleep(self._nap)

    def _pass(self) -> bool:
        return self._watch_once()

    def _watch_once(self) -> bool:
        """Capture every level-2 request past its threshold; True while any level-2 request is in flight."""
        thresholds = self.baselines.thresholds
        captures = self.captures
        now = time.time()
        any_level2 = False
        frames = None
        # Sleep until the next request in flight can cross its threshold, and no longer than half the shortest
        # threshold: a request that starts during the nap is seen within half its threshold of crossing it.
        soonest = now + min(LONGEST_NAP, min(thresholds.values(), default=LONGEST_NAP) / 2)
        for ident, (started, endpoint, level) in list(self.inflight.items()):
            if level < 2:
                continue
            any_level2 = True
            limit = thresholds.get(endpoint)
            if limit is None:
                continue
            if now - started <= limit:
                soonest = min(soonest, started + limit)
                continue
            held = captures.get(ident)
            if held is not None and held[0] == started:
                continue  # taken already: the first look past the threshold is where it got stuck
            if frames is None:
                frames = sys._current_frames()
            capture = self._capture(frames.get(ident), started, now)
            if capture is not None:
                captures[ident] = capture
        if len(captures) > len(self.inflight) + 64:  # requests that ended without picking theirs up
            for ident in [i for i, c in list(captures.items()) if self.inflight.get(i, (None,))[0] != c[0]]:
                captures.pop(ident, None)
        self._nap = min(max(soonest - time.time(), WATCH_PERIOD), LONGEST_NAP)
        return any_level2

    def _capture(self, frame: Any, started: float, now: float) -> tuple:
        from .tracebacks import stack_of

        stack = stack_of(frame, self.app_code, stop=self.stop_codes) if frame is not None else None
        del frame
        if stack is not None and (not stack or _in_fmd(stack[0].get("file", ""))):
            # The request thread is still in fmd's own code (starting this very thread, say): not where the
            # request is stuck. Nothing is kept; the next look, a WATCH_PERIOD later, takes the real stack.
            return None
        cpu = memory = None
        psutil = self._psutil
        if psutil is not None:
            try:
                cpu = psutil.cpu_percent(percpu=True)
                system = psutil.virtual_memory()
                memory = {"rss": self._process.memory_info().rss, "system_percent": system.percent,
                          "system_available": system.available}
            except Exception:
                pass
        self.captured += 1
        return (started, stack, now - started, cpu, memory)
