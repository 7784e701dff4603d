"""The custom graphs of one bound app, run by an APScheduler ``BackgroundScheduler`` in each process.

Lifecycle: the scheduler starts with the app's writer thread (the first request, or the first dashboard page,
of each process: after gunicorn's fork), and is created again in a forked child, where the parent's thread does
not exist. ``stop()`` (``fmd.close(app)``, or the app being collected) shuts it down. An app without graphs has
no scheduler, and APScheduler is imported only when one starts.

One tick, one value, cluster-wide: every process fires on the same grid (``fmd.graphs.schedule``), and
``fire`` first claims the tick in the store (``fmd.store.custom_graphs.claim``); only the winner calls the
function. Overlap is decided there too: when an earlier run of the graph has not finished (in this process,
or in the store within ``stale_after``), the tick is recorded as *skipped* instead of running the function
twice at once. So APScheduler's ``max_instances`` is not what bounds runs (our executor does not count
instances): it would only see this process. ``coalesce`` is on (a scheduler that woke up late runs the
latest tick once), and a run that starts more than ``grace`` after its tick is left to another process.

Nothing here raises into the host: a function that raises, returns something that is not a finite number,
or overruns is counted and shown on its page, logged at most once a minute per graph; a database error is
reported through the app's ErrorLog. Each run is a short-lived daemon thread ("fmd-graph"): a function that
never returns cannot hold up the interpreter's exit.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import weakref
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..options import ConfigError
from .registry import Graph, check_value

if TYPE_CHECKING:
    from ..instrument.guard import ErrorLog
    from ..store.engine import Store

log = logging.getLogger("fmd.graphs")

#: Seconds between two log lines about one graph's failures.
LOG_EVERY = 60.0
_runners: "weakref.WeakSet[GraphRunner]" = weakref.WeakSet()
_HOST = socket.gethostname()[:80]


def grace_for(period_s: float) -> float:
    """How late after its tick a run may still start here: a period (at least 1 s, at most 5 minutes)."""
    return min(max(period_s, 1.0), 300.0)


class GraphRunner:
    """The graphs of one app and, per process, the scheduler that runs them."""

    def __init__(self, store: "Store", errors: "ErrorLog", default_tz: str = "UTC") -> None:
        self.store = store
        self.errors = errors
        self.default_tz = default_tz
        self.graphs: dict[str, Graph] = {}
        #: Counters of this process: ticks run, failed (raised / bad value / skipped), lost to another process,
        #: missed (started too late here).
        self.counts = {"runs": 0, "failures": 0, "skipped": 0, "lost": 0, "missed": 0}
        self._ids: dict[str, int] = {}
        self._inflight: set[str] = set()  # graphs whose function runs in this process now
        self._threads: set[threading.Thread] = set()
        self._last_log: dict[str, float] = {}
        self._scheduler: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        _runners.add(self)

    # ------------------------------------------------------------------ graphs

    def add(self, graph: Graph) -> None:
        """Take *graph* (ConfigError for a title this app has already); scheduled at once if running."""
        graph.schedule = graph.schedule.with_default_tz(self.default_tz)
        with self._lock:
            if graph.title in self.graphs:
                raise ConfigError(f"add_graph: this app has a graph titled {graph.title!r} already")
            self.graphs[graph.title] = graph
            scheduler = self._scheduler if self.running else None
        if scheduler is not None:
            try:
                self._add_job(scheduler, graph)
            except Exception:
                self.errors.report("graphs", "fmd: could not schedule custom graph %r", graph.title)

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        """This process's scheduler runs."""
        return self._scheduler is not None and self._pid == os.getpid()

    def start(self) -> None:
        """Start this process's scheduler unless it runs or there is nothing to run (idempotent, fork-aware).

        Never raises: it is called from the writer's start, on the host's request path.
        """
        try:
            self._start()
        except Exception:
            self._scheduler = None
            self.errors.report("graphs", "fmd: could not start the custom graphs' scheduler")

    def _start(self) -> None:
        with self._lock:
            if not self.graphs or self.running:
                return
            # In a forked child the parent's scheduler object is left alone: its thread does not exist here.
            self._scheduler = scheduler = _new_scheduler()
            self._pid = os.getpid()
            self._inflight = set()
            self._threads = set()
            graphs = list(self.graphs.values())
        scheduler.start()
        for graph in graphs:  # one at a time: a graph that cannot be scheduled leaves the others running
            try:
                self._add_job(scheduler, graph)
            except Exception:
                self.errors.report("graphs", "fmd: could not schedule custom graph %r", graph.title)
        thread = getattr(scheduler, "_thread", None)
        if thread is not None:
            thread.name = "fmd-graphs"  # so thread listings (and fmd's tests) see whose it is

    def stop(self, timeout: float = 5.0) -> None:
        """Shut the scheduler down and wait (up to *timeout*) for runs under way; idempotent."""
        with self._lock:
            scheduler, mine = self._scheduler, self._pid == os.getpid()
            self._scheduler = None
            self._pid = 0
        if scheduler is None or not mine:
            return
        try:
            scheduler.shutdown(wait=False)
        except Exception:  # already shut down, or the interpreter is ending
            log.debug("fmd: the graph scheduler did not shut down cleanly", exc_info=True)
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _add_job(self, scheduler: Any, graph: Graph) -> None:
        period = graph.schedule.typical_period(datetime.now(timezone.utc))
        scheduler.add_job(self._submit, graph.schedule.apscheduler_trigger(), args=(graph.title,),
                          id=f"fmd-graph-{id(graph):x}", name=f"fmd custom graph {graph.title!r}",
                          coalesce=True, misfire_grace_time=int(grace_for(period)) or 1, max_instances=1,
                          replace_existing=True)

    def _submit(self, title: str, scheduled: datetime | None = None) -> None:
        """Called by the executor: run ``fire`` in a daemon thread of its own."""
        if scheduled is None:  # (only APScheduler's signature check calls it without one)
            return
        thread = threading.Thread(target=self._run_thread, args=(title, scheduled), name="fmd-graph", daemon=True)
        self._threads.add(thread)
        thread.start()

    def _run_thread(self, title: str, scheduled: datetime) -> None:
        try:
            self.fire(title, scheduled)
        except Exception:  # fire guards itself; this is the last line for a bug of fmd's own
            self.errors.report("graphs", "fmd: a custom graph run hit an internal error")
        finally:
            self._threads.discard(threading.current_thread())

    # ------------------------------------------------------------------ one tick

    def fire(self, title: str, scheduled: datetime, now: datetime | None = None) -> str | None:
        """Claim the tick *scheduled* (aware) of graph *title* and, if won, run it; the outcome, None if not ours."""
        from ..store import custom_graphs as cg

        graph = self.graphs.get(title)
        if graph is None:
            return None
        scheduled = scheduled.astimezone(timezone.utc)
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        period = graph.schedule.typical_period(scheduled)
        if (now - scheduled).total_seconds() > grace_for(period):
            self.counts["missed"] += 1  # another process may still run it in time
            return None
        tick = scheduled.replace(tzinfo=None)
        holder = f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        t = self.store.tables
        try:
            graph_id = self._graph_id(graph)
            with self.store.write() as conn:
                if not cg.claim(conn, t, graph_id, tick, holder):
                    self.counts["lost"] += 1
                    return None
                earlier = (title if title in self._inflight else None) or cg.running_before(
                    conn, t, graph_id, tick, tick - cg.stale_after(period))
                if earlier is not None:
                    since = earlier if isinstance(earlier, datetime) else "an earlier tick"
                    message = (f"skipped: the run for {since} had not finished (the function takes longer than "
                               f"its period, {graph.schedule.describe()})")
                    cg.finish(conn, t, graph_id, tick, error=message, outcome=cg.SKIPPED)
        except Exception as exc:
            from ..instrument.batches import is_lock_conflict

            if is_lock_conflict(exc):  # (MySQL: two claims deadlocked; the one that went on holds the tick)
                self.counts["lost"] += 1
                return None
            self.errors.report("graphs", "fmd: could not claim a tick of custom graph %r", title)
            return None
        if earlier is not None:
            self.counts["skipped"] += 1
            self.counts["failures"] += 1
            self._log_failure(title, message, None)
            return cg.SKIPPED
        return self._run(graph, graph_id, tick, period)

    def _run(self, graph: Graph, graph_id: int, tick: datetime, period: float) -> str:
        from ..store import custom_graphs as cg

        self._inflight.add(graph.title)
        started = time.perf_counter()
        value: float | None = None
        error: str | None = None
        try:
            result = graph.func()
        except BaseException as exc:  # whatever the host's function raises (SystemExit too): counted, shown
            error = _describe(exc)
            self._log_failure(graph.title, error, exc if isinstance(exc, Exception) else None)
        else:
            try:
                value = check_value(result)
            except Exception as exc:  # (a number type whose __float__ fails in its own way, too)
                error = _describe(exc)
                self._log_failure(graph.title, error, None)
        finally:
            self._inflight.discard(graph.title)
        duration = time.perf_counter() - started
        if error is None and duration > period:
            self._log_failure(graph.title, f"took {duration:.1f} s, longer than its period of {period:g} s; "
                              "ticks that came while it ran are skipped", None)
        outcome = cg.OK if error is None else cg.ERROR
        try:
            with self.store.write() as conn:
                cg.finish(conn, self.store.tables, graph_id, tick, value=value, error=error, outcome=outcome,
                          duration=duration)
        except Exception:
            self.errors.report("graphs", "fmd: could not store a value of custom graph %r", graph.title)
        self.counts["runs" if error is None else "failures"] += 1
        return outcome

    def _graph_id(self, graph: Graph) -> int:
        from ..store import custom_graphs as cg

        graph_id = self._ids.get(graph.title)
        if graph_id is None:
            with self.store.write() as conn:
                graph_id = cg.register(conn, self.store.tables, graph.title, graph.schedule.describe())
            self._ids[graph.title] = graph_id
        return graph_id

    def _log_failure(self, title: str, message: str, exc: BaseException | None) -> None:
        now = time.monotonic()
        if now - self._last_log.get(title, -1e9) < LOG_EVERY:
            return
        self._last_log[title] = now
        log.warning("fmd: custom graph %r: %s (logged at most once a minute; its page shows every failure)",
                    title, message, exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None)


