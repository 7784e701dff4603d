"""Redaction and size caps for what level 2 stores from a request (issue 9): applied in the writer thread.

- A value is replaced by ``REDACTED`` when its *key* looks secret: the key is split into words (on ``-``,
  ``_``, spaces, dots, camelCase), and the words joined and lower-cased contain a fragment of ``DEFAULT_KEYS``
  or of the REDACT option; ``key``/``keys`` only as a whole word (``SECRET_KEY``, ``X-Api-Key``,
  ``aws_access_key_id``, not ``monkey``/``keyboard``/``turkey``). ``ALWAYS_HEADERS`` are always secret. The
  list errs towards redacting: ``auth`` also takes ``author``, ``pwd`` the ``PWD`` variable.
- All other text goes through ``Redactor.text``: the password of ``scheme://user:pass@host`` (a long userinfo
  without one is a token: ``https://<token>@github.com``), values of secret names in ``name=value``,
  ``name: value`` and ``"name": "value"`` (so query strings in URLs), ``Bearer``/``Basic`` credentials, the
  rest of an ``Authorization:``/``Cookie:`` line, card-like numbers (13-19 digits, spaces or dashes between,
  passing Luhn). It also makes text storable: NUL removed, lone surrogates as ``?``.
- ``Budget`` caps each value to VALUE_LIMIT characters (a cut value ends with "…" and stays within its limit)
  and a record's values and keys together to RECORD_LIMIT, noting every cut. Values are cut after redaction,
  so a secret is never half-recognised; redaction reads at most VALUE_LIMIT + SLACK characters of a value.
- ``outlier_fields`` builds the outlier row's text columns; each JSON column also stays within COLUMN_BYTES
  of UTF-8 (MySQL's TEXT), trailing items left out (and noted) when multi-byte text would pass it.
"""

from __future__ import annotations

import json as _json
import math
import re
from typing import Any, Iterable, Mapping
from urllib.parse import unquote

REDACTED = "[redacted]"
#: Key fragments that look secret (matched after normalising, see above).
DEFAULT_KEYS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "pwd", "token", "secret", "api_key", "apikey", "key", "session",
    "csrf", "auth", "credential", "private", "signature", "cookie", "jwt")
#: Header names (and their WSGI environ spellings) that are always redacted.
ALWAYS_HEADERS: tuple[str, ...] = (
    "Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization",
    "HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_PROXY_AUTHORIZATION")
VALUE_LIMIT = 4096  # characters per value
RECORD_LIMIT = 65536  # characters per record: all values and keys of one outlier/traceback together
KEY_LIMIT = 256  # characters per key
SLACK = 1024  # redaction reads this far past the value limit, to see a pattern that ends past the cut
MAX_ITEMS = 500  # items kept per multi-dict (query, form, headers, environment)
MAX_DEPTH, MAX_ELEMENTS, MAX_NODES = 20, 1000, 10000  # JSON bodies: depth, items per container, nodes in all
MAX_NOTES = 50  # notes kept word for word in Budget.cut; more are counted in one last note
COLUMN_BYTES = 65535  # a stored JSON column stays within MySQL's TEXT (bytes of UTF-8)
_CACHE_SIZE = 4096
_WORDS = frozenset({"key", "keys"})  # fragments that must be a whole word of the key
_ALWAYS = frozenset(h.lower() for h in ALWAYS_HEADERS)

_SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# scheme://user:password@ (the password runs to the last @ of the authority) or scheme://token@
_SCHEME = r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://"  # starts only where a word starts: linear scan
_URL_CREDS = re.compile(r"(?P<head>" + _SCHEME + r"(?P<user>[^\s/?#@:]*))"
                        r"(?::(?P<pw>[^\s/?#]*))?@")
