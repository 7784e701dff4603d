"""Keep the host's own Alembic (Flask-Migrate or plain) away from fmd's tables in a shared database.

With fmd's DATABASE equal to the host's, the host's ``flask db migrate`` reflected fmd's tables, found them in
no model of its own and wrote ``op.drop_table('fmd_...')`` for each (issue 7). Autogenerate asks an
``include_object`` filter about every table, column, index and constraint it sees; these filters answer
False for fmd's tables (those of one TABLE_PREFIX, and fmd's ``<prefix>alembic_version``) and their parts.

- Flask-Migrate: nothing to do. ``protect_from_host_migrate`` (called by ``fmd.bind``) adds the filter to
  ``app.extensions["migrate"].configure_args``, chained with any filter the host set.
- Plain Alembic: one argument in the host's ``env.py``:
  ``context.configure(..., include_object=exclude_fmd_tables)`` (the default prefix ``fmd_``), or
  ``include_object=excluding_fmd_tables("mon_", include_object=your_filter)``.

This module needs neither an app nor a request; SQLAlchemy is imported when a filter is first asked.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from flask import Flask

#: The signature Alembic calls: (object, name, type_, reflected, compare_to) -> include it?
IncludeObject = Callable[[Any, "str | None", str, bool, Any], bool]


class _ExcludeFmd:
    """An ``include_object`` that hides one prefix's fmd tables, then asks the host's own filter (if any)."""

    def __init__(self, prefix: str, host: IncludeObject | None) -> None:
        self.prefix = prefix
        self.host = host
        self._names: frozenset[str] | None = None

    def names(self) -> frozenset[str]:
        """fmd's table names for this prefix, case-folded (MySQL may report them in lower case)."""
        if self._names is None:
            from .models import tables_for

            tables = tables_for(self.prefix)
            self._names = frozenset(n.lower() for n in [*tables.metadata.tables, tables.version_table])
        return self._names

    def __call__(self, obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        if table is not None and table.lower() in self.names():  # a table of fmd's, or a part of one
            return False
        return True if self.host is None else bool(self.host(obj, name, type_, reflected, compare_to))


def excluding_fmd_tables(prefix: str = "fmd_", include_object: IncludeObject | None = None) -> IncludeObject:
    """An Alembic ``include_object`` that hides fmd's tables of *prefix*; other objects go to *include_object*."""
    return _ExcludeFmd(prefix, include_object)


#: The filter for fmd's default TABLE_PREFIX, ready for a plain Alembic ``env.py``.
exclude_fmd_tables: IncludeObject = excluding_fmd_tables()


def protect(migrate_config: Any, prefix: str) -> bool:
    """Add the filter to a Flask-Migrate config's ``configure_args`` (once per prefix); True when added now."""
    args = migrate_config.configure_args
    current = args.get("include_object")
    seen = current
    while isinstance(seen, _ExcludeFmd):  # already there (maybe chained after another fmd's prefix)
        if seen.prefix == prefix:
            return False
        seen = seen.host
    args["include_object"] = _ExcludeFmd(prefix, current)
    return True


def protect_from_host_migrate(app: "Flask", prefix: str) -> None:
    """Make the host's Flask-Migrate (``flask db migrate``) never see fmd's tables, whenever it is set up.

    Flask-Migrate may be initialised before or after ``fmd.bind``. Before: the filter is added now. After:
    every ``flask db`` command runs in an app context, so the filter is added when one is pushed; the first
    request ends the watch (the app is set up by then), so requests pay nothing. Blinker holds the receivers
    weakly and ``_watching`` holds them for as long as the app lives; they never refer to the app, so apps
    that come and go are neither kept alive nor leave receivers behind.
    """
    from flask.signals import appcontext_pushed, request_started

    migrate = app.extensions.get("migrate")
    if migrate is not None:
        protect(migrate, prefix)

    def on_app_context(sender: "Flask", **_: Any) -> None:
        migrate = sender.extensions.get("migrate")
        if migrate is not None:
            protect(migrate, prefix)  # again after a second Migrate.init_app, which builds a new config

    def on_first_request(sender: "Flask", **_: Any) -> None:
        on_app_context(sender)
        appcontext_pushed.disconnect(on_app_context, sender)
        request_started.disconnect(on_first_request, sender)
        _watching.pop(sender, None)

    _watching[app] = (on_app_context, on_first_request)
    appcontext_pushed.connect(on_app_context, app)
    request_started.connect(on_first_request, app)


#: app -> its receivers, alive exactly as long as the app.
_watching: "weakref.WeakKeyDictionary[Flask, tuple]" = weakref.WeakKeyDictionary()
