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


# ------------------------------------------------------------------ README promises, pinned to their literal values

def table_rows() -> list[tuple[str, str, str]]:
    """(section, key, default cell) of every row of the configuration table."""
    return re.findall(r"^\| (\w+) \| `(\w+)` \| (.+?) \| .+ \|$", README, flags=re.M)


def test_the_configuration_table_is_found() -> None:
    assert len(table_rows()) >= 25


@pytest.mark.parametrize(("section", "key", "cell"), table_rows(), ids=lambda v: v if v.isupper() else "")
def test_readme_default_column_equals_the_code(section: str, key: str, cell: str) -> None:
    option = OPTIONS[key]
    assert option.section == section
    if cell in ("unset", "generated") or "<" in cell:  # computed at bind time (a path, a secret) or off
        assert option.default is None, (key, option.default)
        return
    if cell == "none":  # an empty list
        assert option.default == () and option.parse("") == (), (key, option.default)
        return
    assert cell.startswith("`") and cell.endswith("`"), cell
    literal = cell.strip("`")
    value = option.parse(literal)
    assert value == option.default and type(value) is type(option.default), (key, literal, option.default)


#: The README's numbers, copied literally: a product default that moved breaks this, whatever the table says.
README_DEFAULTS = {
    "QUEUE_SIZE": 100000, "BATCH_SIZE": 2000, "FLUSH_INTERVAL": 0.5, "SYNC_INTERVAL": 2.0, "MONITOR_LEVEL": 1,
    "RETENTION_REQUESTS_DAYS": 30, "RETENTION_OUTLIERS_DAYS": 14, "RETENTION_PROFILES_DAYS": 14,
    "RETENTION_HOURLY_DAYS": 0, "PRUNE_INTERVAL_HOURS": 24, "TRUSTED_PROXIES": 0, "CUSTOM_LINK": "dashboard",
    "TABLE_PREFIX": "fmd_", "TIMEZONE": "UTC", "USERNAME": "admin", "PASSWORD": "admin", "APP_VERSION": "1.0",
    "OUTLIER_DETECTION_CONSTANT": 2.5, "SAMPLING_PERIOD": 5, "ENABLE_LOGGING": False,
}


def test_effective_defaults_are_the_readmes_numbers() -> None:
    import fmd

    fresh = fmd.Config()
    for key, literal in README_DEFAULTS.items():
        assert getattr(fresh, key.lower()) == literal, key
    prose = " ".join(README.split())
    assert "within `SYNC_INTERVAL` (2 s by default)" in prose
    assert "(0.5 s doubling to 30 s)" in prose and "30 s busy timeout" in prose


def test_sqlite_runs_in_wal_mode_with_a_30_second_busy_timeout(tmp_path: Path) -> None:
    from fmd.store.engine import Store

    store = Store(f"sqlite:///{tmp_path / 'fmd.db'}", "doc_")
    try:
        with store.write() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        store.dispose()


def test_histogram_buckets_are_32_per_doubling_and_about_2_percent_wide() -> None:
    from fmd.store.histogram import bucket_of, lower_edge

    assert "32 per doubling, ~2.2% wide" in " ".join(README.split())
    for seconds in (0.001, 0.0173, 0.25, 3.0):
        assert bucket_of(seconds * 2) - bucket_of(seconds) == 32
    b = bucket_of(0.1)
    assert lower_edge(b + 1) / lower_edge(b) == pytest.approx(2 ** (1 / 32)) == pytest.approx(1.0219, abs=1e-4)


def test_retention_deletes_in_transactions_of_at_most_5000_rows() -> None:
    from fmd.store import retention

    assert "transactions of at most 5,000 rows" in " ".join(README.split())
    assert retention.BATCH == 5000
