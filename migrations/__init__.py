"""fmd's Alembic environment and revisions (installed as the package ``fmd.migrations``)."""
