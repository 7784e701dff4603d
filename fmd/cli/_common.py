"""What every ``flask fmd`` command needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
from flask import current_app

if TYPE_CHECKING:
    from ..state import State


def bound_state() -> "State":
    """The fmd state of the app the command runs for, or a clear error."""
    state = current_app.extensions.get("fmd")
    if state is None:
        raise click.ClickException("fmd is not bound to this app (call fmd.bind(app))")
    return state
