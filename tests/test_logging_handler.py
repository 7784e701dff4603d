"""ENABLE_LOGGING (issue 12 item 9): fmd's INFO lines reach stderr when the host configured no logging.

Each case runs in a fresh interpreter: logging is process-wide state, and pytest's own capture handlers on
the root logger would hide exactly the case under test (a process without any handler).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A host that binds fmd (disabled, so nothing but binding happens) with ENABLE_LOGGING on; *before* and
#: *after* are lines run before and after binding; the marker line is logged at INFO through fmd's logger.
HOST = textwrap.dedent("""
    import logging, sys
    from flask import Flask
    import fmd

    {before}
    apps = [Flask("one"), Flask("two")]
    for app in apps[:{binds}]:
        fmd.bind(app, enabled=False, enable_logging=True)
    {after}
    logging.getLogger("fmd.store").info("marker: %s", "info line")
    print("handlers:", len(logging.getLogger("fmd").handlers))
""")


def run_host(before: str = "", after: str = "", binds: int = 1) -> subprocess.CompletedProcess:
    code = HOST.format(before=before, after=after, binds=binds)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=env)


def marker_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "marker: info line" in line]


def test_without_host_logging_info_goes_to_stderr() -> None:
    result = run_host()
    assert result.returncode == 0, result.stderr
    lines = marker_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    # The format says when, how bad and which logger.
    assert " INFO fmd.store: marker: info line" in lines[0]
    assert lines[0][:4].isdigit()  # asctime first
    # The disabled bind's own INFO line is printed as well.
    assert "fmd: disabled for app 'one'" in result.stderr
    assert "handlers: 1" in result.stdout


def test_two_bound_apps_share_one_handler() -> None:
    result = run_host(binds=2)
    assert result.returncode == 0, result.stderr
    assert len(marker_lines(result.stderr)) == 1, result.stderr
    assert "handlers: 1" in result.stdout


def test_host_logging_configured_before_bind_is_used_alone() -> None:
    result = run_host(before='logging.basicConfig(level=logging.INFO, format="HOST %(name)s %(message)s")')
    assert result.returncode == 0, result.stderr
    lines = marker_lines(result.stderr)
    assert lines == ["HOST fmd.store marker: info line"], result.stderr
    assert "handlers: 0" in result.stdout


def test_host_handler_on_the_fmd_logger_is_respected() -> None:
    before = ('h = logging.StreamHandler(sys.stdout); h.setFormatter(logging.Formatter("OWN %(message)s")); '
              'logging.getLogger("fmd").addHandler(h)')
    result = run_host(before=before)
    assert result.returncode == 0, result.stderr
    assert marker_lines(result.stderr) == [], result.stderr
    assert "OWN marker: info line" in result.stdout


def test_host_logging_configured_after_bind_prints_once() -> None:
    result = run_host(after='logging.basicConfig(level=logging.INFO, format="HOST %(name)s %(message)s")')
    assert result.returncode == 0, result.stderr
    assert marker_lines(result.stderr) == ["HOST fmd.store marker: info line"], result.stderr


def test_logging_off_prints_no_info() -> None:
    code = HOST.format(before="", after="", binds=1).replace("enable_logging=True", "enable_logging=False")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert marker_lines(result.stderr) == [] and "handlers: 0" in result.stdout
