"""Render ``config.group_by`` the way Flask-MonitoringDashboard documents it.

The table of FMD's documentation ("Monitoring Level 1", group_by), plus a bare primitive:

===============================================================================  ================================
``fmd.config.group_by = ...``                                                    stored value
===============================================================================  ================================
``'User'``                                                                       ``User``
``lambda: 3``                                                                    ``3``
``lambda: ('User', 3)``                                                          ``(User,3)``
``lambda: lambda: 3``                                                            ``3``
``('User', lambda: 3)``                                                          ``(User,3)``
``lambda: 'username'``                                                           ``username``
``lambda: ['Username', 'username']``                                             ``(Username,username)``
``lambda: [('User', lambda: 3), ('Username', lambda: 'username')]``              ``((User,3),(Username,username))``
===============================================================================  ================================

Callables are called (inside the request context, after the view), tuples and lists are joined as
``(a,b)``, ``None`` renders as an empty string, bytes are decoded, and the result is cut to the column's
250 characters. A group_by that raises is the caller's business (see hooks: logged, recorded as empty).
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
    """The stored text for a group_by value, cut to the column's width."""
    return render(value)[:MAX_LENGTH]
