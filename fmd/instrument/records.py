"""What request threads hand to the writer besides timings: the level-2 attachments of a record.

A record is the tuple ``(endpoint, duration_s, started_epoch_s, status, group_by, ip)``; one that carries an
outlier or exceptions has a seventh item, a tuple of the objects below. A record whose status is EVENT is not
a request: it carries exceptions passed to ``fmd.capture()`` outside a request (no request row, no rollups).
These objects hold raw values; the writer thread redacts, caps and serialises them (fmd.instrument.prepare).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The status of a record that is not a request (see the module docstring).
EVENT = -1


@dataclass
class OutlierSeen:
    """A level-2 request that was an outlier: what the watchdog saw while it ran, and the request's values."""

    average: float  #: the endpoint's mean duration (s) it was judged against
    environ: dict  #: the WSGI environ's text values (headers, URL parts, server variables)
    form: list | None = None  #: [(key, value)] when the request had a form body
    json: Any = None  #: the parsed JSON body, when it had one
    stack: list | None = None  #: frames outermost first (fmd.instrument.tracebacks.stack_of); None: not taken
    stack_at: float | None = None  #: seconds into the request when the stack was taken
    cpu: list | None = None  #: percent per core
    memory: dict | None = None  #: {"rss", "system_percent", "system_available"}


@dataclass
class ExceptionSeen:
    """One occurrence of an exception (unhandled in a monitored request, or passed to fmd.capture)."""

    type: str  #: qualified type name
    message: str
    fingerprint: str
    location: str  #: "file:function" of the raising application frame
    when: float  #: epoch seconds
    traceback: dict | None = None  #: the full traceback, at most once a minute per group and process


@dataclass
class ProfileSeen:
    """A level-3 request's samples (fmd.instrument.profiler.Samples, or None when none were taken)."""

    samples: Any
    view: Any  #: the endpoint's view function: the root of the request's tree
