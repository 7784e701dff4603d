"""Monitoring level per endpoint: an in-memory table the request path reads without locks.

The table is filled from the app's URL map at bind (every endpoint at MONITOR_LEVEL), replaced by the
levels stored in the database at the writer's first sync, and refreshed whenever another process or host
changed a level (see fmd.store.levels). Endpoints added after bind are picked up on first request.
"""

from __future__ import annotations

#: Never recorded and never listed: static files (the app's and every blueprint's).
EXCLUDED = -1


def is_static(endpoint: str) -> bool:
    return endpoint == "static" or endpoint.endswith(".static")


class Levels:
    def __init__(self, default: int) -> None:
        self.default = default
        #: endpoint name -> level; read on every request, replaced wholesale (never mutated in place
        #: by the writer), so readers need no lock.
        self.table: dict[str, int] = {}
        #: time.time() of the first load from the database; records made before it are re-checked.
        self.synced_at: float | None = None

    def level_of(self, endpoint: str) -> int:
        """The level of *endpoint*, registering it at the default level when first seen."""
        level = self.table.get(endpoint)
        if level is None:
            level = EXCLUDED if is_static(endpoint) else self.default
            self.table[endpoint] = level
        return level

    def seed(self, endpoints: list[str]) -> None:
        for name in endpoints:
            self.level_of(name)

    def replace(self, stored: dict[str, int]) -> None:
        """Adopt the levels stored in the database, keeping locally seen endpoints not stored yet."""
        table = dict(self.table)
        table.update({name: level for name, level in stored.items() if not is_static(name)})
        self.table = table
