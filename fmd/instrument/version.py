"""The host app's version: the git commit when GIT is configured, else APP_VERSION. Read once, at bind."""

from __future__ import annotations

from pathlib import Path

SHORT = 12


def git_commit(git_dir: str | Path) -> str | None:
    """The commit HEAD points to, read from the .git directory without running git."""
    git = Path(git_dir)
    head = (git / "HEAD").read_text().strip()
    if not head.startswith("ref:"):
        return head[:SHORT] or None
    ref = head[4:].strip()
    ref_file = git / ref
    if ref_file.is_file():
        return ref_file.read_text().strip()[:SHORT]
    packed = git / "packed-refs"
    if packed.is_file():
        for line in packed.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1] == ref:
                return parts[0][:SHORT]
    return None  # a fresh repository without commits


def app_version(app_version_setting: str, git_dir: str | None) -> str:
    if git_dir:
        commit = git_commit(git_dir)
        if commit:
            return commit
    return app_version_setting[:100]
