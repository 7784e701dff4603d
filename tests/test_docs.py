"""The README documents what exists: every option, the two quick-start commands, examples that run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fmd.config import OPTIONS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("key", list(OPTIONS))
def test_every_option_is_in_the_configuration_table(key: str) -> None:
    option = OPTIONS[key]
    assert re.search(rf"^\| {option.section} \| `{key}` \|", README, flags=re.M), f"{key} missing from README"


def test_quick_start_has_two_one_line_commands() -> None:
    blocks = fenced(quick_start(), "sh")
    assert len(blocks) == 2
    assert all(len(block.strip().splitlines()) == 1 for block in blocks)


def test_ci_runs_the_readme_test_command() -> None:
    command = fenced(quick_start(), "sh")[1].strip()
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def programs() -> list[str]:
    """README's Python blocks that are whole programs (the two-line teaser at the top is not)."""
    return [code for code in fenced(README, "python") if "Flask(" in code]


def test_the_readme_has_runnable_examples() -> None:
    assert len(programs()) >= 3


@pytest.mark.parametrize("code", programs(), ids=lambda code: code.strip().splitlines()[0][:40])
def test_python_examples_run(code: str, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
