"""Known request data written through fmd's real writer functions (raw rows and rollups stay consistent).

Imported by query and dashboard tests; pytest does not collect it. A record is
``(endpoint, duration_s, started: datetime (naive UTC) | epoch seconds, status)``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Iterable, Sequence

from fmd.store import writes
from fmd.store.engine import Store


def epoch(moment: datetime | float) -> float:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=timezone.utc).timestamp()
    return float(moment)


def record(store: Store, records: Iterable[Sequence], version: str = "1.0", group_by: str = "",
           ip: str = "127.0.0.1", endpoints: Iterable[str] = ()) -> dict[str, int]:
    """Write *records* as one batch (creating their endpoints and *endpoints*); returns name -> id."""
    rows = [(name, float(duration), epoch(started), int(status), group_by, ip)
            for name, duration, started, status in records]
    last_seen: dict[str, float] = defaultdict(float)
    for name, _, started, *_ in rows:
        last_seen[name] = max(last_seen[name], started)
    names = sorted({r[0] for r in rows} | set(endpoints))
    with store.write() as conn:
        ids = writes.ensure_endpoints(conn, store.tables, names, {})
        if rows:
            writes.write_batch(conn, store.tables, writes.new_batch_id(), version, rows, ids, dict(last_seen))
    return ids
