"""Apps come and go: bound states are held weakly, and a collected app's threads and connections end.

A host test suite builds hundreds of apps in one process. Nothing of fmd's at module level keeps an app
alive: the registry below holds weak references, the state holds its host app weakly, and the writer's
``endpoint_names`` callback does too. When an app is garbage-collected, ``weakref.finalize`` hands its
recorder and store (never the app, nor the state, which reaches the app through the mount) to a
short-lived ``fmd-closer`` thread that flushes the queue, stops the writer and retention threads and
disposes of the engine.

Why a thread: the garbage collector runs finalizers in whichever thread happens to allocate, which can be
fmd's own writer (whose flush would wait for itself) or a host thread that holds some lock the flush
needs. Closing elsewhere never blocks the collecting thread.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .instrument.recorder import Recorder
    from .store.engine import Store

log = logging.getLogger("fmd")

#: Seconds a collected app's closer waits for its queue to be written. Nobody waits for the closer, so this
#: may be generous: a writer can be queued behind other apps' first-use migrations (one at a time).
CLOSE_TIMEOUT = 30.0


class Registry:
    """Bound states of this process, newest last, held weakly (for fmd.flush()/fmd.stats() without an app)."""

    def __init__(self) -> None:
        self._refs: list[weakref.ref] = []
        self._lock = threading.Lock()

    def add(self, state: Any) -> None:
        with self._lock:
            self._refs = [ref for ref in self._refs if ref() is not None] + [weakref.ref(state)]

    def newest(self) -> Any:
        """The most recently bound state whose app is still alive, or None."""
        for ref in reversed(self._refs):
            state = ref()
            if state is not None:
                return state
        return None

    def live(self) -> list:
        return [state for state in (ref() for ref in list(self._refs)) if state is not None]

    def __bool__(self) -> bool:
        return self.newest() is not None


bound = Registry()


def weak_endpoint_names(app: "Flask"):  # noqa: ANN201
    """A callable listing *app*'s endpoints that does not keep *app* alive (empty once it is gone)."""
    ref = weakref.ref(app)

    def endpoint_names() -> list[str]:
        app = ref()
        return list(app.view_functions) if app is not None else []

    return endpoint_names


def close_when_collected(app: "Flask", recorder: "Recorder", store: "Store") -> weakref.finalize:
    """Arrange for *recorder* and *store* to be closed when *app* is garbage-collected."""
    finalizer = weakref.finalize(app, _collected, recorder, store)
    # At interpreter exit the recorder's own atexit flush runs; no thread may be started by then.
    finalizer.atexit = False
    return finalizer


def _collected(recorder: "Recorder", store: "Store") -> None:
    """The finalizer: must never raise, never block the thread the collector happens to run in."""
    try:
        if not recorder.started and store._engine is None:
            return  # never used: no thread, no connection, nothing to close
        from .state import close_parts

        threading.Thread(target=close_parts, args=(recorder, store, CLOSE_TIMEOUT), name="fmd-closer",
                         daemon=True).start()
    except Exception:  # e.g. no thread can start during interpreter shutdown: the atexit flush covers it
        log.warning("fmd: could not close the state of a collected app", exc_info=True)
