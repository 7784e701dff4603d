"""The writer's pure decisions, without a database: which errors are passing, what Health may show."""

from __future__ import annotations

import pytest

from fmd.instrument.batches import is_lock_conflict, is_passing, short_error
from fmd.instrument.handoff import Handoff


class _Orig(Exception):
    def __init__(self, *args, sqlstate=None, pgcode=None) -> None:  # noqa: ANN001, ANN002
        super().__init__(*args)
        self.sqlstate = sqlstate
        self.pgcode = pgcode


class _Wrapped(Exception):
    def __init__(self, orig: BaseException) -> None:
        super().__init__(str(orig))
        self.orig = orig


@pytest.mark.parametrize(("orig", "conflict"), [
    (_Orig("deadlock detected", sqlstate="40P01"), True),  # psycopg 3
    (_Orig("could not serialize access", sqlstate="40001"), True),
    (_Orig("deadlock detected", pgcode="40P01"), True),  # psycopg2
    (_Orig("could not serialize access", pgcode="40001"), True),
    (_Orig(1213, "Deadlock found when trying to get lock"), True),  # PyMySQL
    (_Orig(1205, "Lock wait timeout exceeded"), True),
    (_Orig(1062, "Duplicate entry"), False),
    (_Orig("syntax error", sqlstate="42601"), False),
    (_Orig(), False),
])
def test_lock_conflicts_by_driver_code(orig: _Orig, conflict: bool) -> None:
    assert is_lock_conflict(_Wrapped(orig)) is conflict
    assert is_lock_conflict(orig) is False  # only a wrapped driver error carries the code in .orig


def test_passing_and_data_errors() -> None:
    from sqlalchemy import exc

    from fmd.options import ConfigError
    from fmd.store.schema import SchemaError

    def wrapped(kind: type) -> Exception:
        return kind("INSERT ...", {}, Exception("x"))

    for passing in (wrapped(exc.OperationalError), wrapped(exc.InterfaceError), wrapped(exc.ProgrammingError),
                    exc.TimeoutError(), ConnectionRefusedError(), SchemaError("x"), ConfigError("x")):
        assert is_passing(passing), passing
    for data in (wrapped(exc.DataError), wrapped(exc.IntegrityError), UnicodeEncodeError("utf-8", "\udc80", 0, 1, "x"),
                 ValueError("x"), KeyError("x"), TypeError("x")):
        assert not is_passing(data), data
    invalidated = wrapped(exc.DataError)
    invalidated.connection_invalidated = True
    assert is_passing(invalidated)


def test_short_error_blanks_quoted_values_and_keeps_one_line() -> None:
    orig = _Orig("Incorrect string value: '\\xF0\\x9F' for column `s` at row 1\nDETAIL: Key (s)=(secret)")
    shown = short_error(_Wrapped(orig))
    assert shown == "_Orig: Incorrect string value: '…' for column `s` at row 1"
    assert short_error(ValueError("bad 'secret' and 'other'")) == "ValueError: bad '…' and '…'"
    assert short_error(ValueError("")) == "ValueError: "
    assert short_error(UnicodeEncodeError("utf-8", "x\udc80", 1, 2, "surrogates not allowed")) == \
        "UnicodeEncodeError: '…' codec can't encode character '…' in position 1: surrogates not allowed"
    assert len(short_error(ValueError("x" * 1000))) == 300


def test_a_touch_keeps_the_latest_time() -> None:
    handoff = Handoff(10)
    handoff.touch("a", 5.0)
    handoff.touch("a", 3.0)  # an older request finishing later
    handoff.touch("b", 1.0)
    assert handoff.has_touches
    records, touched = handoff.take(10)
    assert records == [] and touched == {"a": 5.0, "b": 1.0} and not handoff.has_touches
    assert handoff.take(10) == ([], {})


def test_held_records_count_against_the_capacity() -> None:
    handoff = Handoff(3)
    for n in range(3):
        handoff.put((n,))
    records, _ = handoff.take(2)
    assert records == [(0,), (1,)] and handoff.counts() == (3, 0, 1, 2)
    handoff.put((3,))  # 1 queued + 2 held = 3: full
    assert handoff.counts() == (4, 1, 1, 2)
    handoff.release(2)
    handoff.put((4,))
    handoff.put((5,))
    assert handoff.counts() == (6, 1, 3, 0) and handoff.take(5)[0] == [(2,), (4,), (5,)]
