"""The login throttle holds the README's literal numbers: 5 failures a minute per address and user name,
20 per address, then 429.

These tests never read ``fmd.auth.throttle``'s own constants: a product that raised its limits (or widened
its window) together with the tests that read them would pass unnoticed. The README sentence is checked too,
so the numbers here and the documented ones cannot drift apart.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard_helpers import dashboard, login
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.auth import throttle
from fmd.store.writes import utcnow

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
#: The README's promise, literally.
PER_NAME, PER_IP, WINDOW_S = 5, 20, 60


@pytest.fixture
def app(make_app, sqlite_url):  # noqa: ANN001, ANN201
    return dashboard(make_app, sqlite_url)


def test_the_readme_states_these_numbers() -> None:
    assert re.search(r"throttled across all workers and hosts \(5 a minute per IP and user name, 20 per IP, "
                     r"then 429\)", README)


def test_the_sixth_failure_within_a_minute_is_refused(app) -> None:  # noqa: ANN001
    client = app.test_client()
    for _ in range(PER_NAME):
        assert login(client, "admin", "wrong", REMOTE_ADDR="10.9.0.1").status_code == 200
    resp = login(client, "admin", "admin", REMOTE_ADDR="10.9.0.1")
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= WINDOW_S + 1


def test_four_failures_do_not_lock_out(app) -> None:  # noqa: ANN001
    client = app.test_client()
    for _ in range(PER_NAME - 1):
        assert login(client, "admin", "wrong", REMOTE_ADDR="10.9.0.2").status_code == 200
    assert login(client, "admin", "admin", REMOTE_ADDR="10.9.0.2").status_code == 302


def test_twenty_failures_from_one_address_lock_it_out_for_every_name(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for i in range(PER_IP):
        throttle.record_failure(store, "10.9.1.1", f"sprayed{i}")  # each name below the per-name limit
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.9.1.1").status_code == 429
    assert throttle.retry_after(store, "10.9.1.1", "admin") > 0


def test_nineteen_failures_from_one_address_do_not(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for i in range(PER_IP - 1):
        throttle.record_failure(store, "10.9.1.2", f"sprayed{i}")
    assert throttle.retry_after(store, "10.9.1.2", "admin") == 0
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.9.1.2").status_code == 302


def test_failures_count_for_one_minute(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = utcnow()
    # Five failures 55 s ago: still inside the minute, so the address and name wait...
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.2.1", "admin", now - timedelta(seconds=WINDOW_S - 5))
    assert 0 < throttle.retry_after(store, "10.9.2.1", "admin", now) <= 6
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.9.2.1").status_code == 429
    # ...and 65 s ago they no longer count: the window is one minute, not longer.
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.2.2", "admin", now - timedelta(seconds=WINDOW_S + 5))
    assert throttle.retry_after(store, "10.9.2.2", "admin", now) == 0
    assert throttle.failures(store, "10.9.2.2", "admin", now) == 0
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.9.2.2").status_code == 302


def test_spraying_older_than_a_minute_is_forgotten(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    then = utcnow() - timedelta(seconds=WINDOW_S + 5)
    for i in range(PER_IP):
        throttle.record_failure(store, "10.9.3.1", f"old{i}", then)
    assert login(app.test_client(), "admin", "admin", REMOTE_ADDR="10.9.3.1").status_code == 302


# ---------------------------------------------------------------- the window's edges and the wait, to the second

def rows(store) -> int:  # noqa: ANN001
    with store.read() as conn:
        return len(conn.execute(store.tables.login_attempt.select()).all())


def test_retry_after_counts_from_the_oldest_of_the_last_five(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0)
    for ago in (50, 40, 30, 20, 10, 0):  # six failures; the last five began 40 s ago
        throttle.record_failure(store, "10.9.4.1", "admin", now - timedelta(seconds=ago))
    # Allowed again when the failure of 40 s ago leaves the minute, 20 s from now (the wait says one more second).
    assert throttle.retry_after(store, "10.9.4.1", "admin", now) == 21
    assert throttle.retry_after(store, "10.9.4.1", "admin", now + timedelta(seconds=19.5)) == 1
    assert throttle.retry_after(store, "10.9.4.1", "admin", now + timedelta(seconds=20)) == 0


def test_a_failure_exactly_one_minute_old_no_longer_counts(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0)
    edge = now - timedelta(seconds=WINDOW_S)
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.5.1", "admin", edge)
        throttle.record_failure(store, "10.9.5.2", "admin", edge - timedelta(milliseconds=500))
    for ip in ("10.9.5.1", "10.9.5.2"):
        assert throttle.retry_after(store, ip, "admin", now) == 0, ip
        assert throttle.failures(store, ip, "admin", now) == 0, ip
    ids, wait = throttle.admit(store, "10.9.5.1", "admin", now)
    assert wait == 0 and len(ids) == 2  # evaluated: the five at the edge are outside the window


def test_pruning_keeps_failures_still_inside_the_window(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0)
    throttle.record_failure(store, "10.9.6.1", "early", now - timedelta(seconds=WINDOW_S))
    throttle.record_failure(store, "10.9.6.2", "later", now)  # prunes rows older than the window, not equal
    assert rows(store) == 4
    throttle.failed(store, now)
    assert rows(store) == 4
    throttle.failed(store, now + timedelta(seconds=1))
    assert rows(store) == 2


def test_a_success_or_a_refusal_forgets_only_its_own_rows(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for _ in range(3):
        throttle.record_failure(store, "10.9.7.1", "bob")
    ids, wait = throttle.admit(store, "10.9.7.2", "admin")
    assert wait == 0
    throttle.record_success(store, "10.9.7.2", "admin", ids)
    assert throttle.failures(store, "10.9.7.1", "bob") == 3 and rows(store) == 6
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.7.3", "carol")
    for _ in range(2):  # refused twice: hammering neither clears the failures nor adds to them
        assert throttle.admit(store, "10.9.7.3", "carol")[1] > 0
        assert throttle.failures(store, "10.9.7.3", "carol") == PER_NAME
    assert throttle.failures(store, "10.9.7.1", "bob") == 3


def test_names_that_cannot_be_encoded_are_counted_too(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.8.1", "\ud800bad")  # a lone surrogate: no UTF-8 text, still a key
    assert throttle.failures(store, "10.9.8.1", "\ud800bad") == PER_NAME
    assert throttle.retry_after(store, "10.9.8.1", "\ud800bad") > 0
    assert throttle.retry_after(store, "10.9.8.1", "\udc00bad") == 0  # another name is another key


def test_a_refused_attempt_is_told_the_exact_wait_at_its_own_time(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    then = utcnow().replace(microsecond=0) - timedelta(hours=1)  # an attempt judged at a time of its own
    for _ in range(PER_NAME):
        throttle.record_failure(store, "10.9.9.1", "admin", then - timedelta(seconds=59.5))
        throttle.record_failure(store, "10.9.9.2", "admin", then - timedelta(seconds=30))
    assert throttle.admit(store, "10.9.9.1", "admin", then) == ([], 1)  # half a second left: one second
    assert throttle.admit(store, "10.9.9.2", "admin", then) == ([], 31)


def test_each_failure_prunes_failures_older_than_the_window(app) -> None:  # noqa: ANN001
    store = app.extensions["fmd"].store
    now = utcnow().replace(microsecond=0)
    throttle.record_failure(store, "10.9.10.1", "old", now - timedelta(hours=2))
    assert rows(store) == 2
    throttle.record_failure(store, "10.9.10.2", "recent", now - timedelta(seconds=30))  # the old pair goes
    assert rows(store) == 2
    throttle.record_failure(store, "10.9.10.3", "new", now)  # the recent pair is still inside the window
    assert rows(store) == 4
    assert throttle.failures(store, "10.9.10.2", "recent", now) == 1
