"""One tick, one run: claims in the store decide which process runs a tick; failures and overruns are counted,
stored and shown, and never stop the scheduler. ``fire`` is driven with explicit times (no waiting)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from fmd.graphs.registry import make_graph
from fmd.graphs.runner import GraphRunner
from fmd.instrument.guard import ErrorLog
from fmd.store import custom_graphs as cg
from fmd.store.engine import Store

UTC = timezone.utc
TICK = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


def runner_with(store: Store, title: str, func, **schedule) -> GraphRunner:  # noqa: ANN001
    runner = GraphRunner(store, ErrorLog())
    runner.add(make_graph(title, func, "interval", schedule or {"seconds": 1}))
    return runner


def ticks(store: Store, title: str) -> list[dict]:
    t = store.tables
    g, v = t.custom_graph, t.custom_graph_value
    with store.read() as conn:
        rows = conn.execute(select(v).join(g, g.c.id == v.c.graph_id).where(g.c.title == title).order_by(v.c.tick))
        return [dict(r._mapping) for r in rows]


def summary(store: Store, title: str) -> dict:
    g = store.tables.custom_graph
    with store.read() as conn:
        return dict(conn.execute(select(g).where(g.c.title == title)).one()._mapping)


def test_of_many_processes_firing_on_one_tick_exactly_one_runs_it(store: Store) -> None:
    calls: list[str] = []
    runners = [runner_with(store, "Queue", lambda i=i: calls.append(i) or 42.0) for i in range(5)]
    for second in range(3):
        tick = TICK + timedelta(seconds=second)
        barrier = threading.Barrier(len(runners))
        outcomes: list = []

        def fire(r: GraphRunner) -> None:
            barrier.wait()
            outcomes.append(r.fire("Queue", tick, now=tick + timedelta(milliseconds=5)))

        threads = [threading.Thread(target=fire, args=(r,)) for r in runners]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        assert sorted(outcomes, key=str) == [None, None, None, None, "ok"]
    assert len(calls) == 3
    rows = ticks(store, "Queue")
    assert [r["tick"] for r in rows] == [(TICK + timedelta(seconds=s)).replace(tzinfo=None) for s in range(3)]
    assert all(r["outcome"] == "ok" and r["value"] == 42.0 for r in rows)
    assert sum(r.counts["lost"] for r in runners) == 12
    s = summary(store, "Queue")
    assert (s["runs"], s["failures"], s["last_value"], s["schedule"]) == (3, 0, 42.0, "every second")


def test_a_function_that_raises_is_counted_and_shown_and_the_next_tick_runs(store: Store) -> None:
    state = {"n": 0}

    def flaky() -> float:
        state["n"] += 1
        if state["n"] % 2:
            raise ConnectionError("the queue <broker> is down")
        return state["n"]

    runner = runner_with(store, "Flaky", flaky)
    outcomes = [runner.fire("Flaky", TICK + timedelta(seconds=s), now=TICK + timedelta(seconds=s)) for s in range(4)]
    assert outcomes == ["error", "ok", "error", "ok"]
    rows = ticks(store, "Flaky")
    assert [r["value"] for r in rows] == [None, 2.0, None, 4.0]
    assert rows[0]["error"].startswith("ConnectionError: the queue <broker> is down (in flaky, test_runner.py:")
    s = summary(store, "Flaky")
    assert (s["runs"], s["failures"], s["last_value"]) == (2, 2, 4.0)
    assert s["last_error_at"] == (TICK + timedelta(seconds=2)).replace(tzinfo=None)
    assert runner.counts["failures"] == 2 and runner.counts["runs"] == 2


@pytest.mark.parametrize("returned, message", [
    ("12", "returned str '12', not a number"),
    (None, "returned NoneType None, not a number"),
    (True, "returned a bool"),
    (float("nan"), "returned nan, not a finite number"),
    (float("inf"), "returned inf, not a finite number"),
    (10 ** 400, "not a finite number"),
])
def test_a_value_that_is_not_a_finite_number_is_a_failure(store: Store, returned, message) -> None:  # noqa: ANN001
    runner = runner_with(store, "Bad", lambda: returned)
    assert runner.fire("Bad", TICK, now=TICK) == "error"
    (row,) = ticks(store, "Bad")
    assert row["value"] is None and message in row["error"]


def test_numbers_of_other_types_are_stored_as_floats(store: Store) -> None:
    from decimal import Decimal

    values = iter([7, 2.5, Decimal("1.25")])
    runner = runner_with(store, "Numbers", lambda: next(values))
    for s in range(3):
        assert runner.fire("Numbers", TICK + timedelta(seconds=s), now=TICK + timedelta(seconds=s)) == "ok"
    assert [r["value"] for r in ticks(store, "Numbers")] == [7.0, 2.5, 1.25]


def test_a_tick_that_comes_while_the_previous_run_goes_on_is_skipped_not_run_twice(store: Store) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow() -> float:
        started.set()
        release.wait(30)
        return 1.0

    first = runner_with(store, "Slow", slow)
    other = runner_with(store, "Slow", slow)  # another process (or host) on the same database
    th = threading.Thread(target=first.fire, args=("Slow", TICK), kwargs={"now": TICK})
    th.start()
    assert started.wait(10)
    started.clear()
    # The next ticks: in this process (it knows its run goes on) and in another (it sees the unfinished claim).
    assert first.fire("Slow", TICK + timedelta(seconds=1), now=TICK + timedelta(seconds=1)) == "skipped"
    assert other.fire("Slow", TICK + timedelta(seconds=2), now=TICK + timedelta(seconds=2)) == "skipped"
    assert not started.is_set()  # the function was not called again
    release.set()
    th.join(10)
    assert other.fire("Slow", TICK + timedelta(seconds=3), now=TICK + timedelta(seconds=3)) == "ok"
    rows = ticks(store, "Slow")
    assert [r["outcome"] for r in rows] == ["ok", "skipped", "skipped", "ok"]
    assert "had not finished" in rows[1]["error"] and "every second" in rows[1]["error"]
    s = summary(store, "Slow")
    assert (s["runs"], s["failures"]) == (2, 2)
    assert "had not finished" in s["last_error"]


def test_a_run_left_unfinished_long_ago_no_longer_blocks_the_graph(store: Store) -> None:
    runner = runner_with(store, "Orphan", lambda: 3.0)
    t = store.tables
    with store.write() as conn:  # a process that claimed a tick and died
        graph_id = cg.register(conn, t, "Orphan", "every second")
        assert cg.claim(conn, t, graph_id, TICK.replace(tzinfo=None), "gone:1:x")
    late = TICK + cg.stale_after(1.0) + timedelta(seconds=1)
    assert runner.fire("Orphan", late, now=late) == "ok"


def test_a_tick_found_too_late_is_left_to_another_process(store: Store) -> None:
    calls = []
    runner = runner_with(store, "Late", lambda: calls.append(1) or 1.0, minutes=1)
    assert runner.fire("Late", TICK, now=TICK + timedelta(seconds=61)) is None
    assert runner.counts["missed"] == 1 and not calls and ticks(store, "Late") == []
    assert runner.fire("Late", TICK, now=TICK + timedelta(seconds=59)) == "ok"


def test_an_unknown_graph_or_a_database_error_never_raises(tmp_path) -> None:  # noqa: ANN001
    errors = ErrorLog()
    runner = GraphRunner(Store(f"sqlite:///{tmp_path / 'missing' / 'no.db'}", "x_"), errors)
    runner.add(make_graph("G", lambda: 1, "interval", {"seconds": 1}))
    assert runner.fire("Nope", TICK, now=TICK) is None
    assert runner.fire("G", TICK, now=TICK) is None
    assert errors.counts["graphs"] == 1


def test_the_scheduler_runs_on_the_grid_and_stops_without_leaving_threads(store: Store) -> None:
    runner = runner_with(store, "Live", lambda: 1.0, seconds=1)
    runner.add(make_graph("Broken", lambda: 1 / 0, "interval", {"seconds": 1}))
    assert not runner.running and not [t for t in threading.enumerate() if t.name.startswith("fmd-graph")]
    runner.start()
    runner.start()  # idempotent
    assert runner.running
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len([r for r in ticks(store, "Live") if r["outcome"] == "ok"]) < 2:
        time.sleep(0.1)
    runner.stop()
    assert not runner.running
    time.sleep(0.1)
    assert not [t for t in threading.enumerate() if t.name.startswith("fmd-graph")]
    live = ticks(store, "Live")
    assert len(live) >= 2
    assert all(r["tick"].microsecond == 0 for r in live)  # on the whole-second grid
    assert [r["outcome"] for r in ticks(store, "Broken")][:2] == ["error", "error"]  # and it went on


def test_an_app_without_graphs_starts_no_scheduler(store: Store) -> None:
    runner = GraphRunner(store, ErrorLog())
    runner.start()
    assert not runner.running


def test_an_exception_that_cannot_be_printed_still_ends_its_tick_as_an_error(store: Store) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    def weird() -> float:
        raise Unprintable()

    runner = runner_with(store, "Weird", weird)
    outcomes = [runner.fire("Weird", TICK + timedelta(seconds=s), now=TICK + timedelta(seconds=s)) for s in range(2)]
    assert outcomes == ["error", "error"]  # (not "running" forever, with the next ticks skipped)
    assert ticks(store, "Weird")[0]["error"].startswith("Unprintable: <unprintable message>")
