"""Threads and wake-ups that stay native OS ones whatever a server monkey-patches, before or after fmd loads.

Why: gunicorn's gevent worker (and eventlet) replace ``threading`` with greenlets, in the worker, after the app
may have been imported (``--preload``). A primitive made before the patch is a native one used by greenlets
(waiting on it blocks every greenlet of the worker); one made after it is a greenlet one (unusable from a real
thread); a native lock held across a greenlet ``Thread.start()`` deadlocks the worker. fmd avoids all three:

- its background threads are real OS threads even in a patched worker (the original ``start_new_thread``), so the
  writer is scheduled by the OS and keeps up however busy the request greenlets are;
- they sleep on ``NativeEvent``, built on the original lock, which any thread may set;
- the only locks request code takes around fmd's state are never held across anything that can yield.

Without monkey-patching, ``start_thread`` is a plain named ``threading.Thread``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

try:
    import _thread
except ImportError:  # pragma: no cover
    _thread = None  # type: ignore[assignment]


def _original(module: str, name: str) -> Any:
    """The unpatched ``module.name`` when gevent or eventlet patched it, else the current one."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched(module):
        return gevent_monkey.get_original(module, name)
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("thread"):
        return getattr(patcher.original(module), name)
    return getattr(sys.modules.get(module) or __import__(module), name)


def is_patched() -> bool:
    """Whether gevent or eventlet replaced threads with greenlets in this process."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        return True
    patcher = sys.modules.get("eventlet.patcher")
    return patcher is not None and bool(patcher.is_monkey_patched("thread"))


def native_lock() -> Any:
    """A lock of the operating system (never a greenlet one)."""
    return _original("_thread", "allocate_lock")()


def start_thread(target: Callable[[], None], name: str) -> None:
    """Run *target* in a new OS thread (a daemon: it never holds up the interpreter's exit)."""
    if not is_patched():
        threading.Thread(target=target, name=name, daemon=True).start()
        return
    _original("_thread", "start_new_thread")(target, ())


class NativeEvent:
    """``threading.Event`` for one waiter, on a native lock: set from any thread or greenlet, never yields."""

    def __init__(self) -> None:
        self._lock = native_lock()
        self._lock.acquire()  # held while unset: wait() blocks on it
        self._flag = False

    def set(self) -> None:
        self._flag = True
        try:
            self._lock.release()
        except RuntimeError:  # already released: already set
            pass

    def clear(self) -> None:
        self._flag = False
        self._lock.acquire(False)

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float) -> bool:
        if self._flag:
            return True
        if self._lock.acquire(True, max(timeout, 0.0)):
            self._lock.release()  # stays set until clear()
        return self._flag


class YieldingRLock:
    """A re-entrant lock for OS threads and greenlets alike, for rare, possibly long holds (a migration).

    Owned by ``threading.get_ident()`` (a gevent worker patches it to the greenlet's id), so two greenlets of one
    thread exclude each other, which a native RLock would not (it is owned by the OS thread); a waiter polls
    with ``time.sleep`` (which yields in a gevent worker), so it never blocks the greenlet holding the lock.
    """

    def __init__(self) -> None:
        self._lock = native_lock()
        self._owner: int | None = None
        self._count = 0

    def acquire(self) -> bool:
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        delay = 0.0001
        while not self._lock.acquire(False):
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
        self._owner, self._count = me, 1
        return True

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("release of a YieldingRLock this thread or greenlet does not hold")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    def __enter__(self) -> "YieldingRLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
