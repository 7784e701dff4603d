"""Redaction and size caps for level-2 outliers (fmd.instrument.redact): pure functions, no app, no database."""

from __future__ import annotations

import json

import pytest

from fmd.instrument.redact import (ALWAYS_HEADERS, COLUMN_BYTES, DEFAULT_KEYS, KEY_LIMIT, MAX_NOTES,
                                   RECORD_LIMIT, REDACTED, VALUE_LIMIT, Budget, Redactor, outlier_fields)

COLUMNS = ("request_values", "request_headers", "request_environment")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _stored(raw: dict, redactor: Redactor | None = None, budget: Budget | None = None) -> tuple[dict, str]:
    """The fields, with every JSON column parsed back (they must be valid JSON), and all of it as one text."""
    fields = outlier_fields(raw, redactor or Redactor(), budget)
    for name in COLUMNS:
        json.loads(fields[name])
    if fields["cut"] is not None:
        assert isinstance(json.loads(fields["cut"]), list)
    return fields, json.dumps(fields, ensure_ascii=False)


@pytest.mark.parametrize("fragment", DEFAULT_KEYS)
def test_every_default_key_is_redacted_everywhere(fragment: str) -> None:
    name = f"x_{fragment}_1"
    marker = f"s3cr3tmarker-{fragment}"
    raw = {
        "url": "/p", "method": "GET",
        "headers": [(name.replace("_", "-"), marker)],
        "query": [(name, marker)],
        "form": [(name.upper(), marker)],
        "json": {"outer": [{"inner": {name: marker, "ok": "kept"}}], name: {"nested": marker}},
        "environ": {f"HTTP_{name.upper()}": marker},
    }
    fields, text = _stored(raw)
    assert marker not in text
    values = json.loads(fields["request_values"])
    assert values["query"] == [[name, REDACTED]] and values["form"] == [[name.upper(), REDACTED]]
    assert values["json"]["outer"][0]["inner"] == {name: REDACTED, "ok": "kept"}
    assert values["json"][name] == REDACTED
    assert json.loads(fields["request_headers"]) == [[name.replace("_", "-"), REDACTED]]
    assert json.loads(fields["request_environment"]) == {f"HTTP_{name.upper()}": REDACTED}
    assert fields["cut"] is None


@pytest.mark.parametrize("header", ALWAYS_HEADERS)
def test_credential_headers_are_always_redacted(header: str) -> None:
    fields, text = _stored({"headers": [(header, "Bearer s3cr3tmarker"), ("Accept", "text/html")],
                            "environ": {header: "s3cr3tmarker"}})
    assert "s3cr3tmarker" not in text
    assert json.loads(fields["request_headers"]) == [[header, REDACTED], ["Accept", "text/html"]]
    # even with the fragments a host could never remove, the header names themselves are secret
    assert Redactor().is_secret(header.lower()) and Redactor().is_secret(header.upper())


@pytest.mark.parametrize(("key", "secret"), [
    ("monkey", False), ("keyboard", False), ("turkey", False), ("Monkey-Business", False), ("donkeys", False),
    ("User-Agent", False), ("Accept", False), ("q", False), ("page", False), ("PATH_INFO", False),
    ("SECRET_KEY", True), ("X-Api-Key", True), ("aws_access_key_id", True), ("KEY", True), ("key", True),
    ("apiKey", True), ("APIKey", True), ("ssh keys", True), ("X-CSRFToken", True), ("sessionid", True),
    ("DB_PASSWD", True), ("user[password]", True), ("Private-Token", True), ("X-Hub-Signature-256", True),
    ("x-amz-credential", True), ("HTTP_X_AUTH_TOKEN", True), ("passphrase", True), ("JWT", True),
])
def test_key_matching(key: str, secret: bool) -> None:
    assert Redactor().is_secret(key) is secret


def test_non_secret_keys_keep_their_values() -> None:
    fields, _ = _stored({"query": [("monkey", "banana"), ("keyboard", "qwerty"), ("turkey", "roast")]})
    assert json.loads(fields["request_values"])["query"] == [
        ["monkey", "banana"], ["keyboard", "qwerty"], ["turkey", "roast"]]


