"""The hand-off from request threads to the database: a bounded queue and one writer thread per process.

A record is the tuple ``(endpoint, duration_s, started_epoch_s, status, group_by, ip)``; ``endpoint`` is
None for a request that matched no route. Request threads only ``append`` one to a
``deque(maxlen=QUEUE_SIZE)``: no lock, no I/O, never blocks. When the queue is full the oldest record is dropped (the deque does it) and the writer counts the drop.
A batch held for a retry counts against the same bound: at most QUEUE_SIZE records wait in memory.
The writer wakes every FLUSH_INTERVAL (never per request: waking costs more than the write), takes up to
BATCH_SIZE records and writes raw rows plus rollups in one transaction. A failed write keeps its batch and
retries with backoff (0.5 s doubling to 30 s); each batch has an id stored with it, so a retry after a
commit whose acknowledgement was lost is recognised and not written twice.

fmd's own cost per request, since the process started: the request path sums its time into
``request_cost_s``/``request_cost_n`` (see fmd.instrument.hooks); the writer sums the CPU time it spends taking
and writing batches (``time.thread_time()``, so waiting for the database is not counted) and the records it
wrote. Both means are in ``stats()`` and in the process's health row.

The thread starts lazily in each process (gunicorn forks workers after importing the app: a thread started
in the parent does not exist in the child). ``os.register_at_fork`` resets the state in a child.
"""

from __future__ import annotations

import atexit
import logging
import os
import random
import socket
import threading
import time
import weakref
from collections import deque
from itertools import count
from typing import Callable, Iterable

from ..store.engine import Store
from .guard import ErrorLog
from .levels import EXCLUDED, Levels

log = logging.getLogger("fmd.recorder")

_MAX_BACKOFF = 30.0
_HEALTH_EVERY = 5.0
_recorders: "weakref.WeakSet[Recorder]" = weakref.WeakSet()


