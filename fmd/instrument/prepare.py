"""Writer thread: level-2 attachments (fmd.instrument.records) made into rows a database stores.

What a request thread handed over raw (the WSGI environ's text, a form, a JSON body, a stack, a traceback)
is redacted and size-capped here (fmd.instrument.redact), off the request path, then serialised as JSON
text with every string made storable (fmd.instrument.storable). A row is a ("outlier", dict) or
("exception", dict) pair; fmd.store.extras writes them in the batch's transaction.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .records import ExceptionSeen, OutlierSeen
from .storable import storable

if TYPE_CHECKING:
    from .redact import Redactor

#: The most characters of JSON text stored for a stack or a traceback.
STACK_LIMIT = 64 * 1024
TRACEBACK_LIMIT = 256 * 1024
_TEXT = 10 * 1024 * 1024  # (storable() needs a bound: text columns are cut by the caps above, not by it)


def prepare(extras: tuple, redactor: "Redactor") -> tuple:
    """The storable rows of a record's attachments (those that cannot be made storable are left out)."""
    rows = []
    for item in extras:
        if isinstance(item, OutlierSeen):
            rows.append(("outlier", outlier_row(item, redactor)))
        elif isinstance(item, ExceptionSeen):
            rows.append(("exception", exception_row(item, redactor)))
    return tuple(rows)


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
           "environ": {k: v for k, v in environ.items() if not k.startswith("HTTP_")}}
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
