"""Stacks and tracebacks as plain JSON-ready data: which code is the application's, a slow request's stack,
an exception's fingerprint and one full traceback per group.

Contract: nothing here raises into the caller for odd frames or hostile values, and every output is bounded
(frames, locals, characters). ``stack_of`` runs on the watchdog thread against another thread's live frames;
``fingerprint`` and ``full_traceback`` run on the request thread. Stdlib only. Local variables are rendered by
fmd.instrument.saferepr (bounded, redacted, never an ORM object's own repr).

A fingerprint is the exception's type plus the application frames (file relative to its root, function), with
line numbers and the message left out: an edit above the raise or a message carrying an id does not split a group,
a different type or a different raising function does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import linecache
import os
import site
import sys
import sysconfig
from collections import deque
from pathlib import Path
from types import CodeType, FrameType, TracebackType
from typing import Any, Callable, Collection, Iterator, Sequence

from .saferepr import _redacted, safe_repr

_CACHE_SIZE = 4096  #: filenames remembered per AppCode before the cache starts over
_MAX_WALK = 10_000  #: frames walked at most (a RecursionError's stack is ~1000)
_LINE_CHARS = 300  #: characters kept of one source line
_MESSAGE_CHARS = 1000
_NO_APP_FRAMES = 3  #: frames of any code that make the key when none is the application's
_PACKAGE = os.path.normcase(os.path.realpath(Path(__file__).resolve().parents[1]))  # fmd itself, editable or not


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _longest_root(path: str, roots: Sequence[str]) -> str | None:
    best = None
    for root in roots:
        if (path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)) and (
                best is None or len(root) > len(best)):
            best = root
    return best


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        roots.update(site.getsitepackages())  # absent from some old virtualenvs' site module
        roots.add(site.getusersitepackages())
    except Exception:
        pass
    roots.add(_PACKAGE)
    return tuple(sorted({_norm(root) for root in roots if root}))


class AppCode:
    """Which files are the application's own code.

    Without *app_paths*: every real file outside the standard library, site-packages/dist-packages and fmd's own
    package. With *app_paths*: the files under those paths, except where a library root lies deeper inside the
    matching path (the nearest root wins), so an APP_PATHS of a project root still leaves its ``.venv`` out, and an
    APP_PATHS inside site-packages (an app installed as a package) still counts.
    """

    def __init__(self, app_paths: Sequence[str] | None = None) -> None:
        self.app_paths = tuple(_norm(str(p)) for p in app_paths or ())
        self._library = _library_roots()
        self._is_app: dict[str, bool] = {}
        self._relative: dict[str, str] = {}

    def is_app(self, filename: str) -> bool:
        return _cached(self._is_app, filename, self._judge)

    def _judge(self, filename: str) -> bool:
        if not filename or filename.startswith("<"):
            return False  # "<frozen ...>", "<string>", "<stdin>": no file of the application's
        path = _norm(filename)
        library = _longest_root(path, self._library) or ""
        for segment in ("site-packages", "dist-packages"):
            at = path.rfind(os.sep + segment + os.sep)
            if at >= 0 and at + len(segment) + 1 > len(library):
                library = path[:at + len(segment) + 1]
        if not self.app_paths:
            return not library
        app = _longest_root(path, self.app_paths)
        return app is not None and len(app) > len(library)

    def relative(self, filename: str) -> str:
        """*filename* relative to the nearest app path (or sys.path entry without APP_PATHS), else its basename.

        Stable across checkouts and hosts, which is what a fingerprint needs.
        """
        return _cached(self._relative, filename, self._relative_to_root)

    def _relative_to_root(self, filename: str) -> str:
        if not filename.startswith("<"):
            try:
                path = _norm(filename)
                roots = self.app_paths or tuple(_norm(p or os.getcwd()) for p in sys.path if isinstance(p, str))
                root = _longest_root(path, roots)
                if root is not None and root != path:
                    return Path(os.path.relpath(path, root)).as_posix()
            except Exception:
                pass
        return os.path.basename(filename) or filename


def _cached(cache: dict[str, Any], filename: str, compute: Callable[[str], Any]) -> Any:
    try:
        return cache[filename]
    except KeyError:
        pass
    result = compute(filename)
    if len(cache) >= _CACHE_SIZE:
        cache.clear()  # bounded: a host that execs generated files cannot grow it without end
    cache[filename] = result
    return result


def _function(code: CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+ ("View.get", not "get")


def _source_line(filename: str, line: int, module_globals: Any = None) -> str:
    try:
        return linecache.getline(filename, line, module_globals).strip()[:_LINE_CHARS] if line else ""
    except Exception:
        return ""


def _marker(left_out: int) -> dict:
    return {"file": "", "line": 0, "function": f"… {left_out} frames left out", "code": "", "app": False}


def stack_of(frame: FrameType | None, app: AppCode, stop: Collection[CodeType] = (), limit: int = 100) -> list[dict]:
    """The frames from *frame* outward until one running a code in *stop* (excluded), outermost first.

    Keeps the innermost *limit* frames (where it is stuck) behind a marker. Never raises: the thread can move on
    while this walks, so what was gathered is returned.
    """
    inner: list[dict] = []  # innermost first
    left_out = 0
    try:
        stop_ids = {id(code) for code in stop}  # identity: code objects compare equal by content
        walked = 0
        while frame is not None and walked < _MAX_WALK:
            code = frame.f_code
            if id(code) in stop_ids:
                break
            if len(inner) < limit:
                line = frame.f_lineno or 0
                inner.append({"file": code.co_filename, "line": line, "function": _function(code),
                              "code": _source_line(code.co_filename, line, frame.f_globals),
                              "app": app.is_app(code.co_filename)})
            else:
                left_out += 1
            frame = frame.f_back
            walked += 1
    except Exception:
        pass
    inner.reverse()
    if left_out:
        inner.insert(0, _marker(left_out))
    return inner


def _type_name(kind: type) -> str:
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", None) or kind.__name__
    return name if module in (None, "builtins") else f"{module}.{name}"


def _tb_frames(tb: TracebackType | None) -> Iterator[tuple[FrameType, int]]:
    walked = 0
    while tb is not None and walked < _MAX_WALK:
        yield tb.tb_frame, tb.tb_lineno or 0
        tb = tb.tb_next
        walked += 1


def fingerprint(exc: BaseException, app: AppCode) -> tuple[str, str]:
    """(hex SHA-1 of the type and the application frames, "relative/file.py:function" of the innermost one)."""
    codes = [frame.f_code for frame, _ in _tb_frames(exc.__traceback__)]
    chosen = [(app.relative(code.co_filename), _function(code))
              for code in [code for code in codes if app.is_app(code.co_filename)] or codes[-_NO_APP_FRAMES:]]
    # Each frame once, in order: a recursion's depth must not split its group.
    parts = [_type_name(type(exc))] + [f"{file}:{function}" for file, function in dict.fromkeys(chosen)]
    key = hashlib.sha1("\n".join(parts).encode("utf-8", "backslashreplace")).hexdigest()
    location = f"{chosen[-1][0]}:{chosen[-1][1]}" if chosen else ""
    return key, location


def summary(exc: BaseException) -> tuple[str, str]:
    """(qualified type name, message), the message made without ever raising and capped at 1000 characters."""
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__} object>"
    return _type_name(type(exc)), message[:_MESSAGE_CHARS]


def full_traceback(exc: BaseException, app: AppCode, redact: Callable[[str, str], str], *, max_frames: int = 50,
                   context: int = 2, max_locals: int = 40, repr_limit: int = 300, chain: int = 3,
                   locals_budget: int = 64_000) -> dict:
    """The traceback as JSON-ready data: frames outermost first, source context and redacted locals for app frames.

    *locals_budget* caps the characters of all locals' reprs together, innermost frames served first, so even
    50 app frames with 40 locals each on four chained exceptions stay below a hundred kilobytes.
    """
    return _Describer(app, redact, max_frames, context, max_locals, repr_limit, locals_budget).describe(exc, chain)


@dataclasses.dataclass
class _Describer:
    """One full_traceback call: its options, and the budget and exceptions seen that its chain shares."""

    app: AppCode
    redact: Callable[[str, str], str]
    max_frames: int
    context: int
    max_locals: int
    repr_limit: int
    budget: int
    budget_noted: bool = False
    seen: set = dataclasses.field(default_factory=set)

    def describe(self, exc: BaseException, chain: int) -> dict:
        self.seen.add(id(exc))
        kind, message = summary(exc)
        cut: list[str] = []
        kept: deque[tuple[FrameType, int]] = deque(maxlen=max(self.max_frames, 0))
        total = 0
        for item in _tb_frames(exc.__traceback__):
            kept.append(item)
            total += 1
        frames = [self.frame(frame, line, cut) for frame, line in reversed(kept)]  # innermost first: budget
        frames.reverse()
        if total > len(kept):
            frames.insert(0, {**_marker(total - len(kept)), "context": [], "locals": {}})
            cut.append(f"frames: {len(kept)} of {total} kept")
        cause = exc.__cause__ if exc.__cause__ is not None else (
            None if exc.__suppress_context__ else exc.__context__)
        described = None
        if cause is not None and id(cause) not in self.seen:  # a hand-set __cause__ can make a cycle
            if chain > 0:
                described = self.describe(cause, chain - 1)
            else:
                cut.append("cause: chain of exceptions cut here")
        return {"type": kind, "message": message, "frames": frames, "cause": described, "cut": cut}

    def frame(self, frame: FrameType, line: int, cut: list[str]) -> dict:
        entry: dict[str, Any] = {"file": "", "line": line, "function": "<frame unavailable>", "code": "",
                                 "app": False, "context": [], "locals": {}}
        try:
            code = frame.f_code
            entry.update(file=code.co_filename, function=_function(code), app=self.app.is_app(code.co_filename),
                         code=_source_line(code.co_filename, line, frame.f_globals))
            if entry["app"]:  # library frames: neither the cost nor the privacy risk of their locals
                lines = linecache.getlines(code.co_filename, frame.f_globals)
                entry["context"] = [[n, lines[n - 1].rstrip("\r\n")[:_LINE_CHARS]] for n in
                                    range(max(1, line - self.context), min(len(lines), line + self.context) + 1)]
                entry["locals"] = self.locals(frame, f"{self.app.relative(code.co_filename)}:{entry['function']}",
                                              cut)
        except Exception:
            pass  # what was gathered stands
        return entry

    def locals(self, frame: FrameType, here: str, cut: list[str]) -> dict[str, str]:
        if frame.f_locals is frame.f_globals:
            cut.append(f"locals of {here}: module globals left out")
            return {}
        names = list(frame.f_locals.items())
        if len(names) > self.max_locals:
            cut.append(f"locals of {here}: {self.max_locals} of {len(names)} kept")
        values: dict[str, str] = {}
        for name, value in names[:self.max_locals]:
            if self.budget <= 0:
                if not self.budget_noted:
                    self.budget_noted = True
                    cut.append(f"locals from {here} outward: character budget spent")
                break
            text = _redacted(self.redact, name, safe_repr(value, self.repr_limit, self.redact))
            self.budget -= len(text)
            values[str(name)] = text
        return values
