"""Writer thread: level-2 attachments (fmd.instrument.records) made into rows a database stores.

What a request thread handed over raw (the WSGI environ's text, a form, a JSON body, a stack, a traceback)
is redacted and size-capped here (fmd.instrument.redact), off the request path, then serialised as JSON
text with every string made storable (fmd.instrument.storable). A row is a ("outlier", dict) or
("exception", dict) pair; fmd.store.extras writes them in the batch's transaction.
"""

from __future__ import annotations

import json
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

from .records import ExceptionSeen, OutlierSeen, ProfileSeen
from .storable import storable

if TYPE_CHECKING:
    from .redact import Redactor

#: The most characters of JSON text stored for a stack or a traceback.
STACK_LIMIT = 64 * 1024
TRACEBACK_LIMIT = 256 * 1024
#: Environ values holding the raw, percent-encoded query: decoded before redaction (an encoded
#: ``https%3A%2F%2Fuser%3Apass%40host`` hides its credentials from pattern matching).
_RAW_QUERY_KEYS = frozenset({"QUERY_STRING", "REQUEST_URI", "RAW_URI"})
_TEXT = 10 * 1024 * 1024  # (storable() needs a bound: text columns are cut by the caps above, not by it)


def prepare(extras: tuple, redactor: "Redactor", duration: float = 0.0) -> tuple:
    """The storable rows of a record's attachments (those that cannot be made storable are left out)."""
    rows = []
    for item in extras:
        if isinstance(item, OutlierSeen):
            rows.append(("outlier", outlier_row(item, redactor)))
        elif isinstance(item, ExceptionSeen):
            rows.append(("exception", exception_row(item, redactor)))
        elif isinstance(item, ProfileSeen):
            rows.append(("profile", profile_row(item, redactor, duration)))
    return tuple(rows)


def profile_row(seen: ProfileSeen, redactor: "Redactor", duration: float) -> dict:
    """A level-3 request's tree (fmd.trees) from its samples: pre-order rows of storable frames."""
    from ..trees import build, to_rows
    from .profiler import OTHER

    frames = _frames_of(redactor)  # (code object, line) -> Frame: the same lines recur across requests

    def frame(code: Any, line: int) -> tuple:
        key = (code, line)
        found = frames.get(key)
        if found is None:
            if len(frames) >= _FRAMES_KEPT:
                frames.clear()
            found = frames[key] = _frame(code.co_filename, line, getattr(code, "co_qualname", code.co_name),
                                         redactor)
        return found

    view = _unwrap(seen.view)
    view_code = getattr(view, "__code__", None)
    if view_code is not None:
        root = frames.get(view_code)
        if root is None:
            root = frames[view_code] = _frame(view_code.co_filename, _def_line(view_code),
                                              getattr(view_code, "co_qualname", view_code.co_name), redactor)
    else:
        root = ("", 0, getattr(seen.view, "__name__", "(view)"), "")
    samples = seen.samples
    stacks: dict = {}
    cut = []
    if samples is not None:
        for stack, count in samples.stacks.items():
            path: tuple = ()
            if stack is not OTHER and stack:
                codes = [code for code, _ in stack]
                if view_code is not None and view_code in codes:
                    stack = stack[codes.index(view_code):]  # from the view down: the root is the view itself
                elif _in_fmd(stack[0][0].co_filename):
                    stack = ()  # taken while the request thread was still in fmd's own code: the root's time
                path = tuple(frame(code, line) for code, line in stack)
            stacks[path] = stacks.get(path, 0) + count
        if samples.dropped:
            cut.append(f"{samples.dropped} samples in stacks beyond the first {len(samples.stacks) - 1} distinct "
                       "ones are counted in the root")
        if samples.deep:
            cut.append(f"{samples.deep} samples were deeper than the frames kept")
    tree = build(stacks, duration, root)
    return {"rows": to_rows(tree), "samples": samples.count if samples is not None else 0,
            "interval_ms": samples.interval_ms if samples is not None else None,
            "cut": "; ".join(cut) or None}


def _frame(filename: str, line: int, function: str, redactor: "Redactor") -> tuple:
    """(file, line, function, source text), storable in code_line (the file's end kept if it is long)."""
    import linecache

    code = linecache.getline(filename, line).strip() if line else ""
    if len(filename) > 250:
        filename = "…" + filename[-249:]
    return (storable(filename, 250), int(line), storable(function, 250), storable(redactor.text(code), 250))


#: Frames remembered per redactor (the writer thread only); beyond this many, the memory starts afresh.
_FRAMES_KEPT = 50_000
_frame_caches: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _frames_of(redactor: "Redactor") -> dict:
    cache = _frame_caches.get(redactor)
    if cache is None:
        cache = _frame_caches[redactor] = {}
    return cache


def _def_line(code: Any) -> int:
    """The line of a function's ``def`` (its first line is its first decorator's)."""
    import linecache

    first = code.co_firstlineno
    for line in range(first, first + 30):
        text = linecache.getline(code.co_filename, line).lstrip()
        if text.startswith(("def ", "async def ")):
            return line
        if not text:
            break
    return first


