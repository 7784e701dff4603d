"""One writer thread per process, between the hand-off queue and the database.

Request threads ``submit`` a record (a tuple ``(endpoint, duration_s, started_epoch_s, status, group_by, ip)``;
``endpoint`` is None for a request that matched no route) into the bounded hand-off (fmd.instrument.handoff):
no I/O, no waiting. The writer wakes every FLUSH_INTERVAL (never per request: waking costs more than the
write), takes up to BATCH_SIZE records, and fmd.instrument.batches writes them, raw rows plus rollups in one
transaction, isolating records a database refuses. Health goes to the process's row in its own transaction
(fmd.instrument.health), so a failing write still shows there.

Failures: a passing one (database down, lock timeout) keeps the batch and retries after a backoff (0.5 s
doubling to 30 s). The backoff is never shortened by ``flush()``: a flush waits for the next scheduled
attempt. At interpreter exit with the database down, one last attempt is made at once and the records still
unwritten are logged as lost. A deadlock lost to another writer is retried at once, at a random offset.
The loop is guarded as a whole: nothing can end the writer but ``stop()``.

fmd's own cost per request: request threads sum their time into ``request_cost_s``/``request_cost_n`` (see
fmd.instrument.hooks); the writer sums the CPU time it spends taking and writing batches
(``time.thread_time()``, so waiting for the database is not counted) and the records it wrote.

The thread starts lazily in each process (gunicorn forks workers after importing the app: a thread started
in the parent does not exist in the child); ``os.register_at_fork`` resets the state in a child.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import weakref
from typing import Any, Callable, Iterable

from ..store.engine import Store
from .batches import BatchWriter, is_lock_conflict, is_passing, short_error
from .guard import ErrorLog
from .handoff import Handoff
from .health import process_row  # at import: a first import in the writer thread could race a fork
from .levels import EXCLUDED, Levels
from ..native import NativeEvent, native_lock, start_thread

log = logging.getLogger("fmd.recorder")

_MAX_BACKOFF = 30.0
_PERMANENT_BACKOFF = 3600.0
_HEALTH_EVERY = 5.0
_recorders: "weakref.WeakSet[Recorder]" = weakref.WeakSet()
_adopt_lock = native_lock()


class Recorder:
    def __init__(self, store: Store, levels: Levels, version: str, *, queue_size: int, batch_size: int,
                 flush_interval: float, sync_interval: float, errors: ErrorLog,
                 endpoint_names: Callable[[], Iterable[str]] = tuple, baselines: Any = None,
                 redactor: Any = None) -> None:
        self.store = store
        self.levels = levels
        self.version = version
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.sync_interval = sync_interval
        self.errors = errors
        self.endpoint_names = endpoint_names
        #: Level 2: outlier thresholds (kept from the records written) and the redaction of their values
        self.baselines = baselines
        self.redactor = redactor
        #: The outlier watchdog (fmd.instrument.outliers) and the profiler's sampler, stopped with the writer.
        self.watchdog = None
        self.sampler = None
        #: The retention job's thread (fmd.instrument.maintenance), started and stopped with the writer.
        self.maintenance = None
        #: The custom graphs' scheduler (fmd.graphs.runner), set with the app's first graph; started and
        #: stopped with the writer.
        self.graphs = None
        self.handoff = Handoff(queue_size)
        #: Streams finished where recording them could deadlock (a garbage collector's __del__): (report, status)
        #: pairs the writer thread reports at its next pass (see fmd.instrument.hooks).
        self.late: queue.SimpleQueue = queue.SimpleQueue()
        self._reset()
        _recorders.add(self)

    def _reset(self) -> None:
        """Fresh per-process state (at creation and in a forked child)."""
        self.handoff.reset()
        self.batches = BatchWriter(self.store, self.levels, self.version, self.errors, self.baselines, self.redactor)
        self.started = False
        self.request_cost_s = 0.0  # fmd's own time on the request path, summed by the request threads
        self.request_cost_n = 0
        self.writer_cpu_s = 0.0  # the writer thread's CPU time taking and writing batches
        self.writer_records = 0  # records those batches held
        #: The process this state belongs to: a fork without Python's fork hooks (uWSGI) is noticed by it.
        self.pid = os.getpid()
        self._alive = False  # the writer thread of this process runs (set before it starts, cleared as it ends)
        self._writer_ident: int | None = None
        self._stopping = False
        # Native primitives, whatever gevent or eventlet patch (see fmd.native).
        self._wake = NativeEvent()  # set by flush(): write now, unless a backoff is running
        self._urgent = NativeEvent()  # set by stop() and the exit flush: even a backoff ends
        self._start_lock = native_lock()
        self._passes_started = 0
        self._passes_done = 0  # passes that wrote everything they took
        self._not_before = 0.0  # monotonic time of the next allowed attempt after a failure
        self._backoff = 0.0
        self._conflicts_in_a_row = 0
        self._next_sync = 0.0
        self._levels_version: str | None = None
        self._next_health = 0.0
        self._reported: tuple = ()
        self._next_prune = 0.0
        # The watchdog's and the sampler's threads do not exist in a forked child either (nor its requests).
        for part in (getattr(self, "watchdog", None), getattr(self, "sampler", None)):
            if part is not None and part.pid != os.getpid():
                part._reset()

    # ------------------------------------------------------------------ request side (no I/O)

    def submit(self, record: tuple) -> bool:
        """Queue one record; True when this call had to start the writer (its cost is not the request's)."""
        if self.pid != os.getpid():
            self.adopt()
        self.handoff.put(record)
        if not self.started:
            self.start()
            return True
        return False

    def touch(self, endpoint: str, when: float) -> bool:
        """Note a level-0 request's time; True when this call had to start the writer."""
        if self.pid != os.getpid():
            self.adopt()
        self.handoff.touch(endpoint, when)
        if not self.started:
            self.start()
            return True
        return False

    def adopt(self) -> None:
        """In a process forked without Python's fork hooks (uWSGI's C fork): drop the parent's state.

        The parent's queued records are the parent's to write (copies here would be written twice), and its
        writer thread does not exist here. Called on the first request of such a child, before its record.
        """
        with _adopt_lock:
            if self.pid != os.getpid():
                self._reset()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the writer thread of this process unless it runs (idempotent; also called by the dashboard).

        The lock only decides who starts; the thread is started after it is released, because starting a
        (patched) thread may switch greenlets, and a greenlet waiting on a native lock blocks them all.
        """
        if self.pid != os.getpid():
            self.adopt()
        with self._start_lock:
            if self._alive:
                self.started = True
                return
            self._alive = True
            self._stopping = False
        try:
            start_thread(self._run, "fmd-writer")
        except BaseException:
            self._alive = False
            raise
        self.started = True
        if self.maintenance is not None:
            self.maintenance.start()
        if self.graphs is not None:
            self.graphs.start()

    @property
    def running(self) -> bool:
        """The writer thread of this process is alive."""
        return self._alive and self.pid == os.getpid()

    def stop(self, timeout: float = 10.0) -> bool:
        """Flush, then end the writer thread; False if the flush timed out. Safe from any thread, even the writer."""
        own_thread = threading.get_ident() == self._writer_ident
        flushed = self.flush(timeout) if self.running and not own_thread else not self.pending()
        self._stopping = True
        self._wake.set()
        self._urgent.set()
        if self.maintenance is not None:
            self.maintenance.stop()
        if self.graphs is not None:
            self.graphs.stop()
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if not own_thread and self.pid == os.getpid():
            deadline = time.monotonic() + timeout
            while self._alive and time.monotonic() < deadline:
                time.sleep(0.005)
        self.started = False
        _recorders.discard(self)
        return flushed

    # ------------------------------------------------------------------ public

    def submitted(self) -> int:
        return self.handoff.counts()[0]

    def pending(self) -> int:
        """Records accepted and not yet done with (queued or held by the writer)."""
        _, _, queued, held = self.handoff.counts()
        return queued + held

    @property
    def backing_off(self) -> bool:
        """The last write failed and the writer waits before the next attempt."""
        return self._not_before > time.monotonic()

    def flush(self, timeout: float = 10.0, until_failure: bool = False) -> bool:
        """Write everything submitted so far; True when done, False when *timeout* ran out first.

        Never hurries a backoff: with the database down, it waits for the writer's next scheduled attempt.
        With *until_failure*, it also gives up (False) as soon as a write fails.
        """
        submitted, dropped, _, _ = self.handoff.counts()
        if submitted == 0 and not self.handoff.has_touches and not self.started:
            return True
        accepted = submitted - dropped
        self.start()
        deadline = time.monotonic() + timeout
        # A pass under way may have taken its last batch before the records (or last-request times)
        # submitted just now: wait for one that starts later. Polled with time.sleep, which a gevent worker
        # patches to yield, so flushing from a greenlet never blocks the others.
        wanted = self._passes_started + 1
        failures = self.batches.tally.failed_writes
        while self.batches.tally.done < accepted or self._passes_done < wanted:
            if time.monotonic() >= deadline or not self.running:
                return False
            if until_failure and self.batches.tally.failed_writes > failures:
                return False
            self._wake.set()
            time.sleep(0.002)
        return True

    def last_attempt(self, timeout: float) -> int:
        """At exit: one attempt now, whatever the backoff; the records still unwritten afterwards."""
        if not self.running:
            return self.pending()
        deadline = time.monotonic() + timeout
        wanted = self._passes_started + 1
        self._not_before = 0.0
        self._urgent.set()
        self._wake.set()
        while time.monotonic() < deadline and (self._passes_started < wanted or self._pass_running):
            time.sleep(0.005)
        return self.pending()

    def stats(self) -> dict:
        submitted, dropped, queued, held = self.handoff.counts()
        tally = self.batches.tally
        return {"enabled": True, "queue_length": queued + held, "submitted": submitted,
                "rows_written": tally.rows_written, "unrouted": tally.unrouted, "skipped": tally.skipped,
                "rejected": tally.rejected, "dropped": dropped, "failed_writes": tally.failed_writes,
                "last_error": tally.last_error, "already_written": tally.already_written,
                "lock_conflicts": tally.lock_conflicts, "internal_errors": self.errors.total,
                "events": tally.events, "outliers": tally.outliers, "exceptions": tally.exceptions,
                "profiles": tally.profiles,
                "lost_attachments": tally.lost_attachments,
                "writer_running": self.running, **self.cost_us()}

    def cost_us(self) -> dict:
        """Mean microseconds per request fmd spent on the request path and in the writer (None before any)."""
        n, records = self.request_cost_n, self.writer_records
        return {"request_cost_us": self.request_cost_s / n * 1e6 if n else None,
                "writer_cost_us": self.writer_cpu_s / records * 1e6 if records else None}

    # ------------------------------------------------------------------ writer thread

    _pass_running = False

    def _run(self) -> None:
        self._writer_ident = threading.get_ident()
        try:
            self._loop()
        finally:  # (nothing in the loop can end it but stop(); this keeps `running` true to the facts anyway)
            self._alive = False
            self.started = False

    def _loop(self) -> None:
        while not self._stopping:
            try:
                delay = self._not_before - time.monotonic()
                if delay > 0:  # backing off: only stop() or the exit flush cut it short, never flush()
                    self._urgent.wait(delay)
                    self._urgent.clear()
                else:
                    self._wake.wait(self.flush_interval)
                self._wake.clear()
                if self._stopping:
                    break
                self._pass()
            except Exception:  # a bug of fmd's own: the writer must not die of it
                self.errors.report("writer", "fmd: the writer thread hit an internal error; it goes on")
                self._not_before = time.monotonic() + 1.0

    def _pass(self) -> None:
        """Sync levels when due, write what is queued, report health when due."""
        self._passes_started += 1
        self._pass_running = True
        wrote_all = False
        try:
            self._write_queued()
        except Exception as exc:
            self._failed(exc)
        else:
            self._backoff = 0.0
            self._conflicts_in_a_row = 0
            wrote_all = not self.batches.pending
        try:
            self._report_when_due()
        finally:
            self._pass_running = False
            if wrote_all:  # counted after the health row, so a flush() also covers that
                self._passes_done += 1

    def _report_when_due(self) -> None:
        now = time.time()
        tally = self.batches.tally
        state = (tally.failed_writes, tally.rejected, self.handoff.dropped)
        if now >= self._next_health or self._reported != state:
            # Also at once after a failure, a rejection or a drop, so an outage shows as soon as it can.
            self._next_health = now + _HEALTH_EVERY
            try:
                self.report_health()
                self._reported = state
            except Exception as exc:
                if not is_passing(exc):
                    self.errors.report("health", "fmd: could not write this process's health row")

    def _write_queued(self) -> None:
        while True:
            try:
                report, status = self.late.get_nowait()
            except queue.Empty:
                break
            report(status)
        now = time.time()
        if now >= self._next_sync:
            self._sync()
            self._next_sync = now + self.sync_interval
        # Bounded: under sustained load a pass must end, so levels and health stay current.
        for _ in range(len(self.handoff) // self.batch_size + 2):
            cpu = time.thread_time()
            records = 0
            try:
                if not self.batches.pending:
                    taken, touched = self.handoff.take(self.batch_size)
                    unusable = self.batches.add(taken, touched)
                    if unusable:
                        self.handoff.release(unusable)
                    if not self.batches.pending:
                        break  # an idle wake-up is not counted: it would inflate the cost of real requests
                records = self.batches.held
                self.batches.write_pending(self.handoff.release, most=64)
            finally:  # a failed attempt's CPU counts too: it is part of what writing these records cost
                self.writer_cpu_s += time.thread_time() - cpu
                self.writer_records += records - self.batches.held

    def _failed(self, exc: Exception) -> None:
        tally = self.batches.tally
        if is_lock_conflict(exc) and self._conflicts_in_a_row < 5:
            # Another writer won a lock race (MySQL/MariaDB deadlock, PostgreSQL 40P01): the transaction
            # was rolled back whole; try again at once, at a random offset.
            self._conflicts_in_a_row += 1
            tally.lock_conflicts += 1
            self._not_before = time.monotonic() + random.uniform(0.01, 0.1)
            log.info("fmd: a write lost a lock race (%s); retrying", type(exc).__name__)
            return
        tally.failed_writes += 1
        tally.last_error = short_error(exc)
        if getattr(exc, "permanent", False):
            # The database cannot take fmd's records until someone changes it or the configuration (say,
            # TABLE_PREFIX names another program's tables: fmd.store.schema.ForeignTablesError). Retrying
            # every 30 s would only repeat the error; look again hourly, in case it was fixed in place.
            self._backoff = _PERMANENT_BACKOFF
            self._not_before = time.monotonic() + self._backoff
            self.errors.report("write", "fmd: cannot record into its database until it is fixed: %s",
                               str(exc)[:500], exc_info=False)
            return
        self._backoff = min(max(self._backoff * 2, 0.5), _MAX_BACKOFF)
        self._not_before = time.monotonic() + self._backoff
        self.errors.report("write", "fmd: could not write to its database (%s); retrying in %.1f s",
                           tally.last_error, self._backoff, exc_info=False)

    def _sync(self) -> None:
        """Learn levels changed elsewhere and register endpoints added to the app's URL map."""
        from ..store import writes

        t = self.store.tables
        with self.store.read() as conn:
            version = writes.levels_version(conn, t)
            if version != self._levels_version or self.levels.synced_at is None:
                stored = writes.load_levels(conn, t)
                self.levels.replace(stored)
                self._levels_version = version
                if self.levels.synced_at is None:
                    self.levels.synced_at = time.time()
        self.batches.register([n for n in self.endpoint_names() if self.levels.level_of(n) != EXCLUDED])
        if self.baselines is not None:
            self._seed_baselines()

    def _seed_baselines(self) -> None:
        """Start the outlier means of endpoints newly at level 2+ from their stored rollups (see outliers)."""
        from ..store.extras import mean_durations
        from .outliers import SEED_DAYS

        watched = [name for name, level in self.levels.table.items() if level >= 2]
        self.baselines.forget(watched)
        new = [name for name in watched if name not in self.baselines.seeded]
        if new:
            with self.store.read() as conn:
                means = mean_durations(conn, self.store.tables, new, time.time() - SEED_DAYS * 86400)
            for name in new:
                count, mean = means.get(name, (0, 0.0))
                self.baselines.seed(name, count, mean)

    def report_health(self) -> None:
        """Write this process's health row now (the writer does it every few seconds)."""
        from ..store import writes

        same_store = [r for r in list(_recorders)
                      if r.store.url == self.store.url and r.store.prefix == self.store.prefix and r.started]
        row = process_row(same_store or [self], self.version)
        with self.store.write() as conn:
            writes.report_process(conn, self.store.tables, row)
            if time.time() >= self._next_prune:
                writes.prune_batches(conn, self.store.tables)
                self._next_prune = time.time() + 3600



def after_fork_in_child() -> None:
    """Fresh per-process state for every recorder (Python's fork hook; uWSGI's post-fork hook calls it too)."""
    global _adopt_lock
    _adopt_lock = native_lock()
    for recorder in list(_recorders):
        if recorder.pid != os.getpid():
            recorder._reset()


os.register_at_fork(after_in_child=after_fork_in_child)

from . import shutdown  # noqa: E402,F401 - registers the flush at interpreter exit (it needs this module)
