"""What the server running this process allows fmd to do, and one clear warning for what it does not.

Pure detection, standard library only, read when fmd binds (and again on demand): nothing here imports a
server. What is detected:

- uWSGI (``import uwsgi`` succeeds only inside it; ``uwsgi.opt`` holds the command-line options, keys and
  values as bytes, a bare flag as True): Python threads switched off (uWSGI builds before 2.0.22-ish default to
  no threads unless ``--enable-threads`` or ``--threads``; the pyuwsgi wheels and 2.0.31 have them on;
  ``uwsgi.has_threads`` says what really happened), and a pre-forking master without ``--lazy-apps`` or
  ``--py-call-osafterfork``: uWSGI forks its workers from C, so Python's ``os.register_at_fork`` hooks never run
  in them. fmd then registers its own reset as a uWSGI post-fork hook (``post_fork_hooks``), which is
  enough; only a worker where that hook did not run (another ``uwsgi.post_fork_hook`` replaced it) is warned about.
- eventlet monkey-patching threads: unsupported (eventlet is deprecated and gunicorn 26+ dropped its worker).
  fmd keeps serving requests and never blocks, but records may be late or lost; use gevent or threads.
- gevent monkey-patching threads: supported (``is_gevent``), nothing to warn about.

``problems()`` lists one sentence per problem, each naming the server option that fixes it; ``warn_once(log)``
logs each at WARNING once per process; the Health page shows the list.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

log = logging.getLogger("fmd")

_warned: set[str] = set()
_hooked_pid = 0  # the process that registered the uWSGI post-fork hook (the master, without lazy-apps)
_reset_pid = 0  # the last process the hook ran in

NO_THREADS = ("uWSGI runs without Python threads: fmd's writer cannot run, so nothing is stored until the "
              "worker exits; start uWSGI with --enable-threads (or enable-threads = true in its ini file)")
EVENTLET = ("eventlet monkey-patched threads: fmd does not support eventlet (deprecated; gunicorn 26 and later "
            "have no eventlet worker); requests are served but records may be late or lost at exit; run "
            "gunicorn -k gevent or -k gthread instead")
NO_FORK_HOOK = ("uWSGI forked this worker without Python's fork hooks and fmd's uWSGI post-fork hook did not "
                "run (replaced by another uwsgi.post_fork_hook?): the worker may have inherited the master's "
                "recording state; start uWSGI with --lazy-apps or --py-call-osafterfork")


def _uwsgi() -> Any:
    """The ``uwsgi`` module when this process runs inside uWSGI, else None."""
    module = sys.modules.get("uwsgi")
    if module is not None:
        return module
    try:
        import uwsgi  # type: ignore[import-not-found]  # only importable inside a uWSGI process
    except ImportError:
        return None
    return uwsgi


def _option(opts: dict, name: str) -> Any:
    """An option's value from ``uwsgi.opt`` (bytes keys in uWSGI 2.0, str in pyuwsgi), None when absent."""
    value = opts.get(name, opts.get(name.encode()))
    if isinstance(value, list):  # an option given twice
        value = value[-1]
    return value


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).strip().lower() not in ("", "0", "false", "no", "off")


def uwsgi_threads_enabled(uwsgi: Any) -> bool:
    """Whether Python threads run in this uWSGI process."""
    has_threads = getattr(uwsgi, "has_threads", None)
    if has_threads is not None:  # set by uWSGI itself after it decided: the truth, whatever the options said
        return bool(has_threads)
    opts = getattr(uwsgi, "opt", {}) or {}
    # --threads N runs the workers multithreaded, which switches Python threads on too (uWSGI's docs).
    return _truthy(_option(opts, "enable-threads")) or _truthy(_option(opts, "threads"))


def uwsgi_forks_without_hooks(uwsgi: Any) -> bool:
    """Whether uWSGI imports the app once and forks workers without running Python's fork hooks."""
    opts = getattr(uwsgi, "opt", {}) or {}
    if any(_truthy(_option(opts, name)) for name in ("lazy-apps", "lazy")):
        return False  # the app (and fmd) is imported in each worker after the fork
    return not _truthy(_option(opts, "py-call-osafterfork"))