def test_extra_keys_extend_the_defaults() -> None:
    r = Redactor(extra=["ssn", "Card-Number"])
    assert r.is_secret("patient_SSN") and r.is_secret("cardnumber") and r.is_secret("X_CARD_NUMBER")
    assert r.is_secret("password") and not Redactor().is_secret("patient_ssn")
    assert Redactor("ssn, pin").is_secret("PIN") and not Redactor("ssn").is_secret("name")
    fields, text = _stored({"form": [("ssn", "123-45-6789")], "json": {"a": {"Card_Number": "9"}}}, r)
    assert "123-45-6789" not in text
    assert json.loads(fields["request_values"])["json"] == {"a": {"Card_Number": REDACTED}}


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://user:s3cr3t@db/x", f"postgresql://user:{REDACTED}@db/x"),
    ("redis://:s3cr3t@cache:6379/0", f"redis://:{REDACTED}@cache:6379/0"),
    ("mysql+pymysql://root:p@ss:w0rd@127.0.0.1:3306/t", f"mysql+pymysql://root:{REDACTED}@127.0.0.1:3306/t"),
    ("https://ghp_0123456789abcdefghijklmnopqrstuvwxyz@github.com/o/r", f"https://{REDACTED}@github.com/o/r"),
    ("ssh://git@github.com/o/r", "ssh://git@github.com/o/r"),  # a short user name is a name
    ("https://example.com/a?page=2&token=s3cr3t#top", f"https://example.com/a?page=2&token={REDACTED}#top"),
    ("/search?q=shoes&api_key=s3cr3t&sort=asc", f"/search?q=shoes&api_key={REDACTED}&sort=asc"),
    ("/cb?X-Amz-Signature=s3cr3t", f"/cb?X-Amz-Signature={REDACTED}"),
    ("/cb?api%5Fkey=s3cr3t", f"/cb?api%5Fkey={REDACTED}"),
    ("https://example.com/?monkey=banana&key=s3cr3t", f"https://example.com/?monkey=banana&key={REDACTED}"),
    ("https://example.com/plain/path", "https://example.com/plain/path"),
])
def test_urls(given: str, expected: str) -> None:
    r = Redactor()
    assert r.url(given) == expected
    assert r.text(f"failed to reach {given} (timeout)") == f"failed to reach {expected} (timeout)"


@pytest.mark.parametrize(("given", "expected"), [
    ("connect failed: password=s3cr3t host=db", f"connect failed: password={REDACTED} host=db"),
    ('{"user": "bob", "token": "s3cr3t"}', f'{{"user": "bob", "token": "{REDACTED}"}}'),
    ("secret: s3cr3t", f"secret: {REDACTED}"),
    ("Authorization: Bearer s3cr3t.s3cr3t.s3cr3t", f"Authorization: {REDACTED}"),
    ("sent Bearer s3cr3ts3cr3t upstream", f"sent Bearer {REDACTED} upstream"),
    ("Basic dXNlcjpzM2NyM3Q=", f"Basic {REDACTED}"),
    ("basic authentication failed", "basic authentication failed"),
    ("Cookie: session=s3cr3t; theme=dark", f"Cookie: {REDACTED}"),
    ("ratio: 3, key count=4", "ratio: 3, key count=4"),
    ("a\x00b\udc80c", "ab?c"),  # storable: PostgreSQL refuses NUL, no UTF-8 encoder takes a lone surrogate
])
def test_free_text(given: str, expected: str) -> None:
    assert Redactor().text(given) == expected


def test_text_is_idempotent() -> None:
    r = Redactor()
    once = r.text("x://u:s3cr3t@h/?token=s3cr3t password=s3cr3t 4111 1111 1111 1111")
    assert "s3cr3t" not in once and "4111" not in once and r.text(once) == once


def test_environment_urls_with_credentials() -> None:
    fields, text = _stored({"environ": {"DATABASE_URL": "postgresql://app:s3cr3t@db:5432/x",
                                        "PATH_INFO": "/a", "QUERY_STRING": "token=s3cr3t&q=1",
                                        "HTTP_REFERER": "https://x.org/?session=s3cr3t", "wsgi.version": (1, 0)}})
    assert "s3cr3t" not in text
    env = json.loads(fields["request_environment"])
    assert env == {"DATABASE_URL": f"postgresql://app:{REDACTED}@db:5432/x",
                   "HTTP_REFERER": f"https://x.org/?session={REDACTED}", "PATH_INFO": "/a",
                   "QUERY_STRING": f"token={REDACTED}&q=1", "wsgi.version": "(1, 0)"}
    assert list(env) == sorted(env)


def test_the_url_column() -> None:
    fields, _ = _stored({"url": "https://bob:s3cr3t@example.com/a?b=1&password=s3cr3t", "method": "POST"})
    assert fields["url"] == f"https://bob:{REDACTED}@example.com/a?b=1&password={REDACTED}"
    assert fields["method"] == "POST" and fields["cut"] is None


