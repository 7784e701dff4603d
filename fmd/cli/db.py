"""``flask fmd db upgrade``, ``flask fmd db current`` and ``flask fmd stats``."""

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
    from ..store.schema import HEAD, SchemaError, ensure_at_head

    state = _state()
    try:
        before = ensure_at_head(state.store.engine, state.store.prefix)
    except SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    done = "already at head" if before == HEAD else f"upgraded from {before or 'empty'}"
    click.echo(f"fmd schema ({state.store.prefix}*): revision {HEAD} ({done})")


@db_group.command("current", help="Show the revision of fmd's tables and whether it is the newest.")
@with_appcontext
def db_current() -> None:
    from ..store.schema import HEAD, current_revision

    state = _state()
    with state.store.engine.connect() as conn:
        revision = current_revision(conn, state.store.prefix)
    if revision == HEAD:
        click.echo(f"fmd schema ({state.store.prefix}*): revision {HEAD} (head)")
    else:
        click.echo(f"fmd schema ({state.store.prefix}*): revision {revision or 'none'}, head is {HEAD}: "
                   "run `flask fmd db upgrade`")


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
