"""``flask fmd ...``: fmd's command group, added to the host app's CLI at bind.

Each area keeps its commands in its own module of this package; they are registered here.
"""

from __future__ import annotations

import click

from .db import db_group, stats


@click.group("fmd", help="fmd: the monitoring dashboard's database and data.")
def fmd_group() -> None:
    pass


fmd_group.add_command(db_group)
fmd_group.add_command(stats)
from .demo import seed_demo; fmd_group.add_command(seed_demo)  # noqa: E402, E702
from .users import create_user; fmd_group.add_command(create_user)  # noqa: E402, E702
from .data import purge; fmd_group.add_command(purge)  # noqa: E402, E702
from .data import merge; fmd_group.add_command(merge)  # noqa: E402, E702
from .data import prune; fmd_group.add_command(prune)  # noqa: E402, E702

# Commands of later areas register themselves here, e.g.:
#   from .demo import seed_demo;  fmd_group.add_command(seed_demo)