def test_card_numbers() -> None:
    visa, other = "4111111111111111", "4111111111111112"
    assert _luhn_ok(visa) and not _luhn_ok(other)
    stamp = "1700000000000"  # epoch milliseconds, 13 digits
    assert not _luhn_ok(stamp)
    r = Redactor()
    assert r.text(f"paid with {visa}.") == f"paid with {REDACTED}."
    assert r.text("paid with 4111 1111 1111 1111 today") == f"paid with {REDACTED} today"
    assert r.text("amex 3782-822463-10005") == f"amex {REDACTED}"
    assert r.text(f"ref {other}") == f"ref {other}"
    assert r.text(f"at {stamp} ms") == f"at {stamp} ms"
    assert r.text("a 25-digit id 1234567890123456789012345") == "a 25-digit id 1234567890123456789012345"
    fields, text = _stored({"query": [("note", f"card {visa}")], "json": {"n": int(visa), "m": int(other)}})
    assert visa not in text
    values = json.loads(fields["request_values"])
    assert values["query"] == [["note", f"card {REDACTED}"]] and values["json"] == {"n": REDACTED, "m": int(other)}


def test_a_long_value_is_cut_with_a_note_naming_field_and_key() -> None:
    fields, text = _stored({"headers": [("User-Agent", "u" * 9000)], "query": [("q", "w" * 5000)]})
    agent = json.loads(fields["request_headers"])[0][1]
    assert len(agent) == VALUE_LIMIT and agent.endswith("…")
    cut = json.loads(fields["cut"])
    assert cut == [f"headers.User-Agent: {VALUE_LIMIT - 1} of 9000 characters kept",
                   f"query.q: {VALUE_LIMIT - 1} of 5000 characters kept"]


def test_a_secret_near_the_cut_is_still_redacted() -> None:
    # redaction reads past the cut: the DSN straddling it is recognised by its "@" beyond the limit
    near = "x" * (VALUE_LIMIT - 20) + " postgresql://app:s3cr3tpassword@db/x " + "y" * 50000
    # a password longer than redaction reads past the cut: its "@" is never seen, the tail is redacted anyway
    long = "x" * (VALUE_LIMIT - 30) + " postgresql://u:" + "s3cr3t" * 300 + "@db/x " + "y" * 50000
    fields, text = _stored({"form": [("near", near), ("long", long)]})
    assert "s3cr3t" not in text and "yyy" not in text
    form = json.loads(fields["request_values"])["form"]
    assert form[0][1].endswith(" postgresql://app:[…") and form[1][1].endswith(f" postgresql://u:{REDACTED}…")
    assert json.loads(fields["cut"]) == [f"form.near: {VALUE_LIMIT - 1} of {len(near)} characters kept",
                                         f"form.long: {VALUE_LIMIT - 4} of {len(long)} characters kept"]


def test_the_record_is_cut_at_its_limit_environment_first() -> None:
    raw = {"headers": [(f"X-H{i}", "h" * 3000) for i in range(10)],
           "environ": {f"VAR_{i:02}": "e" * 3000 for i in range(40)}}
    fields, _ = _stored(raw)
    headers, env = json.loads(fields["request_headers"]), json.loads(fields["request_environment"])
    assert all(v == "h" * 3000 for _, v in headers)  # headers come before the environment
    kept = sum(len(k) + len(v) for k, v in [*headers, *env.items()] if v)
    assert RECORD_LIMIT - 10 <= kept <= RECORD_LIMIT
    cut = json.loads(fields["cut"])
    assert any(n.startswith("environment.VAR_") and "the record reached 65536 characters" in n and "kept" in n
               for n in cut)
    assert "environment.VAR_39: dropped, the record reached 65536 characters" in cut
    assert env["VAR_39"] == "" and len(cut) <= MAX_NOTES + 1


def test_notes_are_bounded() -> None:
    b = Budget(value_limit=2, record_limit=10**9)
    for i in range(MAX_NOTES + 7):
        b.take(f"query.k{i}", "abc")
    assert len(b.cut) == MAX_NOTES + 1 and b.cut[-1] == "… and 7 more cuts"


def test_budget_take() -> None:
    b = Budget(value_limit=10, record_limit=25)
    assert b.take("a", "short") == "short" and b.cut == []
    assert b.take("b", "x" * 30) == "x" * 9 + "…"
    assert b.take("c", "y" * 30) == "y" * 9 + "…"
    assert b.take("d", "z") == "" and b.take("e", "") == ""
    assert b.cut == ["b: 9 of 30 characters kept", "c: 9 of 30 characters kept",
                     "d: dropped, the record reached 25 characters"]
    b = Budget(value_limit=10, record_limit=15)
    assert b.take("a", "x" * 8) == "x" * 8 and b.take("b", "y" * 30) == "y" * 6 + "…"
    assert b.cut == ["b: 6 of 30 characters kept, the record reached 15 characters"]
    assert Budget().take("m", "PROPFINDXXXXXXXXXXXXXXX", limit=16) == "PROPFINDXXXXXXX…"


