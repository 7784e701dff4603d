"""Alembic environment for fmd's own tables.

fmd runs this itself (``fmd.store.schema``), handing over a connection and the TABLE_PREFIX in
``config.attributes``. It keeps its own version table, ``<prefix>alembic_version``, and ``include_object``
limits autogenerate to fmd's tables, so a host running Alembic on the same database is never touched.
"""

from alembic import context
from sqlalchemy import create_engine

from fmd.store.models import tables_for
from fmd.store.schema import include_only

config = context.config
prefix = config.attributes.get("table_prefix") or config.get_main_option("table_prefix") or "fmd_"
config.attributes["table_prefix"] = prefix  # the revision scripts read it from here
tables = tables_for(prefix)


def run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=tables.metadata,
        include_object=include_only(tables.metadata),
        version_table=tables.version_table,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # plain `alembic -x ...` use with sqlalchemy.url in the config: fmd itself always hands a connection
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        run(conn)
        conn.commit()