class Recorder:
    def __init__(self, store: Store, levels: Levels, version: str, *, queue_size: int, batch_size: int,
                 flush_interval: float, sync_interval: float, errors: ErrorLog,
                 endpoint_names: Callable[[], Iterable[str]] = tuple) -> None:
        self.store = store
        self.levels = levels
        self.version = version
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.sync_interval = sync_interval
        self.errors = errors
        self.endpoint_names = endpoint_names
        #: The retention job's thread (fmd.instrument.maintenance), started and stopped with the writer.
        self.maintenance = None
        self._reset()
        _recorders.add(self)

    def _reset(self) -> None:
        """Fresh per-process state (at creation and in a forked child)."""
        self.queue: deque = deque(maxlen=self.queue_size)
        #: endpoint -> epoch of its latest request, for every level (level 0 records nothing else).
        self.last_seen: dict[str, float] = {}
        self._submitted = count()
        self.started = False
        self._taken = 0
        self._done = 0
        self._evicted = 0  # records the full deque pushed out
        self._trimmed = 0  # oldest records of a held batch given up to keep within QUEUE_SIZE
        self.rows_written = 0
        self.dropped = 0
        self.already_written = 0  # retried batches that an earlier attempt had in fact committed
        self.lock_conflicts = 0  # deadlocks lost to another writer, retried at once
        self._conflicts_in_a_row = 0
        self.failed_writes = 0
        self.last_error: str | None = None
        self.request_cost_s = 0.0  # fmd's own time on the request path, summed by the request threads
        self.request_cost_n = 0
        self.writer_cpu_s = 0.0  # the writer thread's CPU time taking and writing batches
        self.writer_records = 0  # records those batches held
        self._held: tuple | None = None
        self._passes = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._endpoint_ids: dict[str, int] = {}
        self._levels_version: str | None = None
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._start_lock = threading.Lock()
        self._started_at = time.time()
        self._process_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{int(self._started_at)}"
        self._next_sync = 0.0
        self._next_health = 0.0
        self._reported: tuple = ()
        self._next_prune = 0.0

    # ------------------------------------------------------------------ request side (no I/O, no locks)

    def submit(self, record: tuple) -> None:
        self.queue.append(record)
        next(self._submitted)
        if not self.started:
            self.start()

    def start(self) -> None:
        """Start the writer thread of this process (idempotent; also called by the dashboard)."""
        with self._start_lock:
            if self.started:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="fmd-writer", daemon=True)
            self._thread.start()
            self.started = True
            if self.maintenance is not None:
                self.maintenance.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Flush, then end the writer thread (for tests and orderly shutdown); False if the flush timed out."""
        flushed = self.flush(timeout) if self.started else True
        self._stopping = True
        self._wake.set()
        if self.maintenance is not None:
            self.maintenance.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        self.started = False
        _recorders.discard(self)
        return flushed

    # ------------------------------------------------------------------ public

    def submitted(self) -> int:
        return int(repr(self._submitted)[6:-1])  # itertools.count has no public getter; repr is 'count(N)'

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything submitted so far; True when done, False when *timeout* ran out first."""
        target = self.submitted()
        if target == 0 and not self.last_seen:
            return True
        self.start()
        deadline = time.monotonic() + timeout
        with self._progress:
            passes = self._passes
            # Two passes: one already under way when flush() was called may have taken its last batch
            # before the records (or last-seen times) just submitted.
            while self._done + self.dropped < target or self._passes <= passes + 1:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.set()
                self._progress.wait(min(remaining, 0.1))
        return True

    def stats(self) -> dict:
        # Drops are counted live (as the writer would), so they show while the writer waits or backs off.
        evicted = max(self._evicted, self.submitted() - self._taken - len(self.queue))
        held = self._held  # read once: the writer replaces it
        return {"queue_length": len(self.queue) + (len(held[1]) if held else 0),
                "submitted": self.submitted(), "rows_written": self.rows_written,
                "dropped": max(self.dropped, evicted + self._trimmed), "failed_writes": self.failed_writes,
                "last_error": self.last_error, "already_written": self.already_written,
                "lock_conflicts": self.lock_conflicts,
                "internal_errors": self.errors.total, "writer_running": self.started, **self.cost_us()}

    def cost_us(self) -> dict:
        """Mean microseconds per request fmd spent on the request path and in the writer (None before any)."""
        n, records = self.request_cost_n, self.writer_records
        return {"request_cost_us": self.request_cost_s / n * 1e6 if n else None,
                "writer_cost_us": self.writer_cpu_s / records * 1e6 if records else None}

    # ------------------------------------------------------------------ writer thread

    def _run(self) -> None:
        backoff = 0.0
        while not self._stopping:
            self._wake.wait(backoff or self.flush_interval)
            self._wake.clear()
            if self._stopping:
                break
            self._count_drops()  # also while the database is down: the drops are what an operator needs
            try:
                self._pass()
                self._passes += 1
                backoff = 0.0
                self._conflicts_in_a_row = 0
            except Exception as exc:  # the database is down, locked, or refused the batch: keep it, retry
                if _is_lock_conflict(exc) and self._conflicts_in_a_row < 5:
                    # Another writer won a lock race (MySQL/MariaDB deadlock, PostgreSQL 40P01): the
                    # transaction was rolled back whole; try again at once, at a random offset.
                    self._conflicts_in_a_row += 1
                    self.lock_conflicts += 1
                    backoff = random.uniform(0.01, 0.1)
                    log.info("fmd: a write lost a lock race (%s); retrying", type(exc).__name__)
                else:
                    self.failed_writes += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    backoff = min(max(backoff * 2, 0.5), _MAX_BACKOFF)
                    self.errors.report("write", "fmd: could not write to its database (%s); retrying in %.1f s",
                                       self.last_error[:300], backoff, exc_info=False)
            with self._progress:
                self._progress.notify_all()

    def _count_drops(self) -> None:
        """Count the deque's evictions, and trim a held batch so held + queued stays within QUEUE_SIZE."""
        # Requests append before they count, and submitted() is read before len(queue): never an overcount.
        evicted = self.submitted() - self._taken - len(self.queue)
        if evicted > self._evicted:
            self._evicted = evicted
        held = self._held
        if held is not None:
            excess = len(held[1]) + len(self.queue) - self.queue_size
            if excess > 0:
                # The oldest go first, as in the deque. The batch keeps its id: if an earlier attempt did
                # commit, the retry is still recognised (and the trimmed records were in fact stored).
                self._held = (held[0], held[1][excess:], held[2])
                self._trimmed += min(excess, len(held[1]))
        self.dropped = self._evicted + self._trimmed

    def _pass(self) -> None:
        now = time.time()
        if now >= self._next_sync:
            self._sync()
            self._next_sync = now + self.sync_interval
        # Bounded: under sustained load a pass must end, so levels and health stay current.
        for _ in range(len(self.queue) // self.batch_size + 2):
            cpu = time.thread_time()
            if self._held is None:
                self._held = self._take()
            if self._held is None:
                break  # an idle wake-up is not counted: it would inflate the cost of the requests there were
            try:
                self._write(*self._held)
                self.writer_records += len(self._held[1])
                self._held = None
            finally:  # a failed attempt's CPU counts too: it is part of what writing these records cost
                self.writer_cpu_s += time.thread_time() - cpu
            with self._progress:
                self._progress.notify_all()
        if now >= self._next_health or self._reported != (self.failed_writes, self.dropped):
            # Also at once after a failure or a drop, so an outage shows as soon as the database is back.
            self._report_health()
            self._next_health = now + _HEALTH_EVERY

    def _take(self) -> tuple | None:
        """Pop up to BATCH_SIZE records (and the pending last-seen times) as the next batch."""
        records = []
        pop = self.queue.popleft
        try:
            for _ in range(self.batch_size):
                records.append(pop())
        except IndexError:
            pass
        self._taken += len(records)
        self._count_drops()
        last_seen = {}
        if self.last_seen:
            pending, self.last_seen = self.last_seen, {}
            last_seen = pending
        if not records and not last_seen:
            return None
        from ..store.writes import new_batch_id

        return (new_batch_id(), records, last_seen)

    def _write(self, batch_id: str, records: list, last_seen: dict) -> None:
        from ..store import writes

        taken = len(records)
        synced_at = self.levels.synced_at or 0.0
        table = self.levels.table
        for record in records:  # before the filter below: a level-0 endpoint still gets its last-requested time
            if record[0] is not None:
                previous = last_seen.get(record[0], 0.0)
                if record[2] > previous:
                    last_seen[record[0]] = record[2]
        if records and any(r[2] < synced_at for r in records):
            # Made before this process knew the stored levels: honour a level 0 set in the dashboard.
            # (any(), not records[0]: a long request that started early can be queued after a later short one.)
            records = [r for r in records if r[0] is None or r[2] >= synced_at or table.get(r[0], 1) > 0]
        names = {name for name in last_seen if table.get(name, 0) != EXCLUDED}
        unknown = [n for n in names if n not in self._endpoint_ids]
        if unknown:
            with self.store.write() as conn:
                self._endpoint_ids.update(writes.ensure_endpoints(conn, self.store.tables, unknown, table))
        try:
            with self.store.write() as conn:
                self._recreate_removed(conn, names)
                written = writes.write_batch(conn, self.store.tables, batch_id, self.version, records,
                                             self._endpoint_ids, {n: last_seen[n] for n in names})
        except writes.AlreadyWritten:
            written = sum(1 for r in records if r[0] is not None)
            self.already_written += 1
            log.info("fmd: batch %s was already stored by an earlier attempt", batch_id)
        self.rows_written += written
        self._done += taken

    def _recreate_removed(self, conn, names: set) -> None:  # noqa: ANN001
        """Re-create endpoints a merge removed since their ids were cached (see fmd.store.purge)."""
        from ..store import writes
        from ..store.purge import missing_endpoints

        gone = missing_endpoints(conn, self.store.tables, {self._endpoint_ids[n] for n in names
                                                          if n in self._endpoint_ids})
        if gone:
            self._endpoint_ids = {n: i for n, i in self._endpoint_ids.items() if i not in gone}
            self._endpoint_ids.update(writes.ensure_endpoints(
                conn, self.store.tables, [n for n in names if n not in self._endpoint_ids], self.levels.table))

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
        names = [n for n in self.endpoint_names() if self.levels.level_of(n) != EXCLUDED]
        missing = [n for n in names if n not in self._endpoint_ids]
        if missing:
            with self.store.write() as conn:
                self._endpoint_ids.update(writes.ensure_endpoints(conn, t, missing, self.levels.table))

    def _report_health(self) -> None:
        from ..store import writes

        row = {"id": self._process_id, "host": socket.gethostname()[:100], "pid": os.getpid(),
               "started_at": _utc(self._started_at), "last_seen": writes.utcnow(),
               "queue_length": len(self.queue), "rows_written": self.rows_written, "dropped": self.dropped,
               "failed_writes": self.failed_writes, "internal_errors": self.errors.total,
               "last_error": self.last_error, "version": self.version, **self.cost_us()}
        with self.store.write() as conn:
            writes.report_process(conn, self.store.tables, row)
            if time.time() >= self._next_prune:
                writes.prune_batches(conn, self.store.tables)
                self._next_prune = time.time() + 3600
        self._reported = (row["failed_writes"], row["dropped"])


def _is_lock_conflict(exc: BaseException) -> bool:
    """A deadlock or lock timeout that rolled the whole transaction back (worth an immediate retry)."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in ("40P01", "40001") or getattr(orig, "pgcode", None) in ("40P01", "40001"):
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in (1205, 1213)  # MySQL/MariaDB: lock wait timeout, deadlock


def _utc(epoch: float):  # noqa: ANN202
    from datetime import datetime, timezone

    return datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)


def flush_all(timeout: float = 10.0) -> bool:
    """Flush every recorder of this process (at interpreter exit and on gunicorn's graceful stop)."""
    ok = True
    deadline = time.monotonic() + timeout
    for recorder in list(_recorders):
        if recorder.started:
            ok = recorder.flush(max(deadline - time.monotonic(), 0.1)) and ok
    return ok


def _after_fork_in_child() -> None:
    for recorder in list(_recorders):
        recorder._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_all)