def test_long_keys_and_many_items_are_capped() -> None:
    fields, _ = _stored({"method": "X" * 40, "query": [("k" * 1000, "v")] + [(f"p{i}", "1") for i in range(900)]})
    query = json.loads(fields["request_values"])["query"]
    assert len(query[0][0]) == KEY_LIMIT and len(query) == 500 and len(fields["method"]) <= 16
    cut = json.loads(fields["cut"])
    assert "query: a key of 1000 characters cut to 256" in cut and "query: items past the first 500 left out" in cut


def test_the_json_body_is_capped_as_text() -> None:
    fields, text = _stored({"json": {"items": ["z" * 100] * 100, "password": "s3cr3t"}})
    body = json.loads(fields["request_values"])["json"]
    assert isinstance(body, str) and len(body) == VALUE_LIMIT and body.endswith("…") and "s3cr3t" not in text
    cut = json.loads(fields["cut"])
    assert "json: strings past the value limit left out" in cut
    assert any(n.startswith(f"json: {VALUE_LIMIT - 1} of ") for n in cut)


def test_unprintable_values() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise RuntimeError("no")

        __repr__ = __str__

    fields, _ = _stored({"url": Hostile(), "method": Hostile(), "query": [("a", Hostile()), (Hostile(), "b")],
                         "headers": [("X", b"bytes\xff")], "json": {"h": Hostile()}, "environ": {"E": Hostile()}})
    values = json.loads(fields["request_values"])
    assert fields["url"] == "<unprintable>" and values["query"] == [["a", "<unprintable>"], ["<unprintable>", "b"]]
    assert values["json"] == {"h": "<unprintable>"}
    assert json.loads(fields["request_headers"]) == [["X", "bytes\ufffd"]]
    assert json.loads(fields["request_environment"]) == {"E": "<unprintable>"}


def test_a_broken_multidict_keeps_what_was_read() -> None:
    def items():
        yield ("a", "1")
        raise OSError("gone")

    fields, _ = _stored({"form": items()})
    assert json.loads(fields["request_values"])["form"] == [["a", "1"]]
    assert json.loads(fields["cut"]) == ["form: unreadable after 1 items (OSError)"]


def test_deep_wide_and_self_referencing_bodies() -> None:
    deep: list = []
    node = deep
    for _ in range(1000):
        node.append([])
        node = node[0]
    loop: dict = {"a": 1}
    loop["self"] = loop
    loop["again"] = loop
    r = Redactor()
    for body in (deep, loop, {"n": [float("nan"), float("inf"), 10**5000, True, None, 1.5]}, list(range(5000))):
        notes: list[str] = []
        json.dumps(r.json(body, notes), allow_nan=False)
        _stored({"json": body})
    notes = []
    out = r.json(deep, notes)
    assert notes == ["json: nested deeper than 20 levels, cut"]
    assert json.dumps(out) == "[" * 20 + '"[nested too deep]"' + "]" * 20
    assert r.json({"n": [float("nan"), 10**5000, 7]})["n"][0] == "nan"
    wide = r.json(list(range(5000)))
    assert len(wide) == 1001 and wide[-1] == "… 4000 more items"


def test_multibyte_text_keeps_each_column_under_mysql_text() -> None:
    raw = {"environ": {f"V{i:03}": "😀" * 900 for i in range(200)},
           "headers": [(f"X-{i}", "😀" * 4000) for i in range(40)]}
    fields, _ = _stored(raw, budget=Budget(record_limit=10**6))
    for name in COLUMNS:
        assert len(fields[name].encode()) <= COLUMN_BYTES
    cut = json.loads(fields["cut"])
    assert any(n.startswith("headers: ") and n.endswith(f"the column reached {COLUMN_BYTES} bytes") for n in cut)


def test_missing_keys_and_empty_record() -> None:
    fields = outlier_fields({}, Redactor())
    assert fields == {"url": "", "method": "", "request_values": '{"query":[],"form":[],"json":null}',
                      "request_headers": "[]", "request_environment": "{}", "cut": None}


def test_pairs_mapping_and_value() -> None:
    r = Redactor()
    assert r.pairs([("a", 1), ("Cookie", "c=1"), ("a", "https://u:p@h/")]) == [
        ["a", "1"], ["Cookie", REDACTED], ["a", f"https://u:{REDACTED}@h/"]]
    assert r.mapping({"SECRET_KEY": "x", "HOME": "/root"}) == {"SECRET_KEY": REDACTED, "HOME": "/root"}
    assert r.value("api_key", "x") == REDACTED and r.value("q", "x") == "x"


def test_the_key_cache_is_bounded() -> None:
    r = Redactor()
    for i in range(10000):
        r.is_secret(f"header-{i}")
    assert len(r._cache) <= 4096
    assert r.is_secret("x" * 100000 + "_token") and len(r._cache) <= 4096
