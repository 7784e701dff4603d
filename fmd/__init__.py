"""fmd: a performance-monitoring dashboard for Flask apps, in two lines.

    import fmd
    fmd.bind(app)

The public API: ``config``, ``bind``, ``FMD``, ``flush``, ``stats``, ``set_level``, ``capture``, ``close``,
``add_graph``, ``ConfigError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .config import Config, ConfigError, ConfigWarning
from .extension import FMD
from .lifecycle import bound as _bound

if TYPE_CHECKING:
    from flask import Flask

    from .state import DisabledState, State

__version__ = "0.1.0"

#: The process-wide configuration used by ``bind()``: ``fmd.config.init_from(file=...)``,
#: ``fmd.config.group_by = ...``, ``fmd.config.monitor_level = 2``.
config = Config()


def bind(app: "Flask", **options: Any) -> "State | DisabledState":
    """Monitor *app* and serve the dashboard at /<CUSTOM_LINK>; keyword options override other sources."""
    return FMD(config=config, **options).init_app(app)


def _state(app: "Flask | None") -> "State | DisabledState":
    if app is not None:
        return app.extensions["fmd"]
    from flask import current_app, has_app_context

    if has_app_context() and "fmd" in current_app.extensions:
        return current_app.extensions["fmd"]
    state = _bound.newest()  # the newest bound app that is still alive
    if state is None:
        raise RuntimeError("fmd is not bound to any app yet; call fmd.bind(app) first")
    return state


def flush(timeout: float = 10.0) -> bool:
    """Write every queued record of every bound app in this process; False if *timeout* ran out first."""
    from .instrument.shutdown import flush_all

    return flush_all(timeout)


def stats(app: "Flask | None" = None) -> dict:
    """Recording health of this process: queue length, rows written, dropped, failed writes, last error."""
    return _state(app).stats()


def set_level(endpoint: str, level: int, app: "Flask | None" = None) -> None:
    """Set an endpoint's monitoring level (0-3) for every worker and host sharing the database."""
    _state(app).set_level(endpoint, level)


def capture(exc: BaseException | None = None, app: "Flask | None" = None) -> bool:
    """Record a handled exception as an occurrence of its group on the Exceptions page; True when queued.

    Without *exc*, the exception being handled (call it in an ``except`` block). Inside a monitored request it
    counts for that request's endpoint. The host's own handling is unchanged; this never raises.
    """
    try:
        state = _state(app)
    except Exception:
        return False
    return state.capture(exc)


def add_graph(title: str, func: "Callable[[], float]", trigger: str, *, app: "Flask | None" = None,
              **schedule: Any) -> Any:
    """Plot what *func* returns on a schedule: ``add_graph("Users", count_users, "interval", minutes=5)``.

    *trigger* is ``"cron"`` with singular fields (``second=1``, ``minute``, ``hour=0``, ``day``, ``month``,
    ``day_of_week``, ``week``, ``year``; ``timezone=`` defaults to TIMEZONE) or ``"interval"`` with plural
    fields (``seconds=10``, ``minutes``, ``hours``, ``days``, ``weeks``; ticks counted from 1970-01-01 UTC).
    Each tick runs *func* once across every worker and host sharing the database and stores its number.
    After ``bind`` the graph belongs to *app* (default: the app bound last); before ``bind``, to the next app
    bound. An invalid title, function or schedule raises ``ConfigError`` (a ValueError) naming the field.
    """
    from .graphs.registry import add_graph as _add_graph

    return _add_graph(title, func, trigger, app=app, **schedule)


def close(app: "Flask | None" = None, timeout: float = 10.0) -> bool:
    """Flush *app*'s records, stop fmd's threads and release its database connections (idempotent).

    For test teardown and app factories; False if *timeout* ran out before the queue was written.
    An app that is garbage-collected is closed the same way without this call.
    """
    return _state(app).close(timeout)


__all__ = ["FMD", "Config", "ConfigError", "ConfigWarning", "add_graph", "bind", "capture", "close", "config", "flush",
           "set_level", "stats"]
