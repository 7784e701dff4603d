"""The Exceptions page: exception groups, newest first, filtered and paged in the URL; a group's traceback;
an admin's resolve, reopen and delete.

``/exceptions`` answers the whole page, or for htmx only the list (``partials/_exceptions_list.html``); its
arguments are the range (``start``/``end`` or ``days``), ``endpoint`` (an id; 0 = outside a request),
``version``, ``state`` (open, resolved, all; default open) and ``page``. A bad value is a 400 naming it.
``/exceptions/<id>`` is a group's traceback: the fragment that expands a row for htmx, a page otherwise.
Changes are POSTs (admin, CSRF): htmx gets the re-rendered row (nothing after a delete), a plain form a 303
back to the list it came from, whose arguments ride along as hidden fields. The endpoint page's Exceptions
tab (``endpoint_exceptions``) shows the same list through ``list_context``.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy import Connection

from ..charts.sparkline import sparkline_chart
from ..queries import exceptions as q
from ..queries._range import DatePeriod, utcnow
from ..store import exception_groups as store
from ..store.models import VERSION_LEN, Tables
from ._access import admin_required, get_state, is_admin, login_required
from ._htmx import is_htmx, page_or_fragment
from ._params import parse_period, period_args, rolling_choices

bp = Blueprint("exceptions", __name__)

#: What the page says about resolving (also shown on the endpoint tab).
RESOLVED_NOTE = ("A resolved group reopens when it occurs in a version it had not been seen in before it was "
                 "resolved.")
#: The list's htmx target on the Exceptions page.
LIST_ID = "fmd-exceptions"
_NUMBER = re.compile(r"[0-9]{1,10}")
#: Largest page number accepted (a bigger one is a typo, not a page).
MAX_PAGE = 100_000


def _number(args: Mapping[str, str], name: str, what: str) -> int | None:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not _NUMBER.fullmatch(raw) or int(raw) >= 2**31:
        abort(400, f"{name} must be {what}, not {raw[:40]!r}.")
    return int(raw)


def parse_filter(args: Mapping[str, str], endpoint_id: int | None = None) -> tuple[q.GroupFilter, int]:
    """The list's filter and page from query (or form) arguments; *endpoint_id* fixes the endpoint (the tab)."""
    if endpoint_id is None:
        endpoint_id = _number(args, "endpoint", "an endpoint id (0 for outside a request)")
    version = args.get("version") or None
    if version is not None and len(version) > VERSION_LEN:
        abort(400, f"version is {len(version)} characters long; versions have at most {VERSION_LEN}.")
    state = args.get("state") or "open"
    if state not in q.STATES:
        abort(400, f"state must be one of {', '.join(q.STATES)}, not {state[:40]!r}.")
    page = _number(args, "page", "a page number from 1")
    if page is not None and not 1 <= page <= MAX_PAGE:
        abort(400, f"page must be a page number from 1 to {MAX_PAGE}, not {page}.")
    return q.GroupFilter(endpoint_id, version, state), page or 1


def _list_args(period: DatePeriod, f: q.GroupFilter, page: int, on_tab: bool) -> dict[str, str]:
    """The URL arguments of a list state, defaults left out (the tab's endpoint is in its path)."""
    args = dict(period_args(period))
    if f.endpoint_id is not None and not on_tab:
        args["endpoint"] = str(f.endpoint_id)
    if f.version is not None:
        args["version"] = f.version
    if f.state != "open":
        args["state"] = f.state
    if page != 1:
        args["page"] = str(page)
    return args


def list_context(conn: Connection, t: Tables, period: DatePeriod, f: q.GroupFilter, page: int,
                 tab_endpoint: int | None = None) -> dict:
    """Everything ``_exceptions_table.html`` needs; *tab_endpoint*: the list is that endpoint's tab."""
    result = q.groups_page(conn, t, period.utc, f, page)
    return {**_links(period, f, page, tab_endpoint), "exc": result, "exc_choices": q.filter_choices(conn, t),
            "exc_specs": _specs(result.rows, period)}


def _links(period: DatePeriod, f: q.GroupFilter, page: int, tab_endpoint: int | None) -> dict:
    on_tab = tab_endpoint is not None
    args = _list_args(period, f, page, on_tab)
    base = url_for("endpoint.exceptions", endpoint_id=tab_endpoint) if on_tab else url_for("exceptions.index")

    def list_url(**changes: Any) -> str:
        return _with_query(base, _merge(args, changes))

    hidden = {**args, **({"from_endpoint": str(tab_endpoint)} if on_tab else {})}
    everywhere = (_with_query(url_for("exceptions.index"), {"endpoint": str(tab_endpoint), **period_args(period)})
                  if on_tab else None)
    return {"exc_base": base, "exc_all_url": everywhere, "exc_filter": f, "exc_page": page, "exc_url": list_url,
            "exc_hidden": hidden, "exc_on_tab": on_tab,
            "exc_target": "#fmd-tabs" if on_tab else f"#{LIST_ID}", "exc_list_id": LIST_ID,
            "exc_quick": [(label, list_url(start=None, end=None, days=None, page=None, last=token))
                          for label, token in rolling_choices()],
            "exc_can_edit": is_admin(), "exc_note": RESOLVED_NOTE, "exc_period": period,
            "exc_range_args": period_args(period)}


