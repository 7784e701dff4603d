"""The host app's version: the git commit when GIT is configured, else APP_VERSION. Read once, at bind.

The commit is read from the files of the git directory (no ``git`` process, no dependency): ``HEAD`` is
either a commit (detached) or ``ref: refs/heads/<branch>``; the branch's commit is in its loose ref file or,
after ``git gc`` / ``git pack-refs``, in ``packed-refs``. In a linked worktree the refs live in the main
repository's directory, named by the ``commondir`` file.
"""

from __future__ import annotations

import re
from pathlib import Path

#: Characters of the commit hash kept as the version (as ``git log --abbrev=12`` shows it).
SHORT = 12
_HASH = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256
_MAX_SYMREF_DEPTH = 5


def git_commit(git_dir: str | Path) -> str | None:
    """The commit HEAD points to (first 12 hex digits), or None for a repository without commits."""
    git = Path(git_dir)
    common = _common_dir(git)
    try:
        target = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    for _ in range(_MAX_SYMREF_DEPTH):
        if not target.startswith("ref:"):
            return target[:SHORT] if _HASH.match(target) else None
        target = _read_ref(git, common, target[4:].strip())
        if target is None:
            return None  # an unborn branch: a fresh repository without commits
    return None


def _common_dir(git: Path) -> Path:
    try:
        common = (git / "commondir").read_text().strip()
    except OSError:
        return git
    return (git / common).resolve()


def _read_ref(git: Path, common: Path, ref: str) -> str | None:
    """The content of a ref (a hash, or another ``ref: ...``) from loose files, then packed-refs."""
    for base in dict.fromkeys((git, common)):  # per-worktree refs first, then the shared ones
        try:
            return (base / ref).read_text().strip()
        except OSError:
            continue
    try:
        packed = (common / "packed-refs").read_text()
    except OSError:
        return None
    for line in packed.splitlines():
        parts = line.split()
        # Lines are "<hash> <ref>"; '#' starts the header, '^' a peeled tag's commit.
        if len(parts) == 2 and parts[1] == ref and not line.startswith(("#", "^")):
            return parts[0]
    return None


def app_version(app_version_setting: str, git_dir: str | None) -> str:
    """The version recorded with every request: the git commit when GIT names a repository with one."""
    if git_dir:
        commit = git_commit(git_dir)
        if commit:
            return commit
    return app_version_setting[:100]
