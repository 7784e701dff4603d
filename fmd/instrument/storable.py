"""Make text storable in every database fmd writes to: applied in the writer thread, never on a request.

A group_by value, an IP taken from X-Forwarded-For or an endpoint name is attacker-influenced text. Three kinds
of character make a database refuse a whole batch (issue: one hostile request used to stall recording for good):

- NUL (``\\x00``): PostgreSQL text cannot hold it ("cannot contain NUL (0x00) bytes"). Removed.
- lone surrogates (``\\udc80``, e.g. from a JSON ``"\\udc80"`` or a ``surrogateescape``d header): no UTF-8
  encoder accepts them (SQLite, psycopg and PyMySQL all raise UnicodeEncodeError). Each becomes ``?``.
- text longer than its column: PostgreSQL and MySQL refuse it. Cut to the column's width, in characters.

Characters outside the BMP (emoji) are kept: fmd's MySQL/MariaDB tables declare utf8mb4 explicitly.
"""

from __future__ import annotations

from typing import Any


def storable(value: Any, limit: int) -> str:
    """*value* as text every supported database stores, at most *limit* characters."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    if "\x00" in value:
        value = value.replace("\x00", "")
    if len(value) > limit:
        value = value[:limit]
    if not value.isascii():  # the common case (ASCII) skips the encode
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def storable_record(record: tuple, name_len: int, group_len: int, ip_len: int) -> tuple:
    """A request record ``(endpoint, duration, started, status, group_by, ip[, attachments])`` with storable
    text (the attachments, level-2 objects, pass through: fmd.instrument.prepare makes those storable)."""
    endpoint, duration, started, status, group_by, ip, *rest = record
    if len(rest) > 1:
        raise ValueError("not a record")
    clean = (None if endpoint is None else storable(endpoint, name_len), float(duration), float(started),
             int(status), storable(group_by, group_len), storable(ip, ip_len))
    return clean + (tuple(rest[0]),) if rest else clean


def all_plain(records: list, name_len: int, group_len: int, ip_len: int) -> bool:
    """True when every record's text is ASCII without NUL and within its column: nothing to clean.

    One pass over the batch in C-level operations (joins and ``max`` over lengths), so a clean batch of
    thousands of records costs a fraction of a microsecond per record; any doubt means per-record cleaning.
    """
    if not records:
        return True
    try:
        names = [r[0] or "" for r in records]
        groups = [r[4] for r in records]
        ips = [r[5] for r in records]
        text = "".join(names) + "".join(groups) + "".join(ips)
    except TypeError:  # a value that is not text
        return False
    return (text.isascii() and "\x00" not in text and max(map(len, names)) <= name_len
            and max(map(len, groups)) <= group_len and max(map(len, ips)) <= ip_len
            and all(len(r) == 6 for r in records))
