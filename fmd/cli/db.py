"""``flask fmd db upgrade`` and ``flask fmd stats``."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from ._common import bound_state as _state


@click.group("db", help="fmd's own tables (never the host's).")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Create or upgrade fmd's tables to the current schema.")
@with_appcontext
def db_upgrade() -> None:
    from ..store.schema import HEAD, current_revision, ensure_at_head

    state = _state()
    with state.store.engine.connect() as conn:
        before = current_revision(conn, state.store.prefix)
    ensure_at_head(state.store.engine, state.store.prefix)
    click.echo(f"fmd schema ({state.store.prefix}*): {before or 'empty'} -> {HEAD}")


@click.command("stats", help="Rows per fmd table and this process's recording health.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def stats(as_json: bool) -> None:
    from sqlalchemy import func, select

    state = _state()
    t = state.store.tables
    with state.store.read() as conn:
        counts = {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                  for name, table in t.metadata.tables.items()}
        processes = [dict(r._mapping) for r in conn.execute(select(t.process).order_by(t.process.c.last_seen.desc()))]
    health = state.stats()
    if as_json:
        click.echo(json.dumps({"tables": counts, "health": health, "processes": processes}, default=str))
        return
    click.echo("Rows per table:")
    for name, n in counts.items():
        click.echo(f"  {name:<32} {n:>12,}")
    click.echo("This process:")
    for key, value in health.items():
        click.echo(f"  {key:<16} {value}")
    if processes:
        click.echo("Processes reporting into this database:")
        for p in processes:
            click.echo(f"  {p['id']:<40} last seen {p['last_seen']:%Y-%m-%d %H:%M:%S} UTC  written "
                       f"{p['rows_written']:,}  dropped {p['dropped']:,}  failed writes {p['failed_writes']:,}")