def _unwrap(function: Any) -> Any:
    import inspect

    try:
        return inspect.unwrap(function) if function is not None else None
    except Exception:
        return function


def _in_fmd(filename: str) -> bool:
    from .outliers import _in_fmd as in_fmd

    return in_fmd(filename)


def outlier_row(seen: OutlierSeen, redactor: "Redactor") -> dict:
    from werkzeug.wsgi import get_current_url

    from .redact import Budget, outlier_fields

    environ = seen.environ
    try:
        url = get_current_url(environ)
    except Exception:
        url = environ.get("PATH_INFO", "")
    headers = [(_header_name(key), value) for key, value in environ.items() if key.startswith("HTTP_")]
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers.append((_header_name(key), environ[key]))
    raw = {"url": url, "method": environ.get("REQUEST_METHOD", ""),
           "query": parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True),
           "form": seen.form or [], "json": seen.json, "headers": sorted(headers),
           "environ": {k: (redactor.text(unquote_plus(v)) if k in _RAW_QUERY_KEYS else v)
                       for k, v in environ.items() if not k.startswith("HTTP_")}}
    budget = Budget()
    fields = outlier_fields(raw, redactor, budget)
    row = {key: (None if value is None else storable(value, _TEXT)) for key, value in fields.items()}
    row["method"] = storable(row.get("method") or "", 16)
    row["url"] = row.get("url") or ""
    stack = (_json_within(_redacted_frames(seen.stack, redactor), STACK_LIMIT, _shorter_stack)
             if seen.stack is not None else None)
    row.update(average=float(seen.average), stacktrace=stack,
               stack_at=None if seen.stack_at is None else float(seen.stack_at),
               cpu_percent=None if seen.cpu is None else json.dumps([float(c) for c in seen.cpu]),
               memory=None if seen.memory is None else json.dumps(seen.memory))
    return row


def exception_row(seen: ExceptionSeen, redactor: "Redactor") -> dict:
    traceback = None
    if seen.traceback is not None:
        traceback = _json_within(_redacted_messages(seen.traceback, redactor), TRACEBACK_LIMIT, _shorter_traceback)
    return {"fingerprint": storable(seen.fingerprint, 64), "type": storable(seen.type, 250) or "Exception",
            "location": storable(seen.location, 500), "message": storable(redactor.text(seen.message), 1000),
            "when": float(seen.when), "traceback": traceback}


def _redacted_messages(tb: dict, redactor: "Redactor", depth: int = 0) -> dict:
    """*tb* with the message of it and of every chained exception redacted (the locals already are)."""
    out = dict(tb)
    out["message"] = redactor.text(str(tb.get("message", "")))
    out["frames"] = _redacted_frames(tb.get("frames") or [], redactor)
    cause = tb.get("cause")
    if isinstance(cause, dict) and depth < 10:
        out["cause"] = _redacted_messages(cause, redactor, depth + 1)
    return out


def _redacted_frames(frames: list, redactor: "Redactor") -> list:
    """Frames whose source lines are redacted too: a secret written in the code (``password = "..."``)."""
    out = []
    for frame in frames:
        if not isinstance(frame, dict):
            continue
        frame = dict(frame)
        if frame.get("code"):
            frame["code"] = redactor.text(str(frame["code"]))
        if frame.get("context"):
            frame["context"] = [[line[0], redactor.text(str(line[1]))] if isinstance(line, (list, tuple))
                                and len(line) == 2 else line for line in frame["context"]]
        out.append(frame)
    return out


def _header_name(key: str) -> str:
    name = key[5:] if key.startswith("HTTP_") else key
    return "-".join(part.capitalize() for part in name.split("_"))


def _json_within(value: Any, limit: int, shorten: Any) -> str:
    """*value* as storable JSON text of at most *limit* characters, *shorten*ed (outermost parts first) until it fits."""
    text = json.dumps(value, default=str)
    while len(text) > limit:
        shorter = shorten(value)
        if shorter is None:
            return json.dumps({"cut": f"{len(text)} characters: too large to keep"})
        value = shorter
        text = json.dumps(value, default=str)
    return storable(text, _TEXT)


def _shorter_stack(stack: list) -> list | None:
    if len(stack) <= 1:
        return None
    keep = len(stack) // 2
    return [{"file": "", "line": 0, "function": f"… {len(stack) - keep} frames left out", "code": "",
             "app": False}] + stack[-keep:]


def _shorter_traceback(tb: dict) -> dict | None:
    if tb.get("cause") is not None:
        return {**tb, "cause": None, "cut": list(tb.get("cut") or []) + ["the chained exception: too large"]}
    frames = tb.get("frames") or []
    if any(frame.get("locals") for frame in frames):
        return {**tb, "frames": [{**f, "locals": {}} for f in frames],
                "cut": list(tb.get("cut") or []) + ["local variables: too large"]}
    if len(frames) > 1:
        return {**tb, "frames": frames[len(frames) // 2:],
                "cut": list(tb.get("cut") or []) + [f"{len(frames) - len(frames) // 2} outer frames: too large"]}
    return None
