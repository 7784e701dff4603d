"""``flask fmd ...``: fmd's command group, added to the host app's CLI at bind.

Each area keeps its commands in its own module of this package (importing nothing heavy at module level:
the group is built at every bind); they are registered here.
"""

from __future__ import annotations

import click

from .data import merge, prune, purge
from .db import db_group, stats
from .demo import seed_demo
from .report import report
from .users import create_user


@click.group("fmd", help="fmd: the monitoring dashboard's database and data.")
def fmd_group() -> None:
    pass


for command in (db_group, stats, seed_demo, create_user, purge, merge, prune, report):
    fmd_group.add_command(command)
