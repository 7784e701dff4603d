"""Render ``config.group_by`` the way Flask-MonitoringDashboard documents it.

=============================================================  ==================================
``group_by``                                                   stored value
=============================================================  ==================================
``'User'``                                                     ``User``
``lambda: 3``                                                  ``3``
``lambda: ('User', 3)``                                        ``(User,3)``
``lambda: lambda: 3``                                          ``3``
``('User', lambda: 3)``                                        ``(User,3)``
``lambda: 'username'``                                         ``username``
``lambda: ['Username', 'username']``                           ``(Username,username)``
``lambda: [('User', lambda: 3), ('Username', lambda: 'u')]``   ``((User,3),(Username,u))``
=============================================================  ==================================

``None`` renders as an empty string; values are cut to the column's 250 characters.
"""

from __future__ import annotations

from typing import Any

MAX_LENGTH = 250
_MAX_DEPTH = 10  # a callable that returns itself must not recurse forever


def render(value: Any, depth: int = 0) -> str:
    """The stored text for a group_by value (calling callables, joining tuples and lists)."""
    if depth > _MAX_DEPTH:
        raise ValueError("group_by nests more than 10 callables deep")
    if callable(value):
        return render(value(), depth + 1)
    if value is None:
        return ""
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(render(item, depth + 1) for item in value) + ")"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def group_of(value: Any) -> str:
    return render(value)[:MAX_LENGTH]
