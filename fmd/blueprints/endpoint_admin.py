"""Purge and merge an endpoint's recorded data from the dashboard: admins only, behind a confirmation step.

Each action is a GET form that says what will happen (the confirmation step) and a POST that does it. The
POST needs an admin, the CSRF token (CSRFProtect checks every POST) and the form's ``confirm=yes`` (the
"I understand" box): a stray or replayed request without it changes nothing. The work itself is
``fmd.store.purge`` (one transaction each, retried on deadlock); afterwards the browser is sent to the
endpoint's page (the merge target's, after a merge) where a message says how many rows changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping

from flask import Blueprint, Response, abort, flash, redirect, request, url_for

from ..queries import overview as queries
from ..queries._range import utcnow
from ..store.purge import LifecycleError, merge_endpoints, purge_endpoint
from ._access import admin_required, get_state
from ._htmx import is_htmx, page_or_fragment
from ._params import parse_date

bp = Blueprint("endpoint_admin", __name__)


def _endpoint(endpoint_id: int) -> tuple[dict, list[dict]]:
    """The endpoint (404 if unknown) and every stored endpoint (the merge targets)."""
    state = get_state()
    with state.store.read() as conn:
        everyone = queries.endpoints(conn, state.store.tables)
    endpoint = next((e for e in everyone if e["id"] == endpoint_id), None)
    if endpoint is None:
        abort(404, f"There is no endpoint with id {endpoint_id}: it was never recorded, or it was merged into "
                   "another endpoint.")
    return endpoint, everyone


def _counts(endpoint_id: int) -> dict:
    """Requests recorded today, in 7 days and in all, from the rollups (what the overview shows)."""
    state = get_state()
    with state.store.read() as conn:
        rows = queries.overview_rows(conn, state.store.tables, utcnow(), state.settings.timezone, "", [endpoint_id])
    return rows[0] if rows else {}


def _confirmed(form: Mapping[str, str], what: str) -> None:
    if form.get("confirm") != "yes":
        abort(400, f"Tick “I understand” to confirm the {what}: nothing was changed.")


def _done(target: str) -> Response:
    """Send the browser to *target* (htmx follows HX-Redirect; a plain form post gets a 303)."""
    if is_htmx():
        resp = Response(status=204)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target, 303)


@bp.get("/endpoint/<int:endpoint_id>/purge")
@admin_required
def purge_form(endpoint_id: int) -> Response:
    """The purge confirmation: what will be deleted, an optional cut-off date, the "I understand" box."""
    endpoint, _ = _endpoint(endpoint_id)
    return page_or_fragment("fmd/endpoint_admin.html", "fmd/partials/_endpoint_purge.html", endpoint=endpoint,
                            counts=_counts(endpoint_id), action="purge", today=utcnow().date())


@bp.post("/endpoint/<int:endpoint_id>/purge")
@admin_required
def purge(endpoint_id: int) -> Response:
    """Delete the endpoint's recorded data (all, or before the UTC date ``before``); the endpoint stays."""
    endpoint, _ = _endpoint(endpoint_id)
    raw = (request.form.get("before") or "").strip()
    before = datetime.combine(parse_date(raw, "before"), datetime.min.time()) if raw else None
    _confirmed(request.form, "purge")
    try:
        outcome = purge_endpoint(get_state().store, endpoint_id, before)
    except LifecycleError as exc:  # removed by a concurrent merge since the check above
        abort(404, f"{exc}.")
    what = f"recorded before {before:%Y-%m-%d} (UTC)" if before else "recorded so far"
    flash(f"Purged the data of “{endpoint['name']}” {what}: {outcome.total:,} rows deleted.")
    return _done(url_for("endpoint.index", endpoint_id=endpoint_id))


@bp.get("/endpoint/<int:endpoint_id>/merge")
@admin_required
def merge_form(endpoint_id: int) -> Response:
    """The merge confirmation: choose the endpoint that receives this one's data, tick "I understand"."""
    endpoint, everyone = _endpoint(endpoint_id)
    targets = sorted((e for e in everyone if e["id"] != endpoint_id), key=lambda e: e["name"])
    return page_or_fragment("fmd/endpoint_admin.html", "fmd/partials/_endpoint_merge.html", endpoint=endpoint,
                            counts=_counts(endpoint_id), targets=targets, action="merge")


def _target_id(form: Mapping[str, str]) -> int:
    raw = (form.get("target") or "").strip()
    if not raw:
        abort(400, "target is missing: choose the endpoint that receives the data.")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        abort(400, f"target must be an endpoint id (a whole number), not {raw[:40]!r}.")
    return int(raw)


@bp.post("/endpoint/<int:endpoint_id>/merge")
@admin_required
def merge(endpoint_id: int) -> Response:
    """Move every recorded row of this endpoint into ``target`` (rollups added up) and remove this endpoint."""
    endpoint, everyone = _endpoint(endpoint_id)
    target_id = _target_id(request.form)
    if target_id == endpoint_id:
        abort(400, f"An endpoint cannot be merged into itself: choose another target than “{endpoint['name']}”.")
    target = next((e for e in everyone if e["id"] == target_id), None)
    if target is None:
        abort(400, f"There is no endpoint with id {target_id} to merge into: choose one from the list.")
    _confirmed(request.form, "merge")
    try:
        outcome = merge_endpoints(get_state().store, endpoint_id, target_id)
    except LifecycleError as exc:  # one of them was removed by a concurrent merge
        abort(400, f"{exc}.")
    flash(f"Merged “{endpoint['name']}” into “{target['name']}”: {outcome.total:,} rows moved; "
          f"“{endpoint['name']}” is gone (it comes back if its route is requested again).")
    return _done(url_for("endpoint.index", endpoint_id=target_id))