def _with_query(path: str, args: Mapping[str, str]) -> str:
    # Not url_for(..., **args): "endpoint" is a query argument here and url_for's own first parameter.
    return f"{path}?{urlencode(args)}" if args else path


def _merge(args: dict[str, str], changes: dict[str, Any]) -> dict[str, str]:
    """*args* with *changes* applied; a change to None removes the argument."""
    out = dict(args)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = str(value)
    return out


def _specs(rows: list[dict], period: DatePeriod) -> dict[int, dict]:
    days = q.range_days(period.utc)
    if not days:
        return {}
    return {row["id"]: sparkline_chart(row["days"], days[0], days[-1]) for row in rows}


def _period() -> DatePeriod:
    return parse_period(request.args, utcnow(), get_state().settings.timezone)


@bp.get("/exceptions")
@login_required
def index() -> Response:
    """The Exceptions page (the whole page, or only the list for htmx)."""
    period = _period()
    f, page = parse_filter(request.args)
    state = get_state()
    with state.store.read() as conn:
        ctx = list_context(conn, state.store.tables, period, f, page)
    return page_or_fragment("fmd/exceptions.html", "fmd/partials/_exceptions_list.html", **ctx)


def _group_or_404(conn: Connection, t: Tables, group_id: int) -> dict:
    group = q.group_by_id(conn, t, group_id)
    if group is None:
        abort(404, f"There is no exception group with id {group_id}: it was deleted, or never existed.")
    return group


@bp.get("/exceptions/<int:group_id>")
@login_required
def group(group_id: int) -> Response:
    """One group's stored traceback: the fragment that expands its row for htmx, a page otherwise."""
    state = get_state()
    with state.store.read() as conn:
        found = _group_or_404(conn, state.store.tables, group_id)
    return page_or_fragment("fmd/exceptions.html", "fmd/partials/_exceptions_traceback.html", group=found,
                            exc_can_edit=is_admin(), exc_note=RESOLVED_NOTE, exc_hidden={"back": "group"})


@bp.get("/exceptions/<int:group_id>/delete")
@admin_required
def confirm_delete(group_id: int) -> Response:
    """The confirmation step of a delete without JavaScript (htmx asks with hx-confirm and posts at once)."""
    state = get_state()
    with state.store.read() as conn:
        found = _group_or_404(conn, state.store.tables, group_id)
    hidden = {k: v for k, v in request.args.items() if k in _KEPT}
    return make_response(render_template("fmd/exceptions.html", confirm=found, exc_hidden=hidden))


#: Form fields that say where a plain form post returns to.
_KEPT = ("start", "end", "endpoint", "version", "state", "page", "from_endpoint", "back")


def _change(group_id: int, action: Callable[[Connection, Tables, int], bool]) -> Response:
    """Run *action* on the group in a write transaction; answer htmx with the row, a plain post with a 303."""
    state = get_state()
    with state.store.write() as conn:
        if not action(conn, state.store.tables, group_id):
            abort(404, f"There is no exception group with id {group_id}: it was deleted, or never existed.")
    form = request.form
    tab = _number(form, "from_endpoint", "an endpoint id")
    if not is_htmx():
        return redirect(_back(form, group_id, tab, action is store.delete), 303)
    if action is store.delete:
        resp = make_response("")  # htmx swaps the row out
    else:
        resp = make_response(_row(group_id, form, tab))
    resp.vary.add("HX-Request")
    return resp


def _back(form: Mapping[str, str], group_id: int, tab: int | None, deleted: bool) -> str:
    if form.get("back") == "group" and not deleted:
        return url_for(".group", group_id=group_id)
    args = {k: form[k] for k in ("start", "end", "endpoint", "version", "state", "page") if form.get(k)}
    if args.get("page") == "1":
        del args["page"]
    if tab is not None:
        args.pop("endpoint", None)
        return _with_query(url_for("endpoint.exceptions", endpoint_id=tab), args)
    return _with_query(url_for(".index"), args)


def _row(group_id: int, form: Mapping[str, str], tab: int | None) -> str:
    """The re-rendered row of one group, in the list state its form came from."""
    state = get_state()
    period = parse_period(form, utcnow(), state.settings.timezone)
    f, page = parse_filter(form, tab)
    with state.store.read() as conn:
        rows = q.group_rows(conn, state.store.tables, period.utc, f, [group_id])
    ctx = {**_links(period, f, page, tab), "exc_specs": _specs(rows, period)}
    return render_template("fmd/partials/_exceptions_row.html", grp=rows[0], **ctx) if rows else ""


@bp.post("/exceptions/<int:group_id>/resolve")
@admin_required
def resolve(group_id: int) -> Response:
    """Mark a group resolved (remembering the versions it was seen in)."""
    return _change(group_id, store.resolve)


@bp.post("/exceptions/<int:group_id>/reopen")
@admin_required
def reopen(group_id: int) -> Response:
    """Mark a resolved group open again."""
    return _change(group_id, store.reopen)


@bp.post("/exceptions/<int:group_id>/delete")
@admin_required
def delete(group_id: int) -> Response:
    """Delete a group and its daily counts; needs ``confirm=yes``."""
    if request.form.get("confirm") != "yes":
        abort(400, "Confirm the delete (confirm=yes): nothing was deleted.")
    return _change(group_id, store.delete)
