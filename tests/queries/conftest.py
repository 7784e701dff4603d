"""A fresh fmd store (schema at head) on each of the three databases, for query tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from fmd.store.engine import Store


@pytest.fixture
def store(db_url: str, prefix: str) -> Iterator[Store]:
    s = Store(db_url, prefix)
    s.ensure_schema()
    yield s
    s.dispose()
