"""What every ``flask fmd`` command needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import current_app

if TYPE_CHECKING:
    from ..state import State


def bound_state() -> "State":
    """The fmd state of the app the command runs for, or a clear error (exit status 1).

    A disabled fmd (ENABLED false) has no database to work on: every command says so and fails, so a
    script never mistakes "nothing done" for success.
    """
    state = current_app.extensions.get("fmd")
    if state is None:
        raise click.ClickException("fmd is not bound to this app (call fmd.bind(app))")
    if not state.enabled:
        raise click.ClickException(f"fmd is disabled for this app (ENABLED is false, from "
                                   f"{state.settings.sources['ENABLED']}); it has no database to work on")
    if state.unavailable:
        raise click.ClickException(state.unavailable)
    return state
