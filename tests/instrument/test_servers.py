"""Server detection (issue 8 item 3): what uWSGI's options and eventlet mean for fmd, warned once, shown on Health.

The ``uwsgi`` module exists only inside a uWSGI process; here a stand-in with the same two attributes fmd
reads (``opt``, ``has_threads``) plays it. Real uWSGI runs in tests/load/test_servers.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import types

import pytest

from dashboard_helpers import PREFIX, dashboard, logged_in
from dashboard_helpers import fast_password_hashes  # noqa: F401 (autouse fixture)
from fmd.instrument import servers


def fake_uwsgi(monkeypatch: pytest.MonkeyPatch, opt: dict, has_threads: bool | None = None) -> types.ModuleType:
    module = types.ModuleType("uwsgi")
    module.opt = opt
    if has_threads is not None:
        module.has_threads = has_threads
    monkeypatch.setitem(sys.modules, "uwsgi", module)
    return module


def test_outside_any_server_there_is_no_problem() -> None:
    assert "uwsgi" not in sys.modules and servers.problems() == []


@pytest.mark.parametrize(("opt", "has_threads", "threads_on"), [
    ({b"master": True}, False, False),  # what uWSGI itself decided wins
    ({b"master": True, b"enable-threads": True}, True, True),
    ({b"master": True}, None, False),  # an old uWSGI: threads off unless asked for
    ({b"enable-threads": b"true"}, None, True),
    ({b"threads": b"4"}, None, True),  # multithreaded workers switch Python threads on
    ({"enable-threads": "false"}, None, False),
])
def test_uwsgi_threads(monkeypatch, opt, has_threads, threads_on) -> None:  # noqa: ANN001
    fake_uwsgi(monkeypatch, opt, has_threads)
    assert (servers.NO_THREADS in servers.problems()) is not threads_on
    assert "--enable-threads" in servers.NO_THREADS


@pytest.mark.parametrize(("opt", "without_hooks"), [
    ({b"master": True}, True),
    ({b"master": True, b"lazy-apps": True}, False),
    ({b"lazy": True}, False),
    ({b"py-call-osafterfork": True}, False),
    ({b"lazy-apps": b"false"}, True),
])
def test_uwsgi_forks_without_hooks(monkeypatch, opt, without_hooks) -> None:  # noqa: ANN001
    assert servers.uwsgi_forks_without_hooks(fake_uwsgi(monkeypatch, opt, True)) is without_hooks


def test_post_fork_hook_is_registered_once_and_resets(monkeypatch) -> None:  # noqa: ANN001
    uwsgi = fake_uwsgi(monkeypatch, {b"master": True}, True)
    monkeypatch.setattr(servers, "_hooked_pid", 0)
    monkeypatch.setattr(servers, "_reset_pid", 0)
    monkeypatch.setitem(sys.modules, "uwsgidecorators", None)  # not importable: fmd chains uwsgi.post_fork_hook
    calls = []
    uwsgi.post_fork_hook = lambda: calls.append("host")
    assert servers.post_fork_hooks() is True and servers.post_fork_hooks() is True
    uwsgi.post_fork_hook()  # what uWSGI calls in each new worker
    assert calls == ["host"] and servers._reset_pid == os.getpid()  # the host's hook kept, fmd's ran once


def test_a_worker_whose_post_fork_hook_did_not_run_is_a_problem(monkeypatch) -> None:  # noqa: ANN001
    fake_uwsgi(monkeypatch, {b"master": True}, True)
    monkeypatch.setattr(servers, "_hooked_pid", os.getpid() + 1)  # registered in "the master"
    monkeypatch.setattr(servers, "_reset_pid", 0)
    assert servers.problems() == [servers.NO_FORK_HOOK]
    monkeypatch.setattr(servers, "_reset_pid", os.getpid())
    assert servers.problems() == []
    fake_uwsgi(monkeypatch, {b"master": True, b"lazy-apps": True}, True)
    monkeypatch.setattr(servers, "_reset_pid", 0)
    assert servers.problems() == []


def test_warn_once_per_problem(monkeypatch, caplog) -> None:  # noqa: ANN001
    fake_uwsgi(monkeypatch, {b"master": True}, False)
    monkeypatch.setattr(servers, "_warned", set())
    caplog.set_level(logging.WARNING, "fmd")
    assert servers.warn_once() == [servers.NO_THREADS]
    assert servers.warn_once() == [servers.NO_THREADS]
    assert [r.getMessage() for r in caplog.records].count("fmd: " + servers.NO_THREADS) == 1


def test_eventlet_is_detected_once_it_patched_threads() -> None:
    code = textwrap.dedent("""
        import warnings; warnings.simplefilter("ignore")
        import eventlet
        from fmd.instrument import servers
        before = servers.problems()
        eventlet.monkey_patch()
        print(before == [], servers.problems() == [servers.EVENTLET], servers.is_gevent())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "True", "False"], out.stderr


def test_gevent_is_no_problem() -> None:
    code = "from gevent import monkey; monkey.patch_all()\nfrom fmd.instrument import servers\n" \
           "print(servers.is_gevent(), servers.problems())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "[]"], out.stderr


def test_health_page_lists_the_problems(make_app, sqlite_url, monkeypatch) -> None:  # noqa: ANN001
    app = dashboard(make_app, sqlite_url)
    client = logged_in(app)
    assert 'id="fmd-server-problems"' not in client.get(PREFIX + "/health").text
    fake_uwsgi(monkeypatch, {b"master": True}, False)
    page = client.get(PREFIX + "/health").text
    box = page.split('id="fmd-server-problems"')[1].split("</div>")[0]
    assert "--enable-threads" in box and "without Python threads" in box
