"""Bounded, never-raising reprs of local variables for stored tracebacks (fmd.instrument.tracebacks).

Contract: ``safe_repr`` never raises, never exceeds its limit, and never runs the ``__repr__`` of a container
(its elements are walked instead, with a recursion guard) nor of an object whose repr may reach the database or
the environment (SQLAlchemy mapped instances and queries, Django models and querysets, werkzeug's LocalProxy,
``os.environ``): those get a fixed stand-in. With a *redact* function, nested dict values and dataclass or
namedtuple fields are redacted by their key, as the frame's own locals are by their name. Stdlib only:
SQLAlchemy and Django are recognised only when the host already imported them.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import os
import reprlib
import sys
from collections import deque
from collections.abc import Mapping
from typing import Any, Callable


def _redacted(redact: Callable[[str, str], str], name: str, text: str) -> str:
    try:
        return redact(name, text)
    except Exception:
        return "[redaction failed]"  # fail closed: a value we could not judge is not shown


class _SafeRepr(reprlib.Repr):
    """reprlib without its risks: no sorting of whole sets/dicts, no foreign __repr__ for containers or ORM
    objects, a recursion guard, nested dict values redacted by key."""

    def __init__(self, limit: int, redact: Callable[[str, str], str] | None) -> None:
        super().__init__()
        self.maxlevel, self.maxlong, self.limit = 3, 40, limit
        self.maxtuple = self.maxlist = self.maxset = self.maxfrozenset = self.maxdeque = self.maxdict = 10
        self.maxstring = self.maxother = min(160, limit)
        self.redact = redact
        self.active: set[int] = set()

    def repr1(self, x: Any, level: int) -> str:
        try:
            return self._repr1(x, level)
        except Exception:  # one bad element (a property that raises, ...) spoils only its own place
            return f"<unrepresentable {type(x).__name__}>"

    def _repr1(self, x: Any, level: int) -> str:
        kind = type(x)
        special = _special(x, kind)
        if special is not None:
            return special
        if issubclass(kind, (bool, float, complex, enum.Enum)) or x is None:
            return self.repr_instance(x, level)
        for base, method in _CONTAINERS:
            if issubclass(kind, base):
                break
        else:
            if dataclasses.is_dataclass(kind):
                return self._fields(x, kind, [f.name for f in dataclasses.fields(kind) if f.repr], level)
            if isinstance(x, Mapping) or _is_headers(kind):
                # Shown item by item, so secret keys are redacted (its own repr would show Authorization).
                if id(x) in self.active:
                    return "[...]"
                self.active.add(id(x))
                try:
                    return f"{kind.__name__}({self._items(x.items(), len(x), level)})"
                finally:
                    self.active.discard(id(x))
            return self.repr_instance(x, level)
        if id(x) in self.active:
            return "[...]"
        self.active.add(id(x))
        try:
            if issubclass(kind, tuple) and hasattr(kind, "_fields"):
                return self._fields(x, kind, list(kind._fields), level)
            text = getattr(self, method)(x, level)
        finally:
            self.active.discard(id(x))
        return text if kind is base else f"{kind.__name__}({text})"

    def _fields(self, x: Any, kind: type, names: list[str], level: int) -> str:
        if level <= 0:
            return f"{kind.__name__}(...)"
        pieces = []
        for name in names[:self.maxtuple]:
            text = self.repr1(getattr(x, name), level - 1)
            pieces.append(f"{name}={self._redact(name, text)}")
        if len(names) > self.maxtuple:
            pieces.append(self.fillvalue)
        return f"{kind.__name__}({', '.join(pieces)})"

    def _redact(self, name: Any, text: str) -> str:
        return _redacted(self.redact, name, text) if self.redact is not None and isinstance(name, str) else text

    def repr_dict(self, x: dict, level: int) -> str:  # reprlib's sorts every key first: O(n log n) on a big dict
        return self._items(dict.items(x), len(x), level)

    def _items(self, items: Any, size: int, level: int) -> str:
        if not size:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [f"{self.repr1(key, level - 1)}: {self._redact(key, self.repr1(value, level - 1))}"
                  for key, value in itertools.islice(items, self.maxdict)]
        if size > self.maxdict:
            pieces.append(self.fillvalue)
        return "{" + ", ".join(pieces) + "}"

    def repr_set(self, x: set, level: int) -> str:
        return self._repr_iterable(x, level, "{", "}", self.maxset) if x else "set()"

    def repr_frozenset(self, x: frozenset, level: int) -> str:
        return self._repr_iterable(x, level, "frozenset({", "})", self.maxfrozenset) if x else "frozenset()"

    def repr_bytes(self, x: bytes, level: int) -> str:
        text = repr(bytes(x[:self.maxstring])) + (self.fillvalue if len(x) > self.maxstring else "")
        return f"bytearray({text})" if isinstance(x, bytearray) else text

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 256:  # str() of a huge int is quadratic (and refused past 4300 digits)
            return f"<int of {x.bit_length()} bits>"
        return super().repr_int(int(x), level)

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:
            return f"<unrepresentable {type(x).__name__}>"
        cap = self.limit if level >= self.maxlevel else self.maxother
        return text if len(text) <= cap else text[:cap - 3] + self.fillvalue


_CONTAINERS = ((str, "repr_str"), (bytes, "repr_bytes"), (bytearray, "repr_bytes"), (int, "repr_int"),
               (tuple, "repr_tuple"), (list, "repr_list"), (dict, "repr_dict"), (set, "repr_set"),
               (frozenset, "repr_frozenset"), (deque, "repr_deque"))


def _is_headers(kind: type) -> bool:
    """werkzeug's Headers (request.headers): a multi-mapping that is not a Mapping."""
    datastructures = sys.modules.get("werkzeug.datastructures")
    headers = getattr(datastructures, "Headers", None)
    return headers is not None and issubclass(kind, headers)