_URL_TAIL = re.compile(r"(?P<head>" + _SCHEME + r"[^\s/?#@:]*):[^\s/?#]*\Z")
# name=value, name: value, "name": "value". A match stops before the value, which is read only after a secret
# name: the value of a name that is not secret is scanned too ("failed: password=x"), and the scan stays linear
# (the lookbehind lets a name start only where a word starts).
_NAME = r"[A-Za-z_][\w.%\[\]-]*"
_KV = re.compile(r"""(?P<q>["']?)(?<![\w.%\[\]-])(?P<name>""" + _NAME + r""")(?P=q)"""
                 r"""(?P<sep>\s*=\s*|:\s+|(?<=["']):\s*)""")
_VALUE = re.compile(r"""\[redacted\]|"[^"\n]*"|'[^'\n]*'|[^\s&;#"'<>,)}\]]+""")
_HEADER_LINE = re.compile(r"(?i)(?<![\w-])(?P<head>(?:http_)?(?:proxy[-_])?authorization|(?:http_)?(?:set-)?cookie)"
                          r"""(?P<sep>["']?\s*:\s*["']?)(?P<val>[^\r\n"']+)""")
_SCHEME_CRED = re.compile(r"(?i)\b(?P<scheme>bearer|basic)\s+(?P<cred>[A-Za-z0-9._~+/-]{8,}=*)")
_CARD = re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?!\d|\.\d)")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _luhn(digits: str) -> bool:
    doubled = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # 2d, minus 9 when two digits
    return sum(int(c) if i % 2 == 0 else doubled[int(c)] for i, c in enumerate(reversed(digits))) % 10 == 0


