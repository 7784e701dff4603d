"""``fmd.add_graph``: which app each custom graph belongs to, before and after ``bind``.

- After ``bind``: the graph goes to the app named by ``app=``, else the app bound most recently (alive).
- Before any ``bind``: the graph waits here and goes to the next app bound (with fmd enabled), and only to
  that one: a graph is one series in one database. A later app bound in the same process gets a warning
  naming the app (and database) the earlier graphs went to; ``add_graph(..., app=other)`` adds one there.

Each app's graphs live in its ``GraphRunner`` (``state.recorder.graphs``), created with its first graph, so an
app without graphs has no scheduler. Nothing here imports APScheduler or SQLAlchemy.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..options import ConfigError
from .schedule import Schedule, parse_schedule

if TYPE_CHECKING:
    from flask import Flask

    from .runner import GraphRunner

log = logging.getLogger("fmd")

#: Longest title (the column is 250 characters).
TITLE_LEN = 250


@dataclass(eq=False)
class Graph:
    """One custom graph: a title (unique per database), the function and its schedule."""

    title: str
    func: Callable[[], Any]
    schedule: Schedule
    #: Set when the graph was added before bind: shown in the log line that names its database.
    before_bind: bool = False


_pending: list[Graph] = []
_lock = threading.Lock()
#: The state that took the graphs added before bind, and their titles (for the warning at later binds).
_adopter: "weakref.ref | None" = None
_adopted_titles: list[str] = []


def make_graph(title: Any, func: Any, trigger: Any, schedule: dict[str, Any]) -> Graph:
    """A checked Graph; ConfigError (a ValueError) naming what is wrong otherwise."""
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"add_graph: title must be a non-empty string, not {title!r}")
    title = title.strip()
    if len(title) > TITLE_LEN:
        raise ConfigError(f"add_graph: title is {len(title)} characters long; at most {TITLE_LEN} are accepted")
    if not callable(func):
        raise ConfigError(f"add_graph: func must be callable (a function returning a number), not {func!r}")
    return Graph(title, func, parse_schedule(trigger, schedule))


def add_graph(title: str, func: Callable[[], Any], trigger: str, *, app: "Flask | None" = None,
              **schedule: Any) -> Graph:
    """Check the graph and give it to its app (see the module docstring); the Graph."""
    graph = make_graph(title, func, trigger, schedule)
    with _lock:
        state = _target(app)
        if state is None:
            if any(g.title == graph.title for g in _pending):
                raise ConfigError(f"add_graph: a graph titled {graph.title!r} was already added")
            graph.before_bind = True
            _pending.append(graph)
            log.info("fmd: custom graph %r (%s) will be stored in the database of the next app bound",
                     graph.title, graph.schedule.describe())
            return graph
    attach(state, graph)
    return graph


def _target(app: "Flask | None") -> Any:
    if app is not None:
        state = app.extensions.get("fmd")
        if state is None:
            raise ConfigError(f"add_graph: fmd is not bound to the app {app.name!r}; call fmd.bind(app) first "
                              "or leave app= out to attach the graph to the next app bound")
        return state
    from ..lifecycle import bound

    return bound.newest()


def runner_for(state: Any) -> "GraphRunner":
    """The GraphRunner of a bound state, created (and hooked to its writer) with its first graph."""
    recorder = state.recorder
    runner = getattr(recorder, "graphs", None)
    if runner is None:
        from .runner import GraphRunner

        runner = GraphRunner(state.store, state.errors, state.settings.timezone)
        recorder.graphs = runner
        if recorder.running:  # the writer runs already: no later start() would start the scheduler
            runner.start()
    return runner


def attach(state: Any, graph: Graph) -> None:
    """Give *graph* to a bound app's state (ConfigError for a title it has already)."""
    if not state.enabled:
        log.info("fmd: custom graph %r is not run: fmd is disabled for this app", graph.title)
        return
    runner_for(state).add(graph)
    app = state.host_app
    log.log(logging.WARNING if graph.before_bind and len(_live_enabled()) > 1 else logging.INFO,
            "fmd: custom graph %r (%s) is stored in the database of app %r (%s)", graph.title,
            graph.schedule.describe(), getattr(app, "name", "?"), safe_url(state.store.url))


def adopt_pending(state: Any) -> None:
    """At ``bind``: hand the graphs added before it to *state*, or warn that earlier ones went elsewhere."""
    global _adopter
    if not state.enabled:
        return
    with _lock:
        graphs, _pending[:] = list(_pending), []
        earlier = _adopter() if _adopter is not None else None
        if graphs:
            _adopter = weakref.ref(state)
            _adopted_titles[:] = [g.title for g in graphs]
    for graph in graphs:
        attach(state, graph)
    if not graphs and earlier is not None and earlier is not state:
        app = earlier.host_app
        log.warning("fmd: the custom graphs added before bind (%s) run in app %r and are stored in its database "
                    "(%s), not in this app's; use fmd.add_graph(..., app=this_app) for graphs of this app",
                    ", ".join(repr(t) for t in _adopted_titles), getattr(app, "name", "?"),
                    safe_url(earlier.store.url))


def pending() -> list[Graph]:
    """Graphs added before any bind, not yet given to an app."""
    return list(_pending)


def _live_enabled() -> list:
    from ..lifecycle import bound

    return [s for s in bound.live() if s.enabled]


def safe_url(url: str) -> str:
    """*url* without its password, for logs."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(a database URL)"


def check_value(value: Any) -> float:
    """The number a graph function returned, as a float; ValueError saying what it returned otherwise.

    Booleans are refused: ``True`` plotted as 1.0 is more likely a bug (a check returning a flag) than a
    measure; ``int(flag)`` says it on purpose. Decimal, numpy numbers and the like convert through float().
    """
    if isinstance(value, bool):
        raise ValueError("returned a bool (True/False), not a number; return int(...) to plot it as 0/1")
    number = None
    if not isinstance(value, (str, bytes)) and hasattr(value, "__float__"):  # int, float, Decimal, numpy
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError):
            number = None if not isinstance(value, int) else (math.inf if value > 0 else -math.inf)
    if number is None:
        raise ValueError(f"returned {type(value).__name__} {repr(value)[:80]}, not a number")
    if not math.isfinite(number):
        raise ValueError(f"returned {number!r}, not a finite number")
    return number
