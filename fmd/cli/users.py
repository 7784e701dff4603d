"""``flask fmd create-user NAME [--admin] [--password PW]``: add a dashboard user from the shell."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ._common import bound_state


@click.command("create-user", help="Add a dashboard user (a viewer, or an admin with --admin).")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Make the user an admin (changes settings, levels and users).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given).")
@with_appcontext
def create_user(name: str, admin: bool, password: str) -> None:
    from ..auth.users import UserError, create_user as create

    state = bound_state()
    try:
        create(state.store, name, password, is_admin=admin)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added {name} as {'an admin' if admin else 'a viewer'}.")
