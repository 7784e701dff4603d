"""SIGTERM without a server's handler (waitress, ``python app.py``, a bare container): flush, then die of it.

Python's default action for SIGTERM kills the process at once: atexit hooks never run, so whatever fmd had
queued is lost (``docker stop`` and systemd send SIGTERM). gunicorn and uWSGI install their own handlers in
their workers and stop them through a path that reaches fmd's exit flush; this module leaves those alone.

Contract of ``install()`` (called at each bind; acts once per process):

- only from the main thread (``signal.signal`` raises ValueError elsewhere: then nothing is installed);
- never inside uWSGI (its C-level handlers are invisible to ``signal.getsignal``, which would report SIG_DFL);
- only over SIG_DFL or a Python handler the host installed; SIG_IGN and handlers set outside Python are kept;
- on SIGTERM: flush fmd's queues, bounded by FLUSH_TIMEOUT, in a helper thread (the signal interrupts the main
  thread anywhere, possibly inside fmd's hand-off lock, so the main thread must not wait on that lock), then
  call the previous Python handler once, or restore SIG_DFL and send SIGTERM again so the process ends with
  the status its supervisor expects. The signal is never swallowed.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import time
from typing import Any

log = logging.getLogger("fmd")

#: Seconds the SIGTERM handler waits for fmd's queues to be written (docker stop waits 10 s before SIGKILL).
FLUSH_TIMEOUT = 5.0

_installed_pid = 0
_previous: Any = None


def install() -> bool:
    """Install the flushing SIGTERM handler in this process if it may; True when installed now or before."""
    global _installed_pid, _previous
    if _installed_pid == os.getpid():
        return True
    if "uwsgi" in _loaded_servers():
        return False
    # Whether this is the main thread is left to signal.signal (ValueError elsewhere): under eventlet,
    # threading.current_thread() in the main thread is not threading.main_thread().
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_IGN or current is None:  # ignored on purpose, or a handler set from C
            return False
        if _is_server_handler(current):
            # gunicorn (without --preload it loads the app after installing its worker's handlers): its
            # graceful stop ends the worker through sys.exit, which reaches fmd's exit flush. Running ours
            # first would only delay its stop (and, in a gevent worker, freeze the greenlets meanwhile).
            return False
        if current is not _on_sigterm:  # else inherited through a fork: keep the parent's previous handler
            signal.signal(signal.SIGTERM, _on_sigterm)
            _previous = current
    except (ValueError, OSError, RuntimeError):  # not the main thread of the main interpreter
        return False
    _installed_pid = os.getpid()
    return True


#: Modules whose SIGTERM handlers stop their workers gracefully through a path that reaches atexit.
SERVER_MODULES = ("gunicorn", "uwsgi")


def _is_server_handler(handler: Any) -> bool:
    """Whether *handler* belongs to a server that stops its workers gracefully by itself."""
    module = getattr(handler, "__module__", None) or getattr(getattr(handler, "__func__", None), "__module__", "")
    return bool(module) and any(module == m.rstrip(".") or module.startswith(m.rstrip(".") + ".")
                                for m in SERVER_MODULES)


def _loaded_servers() -> set[str]:
    from . import servers

    return {"uwsgi"} if servers._uwsgi() is not None else set()


def flush_before_exit(timeout: float = FLUSH_TIMEOUT) -> bool:
    """Write what fmd queued in this process, waiting at most *timeout* s; False when it did not finish."""
    from ..native import NativeEvent, start_thread

    # A native OS thread and event even under gevent/eventlet: the handler runs in whatever greenlet the signal
    # interrupted (possibly the hub), where joining a green thread cannot work.
    done = NativeEvent()
    ok: list[bool] = []

    def flush() -> None:
        try:
            flush_at_exit(timeout)  # flush, or one attempt when the database is down
            ok.append(True)
        except Exception:
            log.exception("fmd: could not flush on SIGTERM")
        finally:
            done.set()

    start_thread(flush, "fmd-sigterm-flush")
    return done.wait(timeout + 0.5) and bool(ok)


def flush_all(timeout: float = 10.0) -> bool:
    """Flush every recorder of this process (fmd.flush(), gunicorn's graceful stop)."""
    from .recorder import _recorders

    ok = True
    deadline = time.monotonic() + timeout
    for recorder in list(_recorders):
        if recorder.started:
            ok = recorder.flush(max(deadline - time.monotonic(), 0.1)) and ok
    return ok


def flush_at_exit(timeout: float = 10.0) -> None:
    """At exit: flush; a recorder whose database is down (or goes down meanwhile) gets one attempt at once,
    then the records it could not write are logged as lost."""
    from .recorder import _recorders

    deadline = time.monotonic() + timeout
    for recorder in list(_recorders):
        if not recorder.running:
            continue
        remaining = max(deadline - time.monotonic(), 0.1)
        if recorder.backing_off:
            lost = recorder.last_attempt(min(remaining, 5.0))
        elif recorder.flush(remaining, until_failure=True):
            lost = 0
        elif recorder.backing_off:  # it failed while we waited
            lost = recorder.last_attempt(min(max(deadline - time.monotonic(), 0.1), 5.0))
        else:
            lost = recorder.pending()
        if lost:
            log.warning("fmd: %d records could not be written before exit (%s); they are lost", lost,
                        recorder.batches.tally.last_error or "the database did not answer in time")


atexit.register(flush_at_exit)


def _on_sigterm(signum: int, frame: Any) -> None:
    previous = _previous
    flush_before_exit()  # this process's own records (a forked child's recorders were reset at the fork)
    if callable(previous):
        previous(signum, frame)  # the host's own handler decides what SIGTERM means (once)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
