"""Custom graphs tests: graphs added before bind wait in a process-wide list; each test starts without any."""

from __future__ import annotations

import gc
from typing import Iterator

import pytest

from fmd.graphs import registry


@pytest.fixture(autouse=True)
def _no_pending_graphs() -> Iterator[None]:
    gc.collect()  # earlier tests' apps: add_graph after bind goes to the newest app still alive
    registry._pending.clear()
    registry._adopter = None
    yield
    registry._pending.clear()
    registry._adopter = None
