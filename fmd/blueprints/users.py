"""The Users page (admins): add and remove users, change roles and passwords, through HTMX forms.

Every form is a real ``<form method=post>`` that also works without JavaScript (the response is then a
redirect back to the page, or the page with the error); with htmx the users section is swapped in place.
A refused change answers 400 with its reason; the last admin can be neither removed nor demoted, and the
configured admin (USERNAME/PASSWORD) can be neither changed nor removed: set PASSWORD in the configuration.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, url_for
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from ..auth import users as store_users
from ..auth.login import log_in
from ..auth.passwords import MIN_LENGTH
from ..queries.users import list_users, user_by_id
from ._access import admin_required, get_state
from ._htmx import is_htmx, page_or_fragment

bp = Blueprint("users", __name__)

#: Roles as the forms send them (rendered as <select> by the templates).
ROLES = ("viewer", "admin")
#: Ids beyond a 32-bit integer are not users (and would overflow PostgreSQL's INTEGER): 404.
_ID = "<int(max=2147483647):user_id>"


class AddUserForm(FlaskForm):
    username = StringField("User name", validators=[DataRequired(), Length(max=store_users.MAX_NAME)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=MIN_LENGTH, max=1024)])
    role = StringField("Role", validators=[AnyOf(ROLES, message="Choose admin or viewer.")], default="viewer")


class RoleForm(FlaskForm):
    role = StringField("Role", validators=[AnyOf(ROLES, message="Choose admin or viewer.")])


class PasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=MIN_LENGTH, max=1024)])


def _render(message: str | None = None, error: str | None = None, add_form: AddUserForm | None = None,
            status: int = 200) -> Response:
    state = get_state()
    with state.store.read() as conn:
        rows = list_users(conn, state.store.tables)
    admins = sum(1 for r in rows if r["is_admin"])
    resp = page_or_fragment("fmd/users.html", "fmd/partials/_users_list.html", users=rows, admins=admins,
                            add_form=add_form or AddUserForm(formdata=None),
                            message=message, error=error,
                            config_username=state.settings.username)
    resp.status_code = status
    return resp


def _done(message: str) -> Response:
    """After a change: the re-rendered section for htmx, a redirect back to the page otherwise."""
    if is_htmx():
        return _render(message=message)
    return redirect(url_for("users.index"))


def _refused(reason: str, add_form: AddUserForm | None = None) -> Response:
    return _render(error=reason, add_form=add_form, status=400)


def _form_errors(form: FlaskForm) -> str:
    return " ".join(f"{getattr(form, name).label.text}: {msg}" for name, msgs in form.errors.items()
                    for msg in msgs)


def _is_self(user_id: int) -> bool:
    return bool(current_user.is_authenticated and current_user.id == user_id)


def _renew_own_session(user_id: int) -> None:
    """A change to one's own password or role ended all one's sessions: give this browser a fresh one."""
    state = get_state()
    with state.store.read() as conn:
        row = user_by_id(conn, state.store.tables, user_id)
    if row is not None:
        login_user(log_in(state.store, row, state.settings.session_idle_hours))


def _leave() -> Response:
    """Admins who removed or demoted themselves can no longer see this page: send them to the start page."""
    target = url_for(current_app.config["FMD_HOME"])
    if is_htmx():
        resp = Response(status=204)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target)


@bp.get("/users")
@admin_required
def index() -> Response:
    """Every user with their role, and the forms that change them."""
    return _render()


@bp.post("/users")
@admin_required
def add() -> Response:
    """Add a user (admin or viewer)."""
    form = AddUserForm()
    if not form.validate():
        return _refused(_form_errors(form) or "The form was not valid.", add_form=form)
    try:
        store_users.create_user(get_state().store, form.username.data, form.password.data,
                                is_admin=form.role.data == "admin")
    except store_users.UserError as exc:
        return _refused(str(exc), add_form=form)
    return _done(f"Added {form.username.data} as {form.role.data}.")


@bp.post(f"/users/{_ID}/role")
@admin_required
def change_role(user_id: int) -> Response:
    """Make a user an admin or a viewer (never the last admin a viewer)."""
    form = RoleForm()
    if not form.validate():
        return _refused(_form_errors(form) or "Choose admin or viewer.")
    try:
        changed = store_users.set_role(get_state().store, user_id, form.role.data == "admin")
    except store_users.UserError as exc:
        return _refused(str(exc))
    if _is_self(user_id):
        if changed:  # the change ended all of this user's sessions, this browser's too
            _renew_own_session(user_id)
        if form.role.data != "admin":
            return _leave()
    return _done(f"The role is now {form.role.data}.")


@bp.post(f"/users/{_ID}/password")
@admin_required
def change_password(user_id: int) -> Response:
    """Give a user a new password; all their sessions end (one's own goes on with a fresh session)."""
    form = PasswordForm()
    if not form.validate():
        return _refused(_form_errors(form) or "The form was not valid.")
    try:
        store_users.set_password(get_state().store, user_id, form.password.data)
    except store_users.UserError as exc:
        return _refused(str(exc))
    if _is_self(user_id):
        _renew_own_session(user_id)
        return _done("The password was changed. Your other sessions have ended; this one goes on.")
    return _done("The password was changed; that user's sessions have ended.")


@bp.post(f"/users/{_ID}/delete")
@admin_required
def remove(user_id: int) -> Response:
    """Remove a user (never the last admin)."""
    try:
        store_users.delete_user(get_state().store, user_id)
    except store_users.UserError as exc:
        return _refused(str(exc))
    return _leave() if _is_self(user_id) else _done("The user was removed.")
