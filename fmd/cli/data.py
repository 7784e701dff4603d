"""``flask fmd purge``, ``flask fmd merge`` and ``flask fmd prune``: the life cycle of recorded data."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import with_appcontext

from ._common import bound_state as _state

#: Accepted --before values, read as UTC.
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]


def _endpoint(conn, t, name: str) -> dict:  # noqa: ANN001
    from ..store.purge import LifecycleError, find_endpoint

    try:
        return find_endpoint(conn, t, name)
    except LifecycleError as exc:
        raise click.ClickException(str(exc)) from None


def _report(outcome) -> None:  # noqa: ANN001
    for table, rows in sorted(outcome.rows.items()):
        if rows:
            click.echo(f"  {table:<32} {rows:>12,}")


@click.command("purge", help="Delete the recorded data of ENDPOINT (a name or an id): raw requests, rollups, "
                             "outliers and profiles. The endpoint and its monitoring level stay.")
@click.argument("endpoint")
@click.option("--before", type=click.DateTime(DATE_FORMATS), default=None,
              help="Only data before this UTC date or time (hourly and daily rollups: the hours and days that "
                   "end by then).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge(endpoint: str, before: datetime | None, yes: bool) -> None:
    from ..store.purge import LifecycleError, purge_endpoint

    state = _state()
    with state.store.read() as conn:
        row = _endpoint(conn, state.store.tables, endpoint)
    what = f"before {before:%Y-%m-%d %H:%M:%S} UTC" if before else "all of it"
    if not yes:
        click.confirm(f"Delete the recorded data of endpoint {row['name']!r} (id {row['id']}), {what}?", abort=True)
    try:
        outcome = purge_endpoint(state.store, row["id"], before)
    except LifecycleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Purged endpoint {row['name']!r} ({what}): {outcome.total:,} rows deleted")
    _report(outcome)


@click.command("merge", help="Merge the data of endpoint SOURCE into TARGET (names or ids), e.g. after a route "
                             "was renamed; SOURCE is removed.")
@click.argument("source")
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def merge(source: str, target: str, yes: bool) -> None:
    from ..store.purge import LifecycleError, merge_endpoints

    state = _state()
    t = state.store.tables
    with state.store.read() as conn:
        src, dst = _endpoint(conn, t, source), _endpoint(conn, t, target)
    if src["id"] == dst["id"]:
        raise click.ClickException(f"cannot merge endpoint {src['name']!r} into itself; choose a different target")
    if not yes:
        click.confirm(f"Merge every recorded row of {src['name']!r} into {dst['name']!r} and remove "
                      f"{src['name']!r}?", abort=True)
    try:
        outcome = merge_endpoints(state.store, src["id"], dst["id"])
    except LifecycleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Merged {src['name']!r} into {dst['name']!r}: {outcome.total:,} rows moved")
    _report(outcome)


@click.command("prune", help="Delete data older than the [retention] options allow, now (the scheduled job "
                             "does the same once per PRUNE_INTERVAL_HOURS).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@with_appcontext
def prune(dry_run: bool) -> None:
    from ..store.retention import KINDS, Retention, count_prunable, prune as run_prune

    state = _state()
    retention = Retention.from_settings(state.settings)
    with state.store.read() as conn:
        counts = count_prunable(conn, state.store.tables, retention)
    total = sum(counts.values())
    label = {"requests": "raw requests", "outliers": "outliers", "profiles": "profile lines",
             "hourly": "hourly histogram rows"}
    if dry_run or total == 0:
        click.echo("Would delete:" if dry_run else "Nothing to prune.")
        if dry_run:
            for kind in KINDS:
                click.echo(f"  {label[kind]:<24} {counts[kind]:>12,}")
        return
    with click.progressbar(length=total, label="Pruning", show_pos=True) as bar:
        done = run_prune(state.store, retention, progress=lambda _kind, rows: bar.update(rows))
    click.echo("Deleted:")
    for kind in KINDS:
        click.echo(f"  {label[kind]:<24} {done[kind]:>12,}")