def is_eventlet() -> bool:
    """eventlet has monkey-patched threads in this process."""
    if "eventlet" not in sys.modules:
        return False
    patcher = sys.modules.get("eventlet.patcher")
    try:
        return bool(patcher is not None and patcher.is_monkey_patched("thread"))
    except Exception:  # an eventlet that changed its API: assume the worst only if it patched threading
        return False


def is_gevent() -> bool:
    """gevent has monkey-patched threads in this process (supported)."""
    monkey = sys.modules.get("gevent.monkey")
    try:
        return bool(monkey is not None and monkey.is_module_patched("threading"))
    except Exception:
        return False


def problems() -> list[str]:
    """What stops fmd from recording in this process, one sentence each naming the option that fixes it."""
    found = []
    uwsgi = _uwsgi()
    if uwsgi is not None:
        if not uwsgi_threads_enabled(uwsgi):
            found.append(NO_THREADS)
        if uwsgi_forks_without_hooks(uwsgi) and _missed_fork_hook():
            found.append(NO_FORK_HOOK)
    if is_eventlet():
        found.append(EVENTLET)
    return found


def warn_once(logger: logging.Logger = log) -> list[str]:
    """Log each current problem at WARNING, once per process; the list of problems."""
    found = problems()
    for problem in found:
        key = f"{os.getpid()}:{problem}"
        if key not in _warned:
            _warned.add(key)
            logger.warning("fmd: %s", problem)
    return found


# ---------------------------------------------------------------------------------------------- fork hooks

def _missed_fork_hook() -> bool:
    """In a worker forked after fmd registered its post-fork hook, the hook did not run here (replaced?)."""
    return bool(_hooked_pid) and os.getpid() != _hooked_pid and _reset_pid != os.getpid()


def _import_decorators() -> Any:
    try:
        import uwsgidecorators  # type: ignore[import-not-found]  # shipped with uWSGI (and pyuwsgi)
    except Exception:  # not on the path (some distribution packages), or a uWSGI without the API
        return None
    return uwsgidecorators


def reset_after_fork() -> None:
    """fmd's per-process reset in a fresh worker: the same functions Python's fork hooks call."""
    from ..store import engine, schema
    from . import maintenance, recorder

    recorder_reset: Callable[[], None] = recorder.after_fork_in_child
    for reset in (getattr(engine, "_after_fork_in_child", None), getattr(schema, "_new_lock_in_child", None),
                  getattr(maintenance, "_after_fork_in_child", None), recorder_reset):
        if reset is not None:
            reset()


def post_fork_hooks() -> bool:
    """Under uWSGI forking without Python's fork hooks, run fmd's reset in each worker; True when registered.

    Registered once per process, through uwsgidecorators' post-fork chain when it is importable (so a host
    that also uses ``@postfork`` keeps its hooks), else by chaining ``uwsgi.post_fork_hook``.
    """
    global _hooked_pid
    uwsgi = _uwsgi()
    if uwsgi is None or not uwsgi_forks_without_hooks(uwsgi):
        return False
    if _hooked_pid:
        return True  # registered in the master; its workers inherit the registration
    decorators = _import_decorators()
    if decorators is not None:
        decorators.postfork(_guarded_reset)
    else:
        previous = getattr(uwsgi, "post_fork_hook", None)

        def hook() -> None:
            if callable(previous):
                previous()
            _guarded_reset()

        uwsgi.post_fork_hook = hook
    _hooked_pid = os.getpid()
    return True


def _guarded_reset() -> None:
    global _reset_pid
    _reset_pid = os.getpid()
    try:
        reset_after_fork()
    except Exception:  # a worker must start even if fmd's reset failed
        log.exception("fmd: could not reset its state in a new uWSGI worker")


def install_hooks() -> None:
    """At bind: the uWSGI post-fork hook when needed (never raises)."""
    try:
        post_fork_hooks()
    except Exception:
        log.exception("fmd: could not register its uWSGI post-fork hook")
