"""Level 3: one sampler thread per process takes the stacks of the level-3 requests in flight.

The thread starts with the first level-3 request of a process (after a fork as well), sleeps while none is in
flight and ends after IDLE_EXIT seconds without one. Awake, it wakes every SAMPLING_PERIOD ms, reads
``sys._current_frames()`` once and, for each level-3 request of the in-flight registry (fmd.instrument.hooks),
walks that thread's frames up to fmd's request wrapper: a stack is a tuple of (code object, line number),
outermost first. Identical stacks of one request are counted together, so a long request costs memory in
proportion to the distinct places it was seen, at most MAX_STACKS of them (more are counted as one "other"
stack, and the profile says so). The GIL stretches the period: each request keeps the times of its first and
last sample, so the interval it really got is known.

The request thread takes its samples when it ends (``take``); the writer thread turns them into a tree
(fmd.instrument.prepare, fmd.trees). A pass's own cost is summed in ``pass_s``/``passes`` (the overhead
benchmark reports how long one pass holds the GIL with 50 requests in flight).

Under gevent or eventlet a request is a greenlet that ``sys._current_frames()`` does not show: its profile
has no samples (only its root, with the whole duration).
"""

from __future__ import annotations

import sys
import time
from types import CodeType
from typing import TYPE_CHECKING, Collection

from .lazythread import LazyThread

if TYPE_CHECKING:
    from .guard import ErrorLog

#: Distinct stacks kept per request; more are counted together as one "other" stack.
MAX_STACKS = 1000
#: Frames kept per stack (from the request's root down); deeper ones are left out.
MAX_DEPTH = 200
#: The stack that stands for the samples beyond MAX_STACKS.
OTHER = ()


class Samples:
    """What the sampler saw of one request."""

    __slots__ = ("started", "stacks", "count", "first", "last", "dropped", "deep")

    def __init__(self, started: float) -> None:
        self.started = started  # the request's start epoch (to tell one request of a thread from the next)
        self.stacks: dict[tuple, int] = {}
        self.count = 0
        self.first = 0.0  # perf_counter of the first and last sample: the achieved interval
        self.last = 0.0
        self.dropped = 0  # samples counted in OTHER
        self.deep = 0  # samples whose stack was cut at MAX_DEPTH

    def add(self, stack: tuple, now: float) -> None:
        stacks = self.stacks
        if stack in stacks:
            stacks[stack] += 1
        elif len(stacks) < MAX_STACKS:
            stacks[stack] = 1
        else:
            stacks[OTHER] = stacks.get(OTHER, 0) + 1
            self.dropped += 1
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now

    @property
    def interval_ms(self) -> float | None:
        """The mean time between two samples of this request."""
        return (self.last - self.first) / (self.count - 1) * 1000 if self.count > 1 else None


class Sampler(LazyThread):
    """The per-process sampling thread (see the module docstring)."""

    thread_name = "fmd-sampler"
    error_message = "fmd: the profiler's sampler hit an internal error; it goes on"

    def __init__(self, inflight: dict, errors: "ErrorLog", period_s: float,
                 stop_codes: "Collection[CodeType]" = ()) -> None:
        self.inflight = inflight
        self.period_s = period_s
        self.stop_codes = stop_codes  # (a live set: fmd.instrument.hooks adds its wrapper's code at install)
        #: thread ident -> Samples of the level-3 request it serves
        self.samples: dict[int, Samples] = {}
        self.pass_s = 0.0  # time spent in sampling passes (holding the GIL), and how many there were
        self.passes = 0
        self._next_at = 0.0
        super().__init__(errors)

    def _reset(self) -> None:
        super()._reset()
        self.samples.clear()

    def take(self, ident: int, started: float) -> Samples | None:
        """The samples of the request *ident* started at *started* (removed), or None."""
        samples = self.samples.pop(ident, None)
        if samples is not None and samples.started == started:
            return samples
        return None

    # ------------------------------------------------------------------ sampler thread

    def _started(self) -> None:
        self._next_at = time.perf_counter()

    _woken = _started

    def _pause(self) -> None:
        self._next_at += self.period_s
        now = time.perf_counter()
        if self._next_at <= now:  # late (the GIL, a busy machine): one period from now, never two passes back
            self._next_at = now + self.period_s  # to back (they would count one moment twice)
        time.sleep(self._next_at - now)

    def _pass(self) -> bool:
        return self._sample_once()

    def _sample_once(self) -> bool:
        """Take one sample of every level-3 request in flight; True while there is any."""
        began = time.perf_counter()
        samples = self.samples
        stop = self.stop_codes
        frames = None
        found = False
        for ident, (started, _endpoint, level) in list(self.inflight.items()):
            if level < 3:
                continue
            found = True
            if frames is None:
                frames = sys._current_frames()
            frame = frames.get(ident)
            if frame is None:
                continue
            stack = []
            while frame is not None and frame.f_code not in stop:
                stack.append((frame.f_code, frame.f_lineno))
                frame = frame.f_back
            held = samples.get(ident)
            if held is None or held.started != started:
                held = samples[ident] = Samples(started)
            if len(stack) > MAX_DEPTH:
                stack = stack[-MAX_DEPTH:]  # (innermost first here: keeps the outermost frames)
                held.deep += 1
            stack.reverse()
            held.add(tuple(stack), began)
        frames = None
        if found:
            self.pass_s += time.perf_counter() - began
            self.passes += 1
        if len(samples) > len(self.inflight) + 64:  # requests that ended without taking theirs
            for ident in [i for i, s in list(samples.items()) if self.inflight.get(i, (None,))[0] != s.started]:
                samples.pop(ident, None)
        return found
