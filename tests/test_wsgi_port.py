"""``python wsgi.py --port`` (issue 12 item 9): the demo listens where it is told, since 5000 is often taken.

Importing ``wsgi`` would build the demo (databases, fmd bound to the process-wide config, seeding), so the
argument parsing is read out of wsgi.py and run on its own; the demo itself runs in a subprocess.
"""

from __future__ import annotations

import argparse
import ast
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Mapping, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[1]
WSGI = ROOT / "wsgi.py"
#: The parts of wsgi.py that make up its command line.
CLI_NAMES = {"DEFAULT_PORT", "_port", "parse_args"}


def load_cli() -> SimpleNamespace:
    """wsgi.py's command-line definitions (and the standard-library names they use), without the rest."""
    tree = ast.parse(WSGI.read_text())
    keep = [node for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name in CLI_NAMES
            or isinstance(node, ast.Assign) and any(getattr(t, "id", None) in CLI_NAMES for t in node.targets)]
    namespace: dict = {"argparse": argparse, "os": os, "Mapping": Mapping, "Sequence": Sequence}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(WSGI), "exec"), namespace)  # noqa: S102
    assert CLI_NAMES <= namespace.keys(), "wsgi.py no longer defines its command line as expected"
    return SimpleNamespace(**{name: namespace[name] for name in CLI_NAMES})


@pytest.fixture(scope="module")
def cli() -> SimpleNamespace:
    return load_cli()


def test_defaults(cli: SimpleNamespace) -> None:
    args = cli.parse_args([], {})
    assert (args.host, args.port) == ("127.0.0.1", 5000)


def test_port_from_the_environment(cli: SimpleNamespace) -> None:
    assert cli.parse_args([], {"PORT": "8123"}).port == 8123


def test_the_flag_wins_over_the_environment(cli: SimpleNamespace) -> None:
    assert cli.parse_args(["--port", "9001"], {"PORT": "8123"}).port == 9001
    assert cli.parse_args(["--port=9002"], {"PORT": "not even a number"}).port == 9002  # PORT unused


def test_host_flag(cli: SimpleNamespace) -> None:
    assert cli.parse_args(["--host", "0.0.0.0"], {}).host == "0.0.0.0"


@pytest.mark.parametrize("value", ["abc", "0", "65536", "-1", "80.5", "", "²"])
def test_bad_flag_is_a_usage_error(cli: SimpleNamespace, value: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(["--port", value], {})
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err and "1 to 65535" in err and repr(value) in err


@pytest.mark.parametrize("value", ["http", "70000"])
def test_bad_environment_value_is_a_usage_error(cli: SimpleNamespace, value: str,
                                                capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args([], {"PORT": value})
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "PORT environment variable" in err and repr(value) in err


def test_port_type_accepts_the_bounds(cli: SimpleNamespace) -> None:
    assert cli._port("1") == 1 and cli._port(" 65535 ") == 65535
    with pytest.raises(argparse.ArgumentTypeError):
        cli._port("65536")


def _demo_env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FMD_", "FLASK_", "PORT"))}
    return {**env, "DEMO_INSTANCE_PATH": str(tmp_path), "DEMO_SEED_REQUESTS": "0", **more}


def test_a_bad_port_stops_the_demo_with_status_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(WSGI), "--port", "http"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=_demo_env(tmp_path))
    assert result.returncode == 2
    assert "--port" in result.stderr and "'http'" in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before the demo was built (no host.db, no fmd.db)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_the_demo_serves_the_dashboard_on_the_given_port(tmp_path: Path) -> None:
    port = _free_port()
    other = _free_port()
    # PORT names another port: the flag must win.
    proc = subprocess.Popen([sys.executable, str(WSGI), "--port", str(port)], cwd=tmp_path,
                            env=_demo_env(tmp_path, PORT=str(other)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline, body, last_error = time.monotonic() + 30, None, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard/login", timeout=5) as resp:
                    assert resp.status == 200
                    body = resp.read().decode()
                break
            except OSError as exc:  # not listening yet
                last_error = exc
                time.sleep(0.1)
        assert body is not None, f"no answer on port {port}: {last_error}; exit code {proc.poll()}"
        assert "Log in to fmd" in body
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{other}/dashboard/login", timeout=2)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
