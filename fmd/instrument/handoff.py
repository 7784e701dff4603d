"""The hand-off from request threads to the writer thread: a bounded queue with exact counts.

Contract:

- ``put(record)`` never blocks on I/O and never raises for a full queue: when the records waiting in memory
  (queued plus the batches the writer holds for a retry) reach ``capacity``, the new record is refused and
  counted in ``dropped``. Records already queued keep their place, so a retried batch keeps its id and its
  records (see fmd.store.writes: a batch id makes a retry after a lost commit harmless).
- Every count changes under one lock, where the thing it counts happens. So at any moment
  ``submitted == dropped + queued + held + released`` holds exactly, with no reasoning about races. The lock is
  held for a few attribute updates (about 0.1 µs uncontended); the writer pops a batch under it in one
  C-level loop, so a request thread waits at most that long.
- ``touch(endpoint, when)`` notes the last request time of an endpoint that records nothing else (level 0).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..native import native_lock


class Handoff:
    """Bounded queue of records plus last-request times, shared by request threads and one writer."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.reset()

    def reset(self) -> None:
        """Fresh state: at creation and in a forked child (the parent's lock may be held by a lost thread)."""
        self._lock = native_lock()  # never held across a yield: safe for greenlets and OS threads alike
        self._items: deque = deque()
        self._touched: dict[str, float] = {}
        #: Records offered by request threads (accepted or not).
        self.submitted = 0
        #: Records refused because the queue was full.
        self.dropped = 0
        #: Records the writer has taken and not yet released (written or given up).
        self.held = 0
        self._room = self.capacity  # capacity - held: what the queue may hold now

    # --------------------------------------------------------------------------- request threads

    def put(self, record: tuple) -> None:
        with self._lock:
            self.submitted += 1
            if len(self._items) < self._room:
                self._items.append(record)
            else:
                self.dropped += 1

    def touch(self, endpoint: Any, when: float) -> None:
        with self._lock:
            if when > self._touched.get(endpoint, 0.0):
                self._touched[endpoint] = when

    # --------------------------------------------------------------------------- writer thread

    def take(self, most: int) -> tuple[list, dict]:
        """Up to *most* records, oldest first, plus the pending last-request times; they count as held."""
        with self._lock:
            n = min(most, len(self._items))
            pop = self._items.popleft
            records = [pop() for _ in range(n)]
            touched, self._touched = self._touched, {}
            self.held += n
            self._room = self.capacity - self.held
        return records, touched

    def release(self, n: int) -> None:
        """*n* held records are done with (written, or given up as unstorable)."""
        with self._lock:
            self.held -= n
            self._room = self.capacity - self.held

    # --------------------------------------------------------------------------- anyone

    def counts(self) -> tuple[int, int, int, int]:
        """(submitted, dropped, queued, held), read together."""
        with self._lock:
            return self.submitted, self.dropped, len(self._items), self.held

    def __len__(self) -> int:
        return len(self._items)

    @property
    def has_touches(self) -> bool:
        return bool(self._touched)