def _describe(exc: BaseException) -> str:
    """``Type: message (in function, file:line)`` of what a graph function raised, where it was raised."""
    try:
        message = str(exc)
    except Exception:  # an exception that cannot be made into text still ends its tick as an error
        message = "<unprintable message>"
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        code = tb.tb_frame.f_code
        text += f" (in {code.co_name}, {os.path.basename(code.co_filename)}:{tb.tb_lineno})"
    return text


def _new_scheduler() -> Any:
    """A BackgroundScheduler in UTC whose executor hands each due tick, with its time, to a daemon thread."""
    from apscheduler.executors.base import BaseExecutor
    from apscheduler.schedulers.background import BackgroundScheduler

    class TickExecutor(BaseExecutor):
        """Calls ``job.func(*job.args, scheduled_time)``: the tick comes from the trigger, not from a clock."""

        def submit_job(self, job: Any, run_times: list) -> None:
            # No instance count: overlap is decided per graph and cluster-wide in GraphRunner.fire.
            self._do_submit_job(job, run_times)

        def _do_submit_job(self, job: Any, run_times: list) -> None:
            job.func(*job.args, run_times[-1])

    quiet = logging.getLogger("fmd.graphs.apscheduler")
    return BackgroundScheduler(timezone=timezone.utc, daemon=True, executors={"default": TickExecutor()},
                               logger=quiet)


def _after_fork_in_child() -> None:
    # A lock held by a parent thread at fork time would stay held forever in the child.
    for runner in list(_runners):
        runner._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)

