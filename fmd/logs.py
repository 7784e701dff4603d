"""ENABLE_LOGGING: fmd's INFO lines, and somewhere for them to go when the host configured no logging.

Without any handler, Python falls back to ``logging.lastResort``, which prints WARNING and above only: the
INFO lines the host asked for would vanish. So, when neither the ``fmd`` logger nor any of its ancestors has
a handler, fmd attaches one to stderr. It is attached once per process (a second bound app finds it), and it
stays silent once the root logger has handlers of its own (a host that calls ``logging.basicConfig`` after
binding): the record then reaches the host's handlers by propagation, and printing it here too would show
every line twice.
"""

from __future__ import annotations

import logging

#: The format of fmd's own stderr handler: when, how bad, which part of fmd, what.
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class FallbackHandler(logging.StreamHandler):
    """stderr, for as long as the host's logging has no handler of its own to receive fmd's records."""

    def emit(self, record: logging.LogRecord) -> None:
        logger = logging.getLogger("fmd")
        if logger.propagate and logging.getLogger().handlers:
            return  # the host configured logging after binding: its handlers print this record
        super().emit(record)


def enable_logging() -> None:
    """Log fmd's activity at INFO level; attach a stderr handler when nothing would print it."""
    logger = logging.getLogger("fmd")
    logger.setLevel(logging.INFO)
    if logger.hasHandlers():  # the host's (root or "fmd") handlers, or ours from an earlier bind
        return
    handler = FallbackHandler()  # stderr
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    logger.addHandler(handler)
