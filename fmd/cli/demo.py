"""``flask fmd seed-demo``: fill an empty fmd database with realistic synthetic traffic."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ._common import bound_state


@click.command("seed-demo", help="Fill an empty fmd database with synthetic requests (raw rows and rollups).")
@click.option("--requests", "requests", type=click.IntRange(1, 100_000_000), default=100_000, show_default=True,
              help="How many requests to generate.")
@click.option("--days", type=click.FloatRange(0.01, 3650), default=30, show_default=True,
              help="Spread them over this many days up to now.")
@click.option("--seed", type=int, default=None, help="Random seed, for the same traffic every time.")
@click.option("--force", is_flag=True, help="Add the traffic even when requests are already recorded.")
@with_appcontext
def seed_demo(requests: int, days: float, seed: int | None, force: bool) -> None:
    from ..store.seed import DatabaseNotEmpty, seed_demo as seed_store

    state = bound_state()
    with click.progressbar(length=requests, label="Seeding demo traffic", show_pos=True) as bar:
        try:
            result = seed_store(state.store, requests, days, seed=seed, force=force, level_of=state.levels.table,
                                progress=bar.update)
        except DatabaseNotEmpty as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Seeded {result.requests:,} requests on {result.endpoints} endpoints from "
               f"{result.first:%Y-%m-%d %H:%M} to {result.last:%Y-%m-%d %H:%M} UTC in {result.seconds:.1f} s.")