def _mro_has(kind: type, name: str) -> bool:
    return any(name in vars(klass) for klass in kind.__mro__)


def _special(x: Any, kind: type) -> str | None:
    """Objects whose own repr may reach the database or leak the environment: a fixed stand-in, or None."""
    if kind is type(os.environ):
        return "<os.environ>"
    local = sys.modules.get("werkzeug.local")
    if local is not None and issubclass(kind, local.LocalProxy):
        return "<LocalProxy>"  # resolving current_user & co. may load the user
    if "sqlalchemy" in sys.modules:
        orm = sys.modules.get("sqlalchemy.orm")
        if orm is not None and issubclass(kind, orm.Query):
            return f"<{kind.__name__}>"
        if _mro_has(kind, "_sa_class_manager"):  # a mapped class; its __repr__ may lazy-load a relationship
            state = object.__getattribute__(x, "__dict__").get("_sa_instance_state")
            key = getattr(state, "key", None)
            return f"<{kind.__name__} identity={safe_repr(key[1], 100) if key else None}>"
    if "django" in sys.modules:
        query = sys.modules.get("django.db.models.query")
        if query is not None and issubclass(kind, query.QuerySet):
            return f"<{kind.__name__}>"  # a QuerySet's repr evaluates it
        try:
            if _mro_has(kind, "_meta") and "_state" in object.__getattribute__(x, "__dict__"):
                pk = object.__getattribute__(x, "__dict__").get(kind._meta.pk.attname)
                return f"<{kind.__name__} pk={safe_repr(pk, 60)}>"
        except Exception:
            pass  # something else with a _meta: its ordinary repr
    return None


def safe_repr(value: Any, limit: int = 300, redact: Callable[[str, str], str] | None = None) -> str:
    """A bounded repr that never raises and never runs a container's or ORM object's own __repr__.

    With *redact*, a nested dict value or dataclass/namedtuple field is passed through redact(key, text) too.
    Limit: a plain object's own __repr__ still runs; one that reaches a model through other objects is its own.
    """
    try:
        text = _SafeRepr(max(limit, 8), redact).repr(value)
    except Exception:  # RecursionError near the limit, a hostile __class__, ...
        try:
            text = f"<unrepresentable {type(value).__name__}>"
        except Exception:
            text = "<unrepresentable>"
    return text if len(text) <= limit else text[:max(limit - 3, 0)] + "..."