def safe_str(value: Any) -> str:
    """*value* as a plain str; "<unprintable>" when its ``__str__`` raises."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    try:
        s = str(value)
        return s if type(s) is str else str.__str__(s)
    except Exception:
        return "<unprintable>"


def _storable(s: str) -> str:
    """No NUL (PostgreSQL refuses it), no lone surrogate (no UTF-8 encoder takes it)."""
    if "\x00" in s:
        s = s.replace("\x00", "")
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            s = _SURROGATE.sub("?", s)
    return s


def _dumps(obj: Any) -> str:
    return _json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _size(obj: Any) -> int:
    return len(_dumps(obj).encode())


class Redactor:
    """Deny-list redaction: secret keys' values, and credentials found inside free text."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        if isinstance(extra, str):  # "ssn,pin" rather than ("ssn", "pin"): not one fragment per letter
            extra = extra.split(",")
        norm = {"".join(_SEGMENT.findall(f)).lower() for f in (*DEFAULT_KEYS, *extra)}
        norm -= _WORDS
        norm.discard("")
        # one alternation scans the joined key once instead of once per fragment
        self._fragments = re.compile("|".join(sorted(map(re.escape, norm), key=len, reverse=True)))
        self._cache: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        """Whether values under *key* must not be stored (cached: the same names repeat)."""
        hit = self._cache.get(key)
        if hit is None:
            key = safe_str(key)
            words = [w.lower() for w in _SEGMENT.findall(key)]
            hit = (key.lower() in _ALWAYS or any(w in _WORDS for w in words)
                   or self._fragments.search("".join(words)) is not None)
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()  # a flood of distinct keys: start over rather than grow
            if len(key) <= KEY_LIMIT:
                self._cache[key] = hit
        return hit

    def value(self, key: str, value: str) -> str:
        """REDACTED if *key* is secret, else ``text(value)``."""
        return REDACTED if self.is_secret(key) else self.text(value)

    def text(self, value: str, truncated: bool = False) -> str:
        """Free text with credentials, secret parameters and card numbers replaced, and made storable.

        *truncated*: the caller cut *value* short, so a userinfo running to its end is a password whose
        closing ``@`` was cut off.
        """
        s = _storable(safe_str(value))
        if truncated and "://" in s:
            s = _URL_TAIL.sub(lambda m: f"{m['head']}:{REDACTED}", s)
        if "@" in s and "://" in s:
            s = _URL_CREDS.sub(self._url_creds, s)
        if ":" in s or "=" in s:
            s = _HEADER_LINE.sub(lambda m: m["head"] + m["sep"] + REDACTED, s)
            s = self._kv(s)
        if " " in s:
            s = _SCHEME_CRED.sub(self._scheme_cred, s)
        return _CARD.sub(self._card, s) if len(s) >= 13 else s

    def url(self, url: str) -> str:
        """One URL redacted: a URL is free text as far as redaction goes."""
        return self.text(url)

    def pairs(self, items: Iterable[tuple[str, Any]]) -> list[list[str]]:
        """Multi-dict items (query, form, headers) as ``[[key, redacted value], ...]``, order kept."""
        return [[self.text(k), self.value(k, v)] for k, v in items]

    def mapping(self, d: Mapping[str, Any]) -> dict[str, str]:
        """A mapping (the environment) with redacted str values."""
        return {self.text(k): self.value(safe_str(k), v) for k, v in d.items()}

    def json(self, obj: Any, notes: list[str] | None = None, *, chars: int = 1 << 20) -> Any:
        """A parsed JSON body with secret keys' values redacted and every string through ``text``.

        Bounded: MAX_DEPTH levels, MAX_ELEMENTS items per container, MAX_NODES nodes, *chars* characters of
        strings (later strings become "…"); what was left out is appended to *notes* when given.
        """
        walk = _JsonWalk(self, chars)
        out = walk.visit(obj, 0)
        if notes is not None:
            notes.extend(walk.notes())
        return out

    def _url_creds(self, m: re.Match) -> str:
        pw, user = m["pw"], m["user"]
        if pw:
            return f"{m['head']}:{REDACTED}@"
        if pw is None and len(user) > 20:  # no password: a long user name is a token
            return m["head"][:-len(user)] + REDACTED + "@"
        return m[0]

    def _kv(self, s: str) -> str:
        """Values of secret names in ``name=value``, ``name: value`` and ``"name": "value"``."""
        out, pos = [], 0
        for m in _KV.finditer(s):
            name = m["name"]
            if m.start() < pos or not self.is_secret(unquote(name) if "%" in name else name):
                continue
            v = _VALUE.match(s, m.end())
            if v is None or v[0] == REDACTED:
                continue
            quote = v[0][0] if v[0][0] in "\"'" else ""
            out += (s[pos:m.end()], quote, REDACTED, quote)
            pos = v.end()
        return "".join(out) + s[pos:] if out else s

    @staticmethod
    def _scheme_cred(m: re.Match) -> str:
        cred = m["cred"]
        # "basic authentication" is prose; a base64 credential has a digit, a symbol or an inner capital
        if m["scheme"].lower() == "basic" and not re.search(r"[0-9+/=]|.[A-Z]", cred):
            return m[0]
        return f"{m['scheme']} {REDACTED}"

    @staticmethod
    def _card(m: re.Match) -> str:
        digits = m[0].replace(" ", "").replace("-", "")
        return REDACTED if 13 <= len(digits) <= 19 and _luhn(digits) else m[0]


