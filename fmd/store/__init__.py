"""fmd's database: tables, engine, schema migrations, writes and rollups. No Flask here."""

from .engine import Store

__all__ = ["Store"]
