"""A thread that runs only while there is something to watch: the base of the watchdog and the sampler.

Contract: request threads call ``wake()`` when they start something to watch and see ``awake`` False (a plain
attribute read: nothing more on the request path). The first ``wake()`` of a process starts the thread (also
after a fork: the pid is checked); later ones set an event. The thread calls ``_pass()`` (one look; True while
anything is in flight) and ``_pause()`` between looks. When a look finds nothing, ``awake`` is cleared *before*
one more look, so a request registered after that look sees ``awake`` False and wakes the thread: no wake-up is
lost. Idle for IDLE_EXIT seconds, the thread ends; whether a ``wake()`` came meanwhile is decided under the lock
``wake()`` takes, so the next request either finds the thread running or starts a new one. ``stop()`` ends it
(``fmd.close``); a later ``wake()`` starts it again. Nothing inside the loop can end it but these two.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from ..native import NativeEvent, native_lock, start_thread

if TYPE_CHECKING:
    from .guard import ErrorLog

#: A sleeping thread ends after this many seconds without anything to watch.
IDLE_EXIT = 30.0


class LazyThread:
    """Subclasses set ``thread_name`` and ``error_message`` and implement ``_pass`` and ``_pause``."""

    thread_name = "fmd-thread"
    error_message = "fmd: a background thread hit an internal error; it goes on"

    def __init__(self, errors: "ErrorLog") -> None:
        self.errors = errors
        self._reset()

    def _reset(self) -> None:
        """Fresh per-process state: at creation and in a forked child (its threads are not there)."""
        self.pid = os.getpid()
        self.awake = False  # read by request threads: wake() only when False
        self._event = NativeEvent()
        self._lock = native_lock()
        self._running = False
        self._stopping = False

    # ------------------------------------------------------------------ request threads

    def wake(self) -> None:
        """Something to watch started while the thread slept (or before it existed in this process)."""
        if self.pid != os.getpid():
            with self._lock:
                if self.pid != os.getpid():
                    self._reset()
        self.awake = True
        with self._lock:  # (the check and the set under the lock: a thread that is ending re-checks under it)
            if self._running:
                self._event.set()
                return
            self._running = True
            self._stopping = False
        try:
            start_thread(self._run, self.thread_name)
        except BaseException:
            with self._lock:
                self._running = False
            raise

    def stop(self) -> None:
        self._stopping = True
        self._event.set()

    # ------------------------------------------------------------------ the thread

    def _pass(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _pause(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _started(self) -> None:
        """Once, in the new thread, before the first pass."""

    def _woken(self) -> None:
        """In the thread, each time it is woken after sleeping."""

    def _run(self) -> None:
        self.native_id = threading.get_native_id()  # (the overhead benchmark reads this thread's CPU time)
        try:
            self._started()
            while not self._stopping:
                try:
                    if not self._pass():
                        self.awake = False
                        if not self._pass():
                            if not self._event.wait(IDLE_EXIT) and self._idle_end():
                                break  # idle: the next wake() starts a new thread
                            self._event.clear()
                            self.awake = True
                            self._woken()
                            continue
                        self.awake = True
                    self._pause()
                except Exception:
                    self.errors.report(self.thread_name, self.error_message)
                    time.sleep(0.5)
        finally:
            with self._lock:
                self._running = False
                self.awake = False

    def _idle_end(self) -> bool:
        """After an idle wait: end the thread, unless a wake() came meanwhile (decided under the lock)."""
        with self._lock:
            if self._event.is_set():
                return False
            self._running = False
            self.awake = False
            return True