class _JsonWalk:
    """One bounded walk over a parsed JSON body (see ``Redactor.json``)."""

    def __init__(self, redactor: Redactor, chars: int) -> None:
        self.r = redactor
        self.nodes = MAX_NODES
        self.chars = chars
        self.deep = self.wide = self.many = self.long = 0

    def visit(self, o: Any, depth: int) -> Any:
        self.nodes -= 1
        if self.nodes < 0:
            self.many += 1
            return "…"
        if o is None or isinstance(o, bool):
            return o
        if isinstance(o, int):
            if 10**12 <= abs(o) < 10**19 and _luhn(str(abs(o))):
                return REDACTED  # a card number sent as a JSON number
            return o if o.bit_length() <= 64 else safe_str(o)[:64]
        if isinstance(o, float):
            return o if math.isfinite(o) else safe_str(o)  # NaN/Infinity are not JSON
        if isinstance(o, str):
            if self.chars <= 0:
                self.long += 1
                return "…"
            s = self.r.text(o[:VALUE_LIMIT + SLACK], len(o) > VALUE_LIMIT + SLACK)
            self.chars -= len(s)
            return s
        if isinstance(o, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                self.deep += 1
                return "[nested too deep]"
            if isinstance(o, Mapping):
                return self._object(o, depth)
            out = [self.visit(v, depth + 1) for v in o[:MAX_ELEMENTS]]
            if len(o) > MAX_ELEMENTS:
                self.wide += 1
                out.append(f"… {len(o) - MAX_ELEMENTS} more items")
            return out
        return self.r.text(safe_str(o)[:VALUE_LIMIT + SLACK])

    def _object(self, o: Mapping, depth: int) -> dict:
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(o.items()):
            if i >= MAX_ELEMENTS:
                self.wide += 1
                out["…"] = f"{len(o) - MAX_ELEMENTS} more keys"
                break
            key = safe_str(k)
            out[self.r.text(key[:KEY_LIMIT])] = REDACTED if self.r.is_secret(key) else self.visit(v, depth + 1)
        return out

    def notes(self) -> list[str]:
        return [n for n, hit in (
            (f"json: nested deeper than {MAX_DEPTH} levels, cut", self.deep),
            (f"json: containers of more than {MAX_ELEMENTS} items cut", self.wide),
            (f"json: past {MAX_NODES} values left out", self.many),
            ("json: strings past the value limit left out", self.long)) if hit]


class Budget:
    """Caps for one record: each value to VALUE_LIMIT, the whole record to RECORD_LIMIT, noting each cut."""

    def __init__(self, value_limit: int = VALUE_LIMIT, record_limit: int = RECORD_LIMIT) -> None:
        self.value_limit = value_limit
        self.record_limit = record_limit
        self.used = 0
        self._notes: list[str] = []
        self._more = 0

    @property
    def cut(self) -> list[str]:
        """Human-readable notes of what was shortened or left out, in the order it happened."""
        return self._notes + ([f"… and {self._more} more cuts"] if self._more else [])

    @property
    def spent(self) -> bool:
        return self.used >= self.record_limit

    def note(self, text: str) -> None:
        """Record one cut (the first MAX_NOTES are kept word for word, the rest counted)."""
        if len(self._notes) < MAX_NOTES:
            self._notes.append(text)
        else:
            self._more += 1

    def take(self, where: str, text: str, total: int | None = None, limit: int | None = None) -> str:
        """*text* capped to *limit* (default the value limit) and to what is left of the record.

        *total* is the original length when the caller already shortened *text* (before redacting it), so
        the value counts as cut even if it now fits.
        """
        text = safe_str(text)
        n = len(text)
        if not n and total is None:
            return ""
        limit = self.value_limit if limit is None else limit
        remaining = self.record_limit - self.used
        cap = min(limit, remaining)
        if n <= cap and total is None:
            self.used += n
            return text
        if cap < 2:  # not even one character and the ellipsis
            self.used = max(self.used, self.record_limit)
            self.note(f"{where}: dropped, the record reached {self.record_limit} characters")
            return ""
        keep = min(n, cap - 1)
        self.used += keep + 1
        why = "" if cap == limit else f", the record reached {self.record_limit} characters"
        self.note(f"{where}: {keep} of {total if total is not None else n} characters kept{why}")
        return text[:keep] + "…"

    def key(self, where: str, key: str) -> str:
        """A key capped to KEY_LIMIT characters (noted), counted against the record but never dropped."""
        if len(key) > KEY_LIMIT:
            self.note(f"{where}: a key of {len(key)} characters cut to {KEY_LIMIT}")
            key = key[:KEY_LIMIT - 1] + "…"
        self.used += len(key)
        return key


def _short(key: str) -> str:
    return key if len(key) <= 64 else key[:63] + "…"


def _prepared(value: Any, limit: int) -> tuple[str, int | None]:
    """*value* as text, shortened to what redaction reads; the original length when it was shortened."""
    s = safe_str(value)
    return (s, None) if len(s) <= limit + SLACK else (s[:limit + SLACK], len(s))


def _items(group: str, items: Any, redactor: Redactor, budget: Budget) -> list[list[str]]:
    """Multi-dict items redacted and capped; a broken iterable keeps what was read before it broke."""
    out: list[list[str]] = []
    if items is None:
        return out
    try:
        for i, item in enumerate(items.items() if isinstance(items, Mapping) else items):
            if i >= MAX_ITEMS:
                budget.note(f"{group}: items past the first {MAX_ITEMS} left out")
                break
            k, v = item if isinstance(item, (tuple, list)) and len(item) == 2 else (item, "")
            raw_key = safe_str(k)
            key = budget.key(group, redactor.text(raw_key[:KEY_LIMIT + SLACK], len(raw_key) > KEY_LIMIT + SLACK))
            if redactor.is_secret(raw_key):
                value, total = REDACTED, None
            else:
                s, total = _prepared(v, budget.value_limit)
                value = redactor.text(s, total is not None)
            out.append([key, budget.take(f"{group}.{_short(key)}", value, total)])
    except Exception as e:  # a multi-dict that fails while iterated: keep what was read
        budget.note(f"{group}: unreadable after {len(out)} items ({type(e).__name__})")
    return out


def _fit(items: list, what: str, room: int, budget: Budget) -> list:
    """The leading *items* whose JSON fits in *room* bytes; the rest left out with a note."""
    # a character takes at most 6 bytes in JSON ("\u0001"; 4 in UTF-8): most records need no serialising here
    if sum(len(k) + len(v) for k, v in items) * 6 + 7 * len(items) <= room or _size(items) <= room:
        return items
    keep = 0
    for item in items:
        room -= _size(item) + 1
        if room < 0:
            break
        keep += 1
    budget.note(f"{what}: {len(items) - keep} items left out, the column reached {COLUMN_BYTES} bytes")
    return items[:keep]


def outlier_fields(raw: Mapping[str, Any], redactor: Redactor,
                   budget: Budget | None = None) -> dict[str, str | None]:
    """The outlier row's text columns from the raw values copied from a request (see the module contract).

    *raw* may hold "url", "method", "query", "form", "json", "headers", "environ"; the budget is spent in
    that order of usefulness, so the environment is the first to go.
    """
    b = budget if budget is not None else Budget()
    s, total = _prepared(raw.get("url"), b.value_limit)
    url = b.take("url", redactor.text(s, total is not None), total)
    method = b.take("method", redactor.text(safe_str(raw.get("method"))[:64]), limit=16)
    headers = _items("headers", raw.get("headers"), redactor, b)
    query = _items("query", raw.get("query"), redactor, b)
    form = _items("form", raw.get("form"), redactor, b)
    body = raw.get("json")
    if body is not None:
        notes: list[str] = []
        red = redactor.json(body, notes, chars=b.value_limit + SLACK)
        for n in notes:
            b.note(n)
        text = _dumps(red)
        taken = b.take("json", text)
        body = red if taken == text else taken  # cut: the shortened serialisation, as a string
    env = raw.get("environ") or {}
    try:
        env_items = sorted(env.items(), key=lambda kv: safe_str(kv[0]))
    except Exception as e:
        b.note(f"environment: unreadable ({type(e).__name__})")
        env_items = []
    environment = _items("environment", env_items, redactor, b)

    room = COLUMN_BYTES - 64  # the JSON punctuation around the parts; query, then form, then the body
    query = _fit(query, "query", room, b)
    form = _fit(form, "form", room - _size(query), b)
    if body is not None and _size(query) + _size(form) + _size(body) > room:
        b.note(f"json: left out, the column reached {COLUMN_BYTES} bytes")
        body = ""
    headers = _fit(headers, "headers", room, b)
    environment = _fit(environment, "environment", room, b)
    cut = b.cut
    return {
        "url": url,
        "method": method,
        "request_values": _dumps({"query": query, "form": form, "json": body}),
        "request_headers": _dumps(headers),
        "request_environment": _dumps(dict(environment)),
        "cut": _dumps(cut) if cut else None,
    }
