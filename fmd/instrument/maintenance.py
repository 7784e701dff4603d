"""The scheduled retention job: one daemon thread per process ("fmd-maintenance"), one run per period overall.

Every process runs the thread (started lazily with the writer, and again in a forked child), but the thread
only prunes after taking the store's lease (``fmd.store.retention.take_lease``), which a conditional UPDATE
hands to exactly one process per PRUNE_INTERVAL_HOURS across all workers and hosts. The others find it
taken and sleep until their next check (every few minutes): a worker that dies mid-run only delays the
next prune by one period, and pruning twice would be harmless anyway (deletes by age are idempotent).

Nothing here touches the request path, and SQLAlchemy is imported only when the thread first checks.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from ..native import NativeEvent, native_lock, start_thread

if TYPE_CHECKING:
    from ..store.engine import Store
    from .guard import ErrorLog

log = logging.getLogger("fmd.maintenance")

#: Seconds between two looks at the lease.
CHECK_EVERY = 300.0
_jobs: "weakref.WeakSet[Maintenance]" = weakref.WeakSet()


class Maintenance:
    """The retention job of one process: ``start()`` is idempotent and fork-aware, ``run_once()`` is one check."""

    def __init__(self, store: "Store", errors: "ErrorLog", *, requests_days: int = 30, outliers_days: int = 14,
                 profiles_days: int = 14, hourly_days: int = 0, interval_hours: float = 24,
                 check_every: float = CHECK_EVERY, first_delay: float | None = None,
                 pause: float | None = None) -> None:
        self.store = store
        self.errors = errors
        self.ages = (requests_days, outliers_days, profiles_days, hourly_days)
        self.interval_hours = interval_hours
        self.check_every = check_every
        #: Spread the first check of many workers started together (None: 10-60 s after start).
        self.first_delay = first_delay
        self.pause = pause
        #: Results of the runs this process did (kind -> rows deleted), newest last; at most 10 kept.
        self.runs: list[dict[str, int]] = []
        self._pid = 0
        self._lock = native_lock()
        self._stop = NativeEvent()
        self._alive = False  # this process's thread runs (set before it starts, cleared as it ends)
        _jobs.add(self)

    @classmethod
    def from_settings(cls, store: "Store", settings: Any, errors: "ErrorLog") -> "Maintenance":
        """Built from the ``[retention]`` options of fmd Settings."""
        return cls(store, errors, requests_days=settings.retention_requests_days,
                   outliers_days=settings.retention_outliers_days, profiles_days=settings.retention_profiles_days,
                   hourly_days=settings.retention_hourly_days, interval_hours=settings.prune_interval_hours)

    @property
    def enabled(self) -> bool:
        return self.interval_hours > 0 and any(self.ages)

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and self._alive

    def start(self) -> None:
        """Start this process's thread, unless it runs already (a forked child gets its own)."""
        if not self.enabled or self._pid == os.getpid():
            return
        with self._lock:  # decides who starts; released before the start (see fmd.native)
            if self._pid == os.getpid():
                return
            # A forked child: the parent's thread does not exist here, and its Event may be in any state.
            self._stop = NativeEvent()
            self._alive = True
            self._pid = os.getpid()
        try:
            start_thread(self._run, "fmd-maintenance")
        except BaseException:
            self._alive = False
            self._pid = 0
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (for orderly shutdown and tests); a prune under way ends after its current batch."""
        self._stop.set()
        if self._pid == os.getpid() and threading.get_ident() != self._ident:
            deadline = time.monotonic() + timeout
            while self._alive and time.monotonic() < deadline:
                time.sleep(0.005)
        self._pid = 0

    _ident: int | None = None

    def _run(self) -> None:
        self._ident = threading.get_ident()
        stop = self._stop
        try:
            wait = self.first_delay if self.first_delay is not None else random.uniform(10, 60)
            while not stop.wait(wait):
                try:
                    self.run_once()
                except Exception:  # the database is down or the schema is not there yet: try at the next check
                    self.errors.report("maintenance", "fmd: the retention job failed; it tries again later")
                wait = self.check_every
        finally:
            if stop is self._stop:  # not a newer thread's flag
                self._alive = False

    def run_once(self) -> dict[str, int] | None:
        """Take the lease if it expired and prune; the rows deleted per kind, or None when not our turn."""
        from ..store.retention import Retention, prune, take_lease

        holder = f"{socket.gethostname()[:100]}:{os.getpid()}"
        with self.store.write() as conn:
            mine = take_lease(conn, self.store.tables, holder, self.interval_hours * 3600)
        if not mine:
            return None
        log.info("fmd: %s took the retention lease; pruning", holder)
        kwargs = {} if self.pause is None else {"pause": self.pause}
        done = prune(self.store, Retention(*self.ages), stop=self._stop.is_set, **kwargs)
        self.runs = (self.runs + [done])[-10:]
        return done


def _after_fork_in_child() -> None:
    # A lock held by a parent thread at fork time would stay held forever in the child.
    for job in list(_jobs):
        job._lock = native_lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
