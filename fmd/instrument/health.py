"""This process's recording health, as one row per process in ``<prefix>process`` and in ``fmd.stats()``.

A process is a host, a pid and the time the process (not an app) started, so a test run that binds
hundreds of apps in one process still shows one process. When several apps of one process record into the
same database and prefix, their figures are summed into that process's row.

Every submitted record is accounted for:
``submitted = rows_written + unrouted + skipped + rejected + events + dropped + queue_length``, where ``unrouted`` are
requests that matched no route (counted per status code, no raw row), ``skipped`` were made at level 0 before
this process learnt the stored levels, ``rejected`` were refused by the database for their data and ``dropped``
were refused by a full queue. Level-0 requests are not submitted at all (only their endpoint's last-request
time is kept). ``events`` are fmd.capture() calls made outside a request (exceptions, no request row).
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .recorder import Recorder

_identity: tuple[int, str, float] | None = None

#: The figures summed over the recorders of a process (stats() keys).
SUMMED = ("submitted", "rows_written", "unrouted", "skipped", "rejected", "events", "dropped", "queue_length",
          "failed_writes", "internal_errors")


def process_identity() -> tuple[str, float]:
    """(id, start epoch) of this process; a forked child gets its own."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:
        started = time.time()
        _identity = (pid, f"{socket.gethostname()[:60]}:{pid}:{int(started)}", started)
    return _identity[1], _identity[2]


def process_row(recorders: Iterable["Recorder"], version: str) -> dict:
    """The health row of this process for the recorders writing into one database and prefix."""
    from datetime import datetime, timezone

    from ..store.writes import utcnow

    process_id, started = process_identity()
    row: dict = {key: 0 for key in SUMMED}
    cost = {"request_s": 0.0, "request_n": 0, "writer_s": 0.0, "writer_n": 0}
    last_error = None
    for recorder in recorders:
        stats = recorder.stats()
        for key in SUMMED:
            row[key] += stats[key]
        last_error = stats["last_error"] or last_error
        cost["request_s"] += recorder.request_cost_s
        cost["request_n"] += recorder.request_cost_n
        cost["writer_s"] += recorder.writer_cpu_s
        cost["writer_n"] += recorder.writer_records
    row.update({"id": process_id, "host": socket.gethostname()[:100], "pid": os.getpid(),
                "started_at": datetime.fromtimestamp(started, timezone.utc).replace(tzinfo=None),
                "last_seen": utcnow(), "last_error": last_error, "version": version,
                "request_cost_us": cost["request_s"] / cost["request_n"] * 1e6 if cost["request_n"] else None,
                "writer_cost_us": cost["writer_s"] / cost["writer_n"] * 1e6 if cost["writer_n"] else None})
    return row
