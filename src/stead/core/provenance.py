"""Where code came from: the git commit and dirty flag of the caller's repository."""

from __future__ import annotations

import inspect
import subprocess
import sysconfig
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_STEAD_DIR = Path(__file__).resolve().parents[1]
# Where libraries and installed commands live: the `stead` console script sits in the
# environment's bin directory, which may lie inside another project's checkout (a
# virtualenv in stead's own clone), so its frame says nothing about the user's code.
_LIBRARY_DIRS = tuple(
    Path(p).resolve()
    for p in {
        sysconfig.get_path("stdlib"),
        sysconfig.get_path("platstdlib"),
        sysconfig.get_path("purelib"),
        sysconfig.get_path("platlib"),
        sysconfig.get_path("scripts"),
    }
    if p
)


@dataclass(frozen=True)
class CodeVersion:
    """The git state of a directory; ``commit`` is ``None`` outside a git repository."""

    commit: str | None
    dirty: bool
    repo: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        if self.commit is None:
            return "not in a git repository"
        return self.commit[:12] + (" (dirty)" if self.dirty else "")


def git_code_version(directory: Path) -> CodeVersion:
    """The commit checked out at ``directory`` and whether tracked files differ from it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return CodeVersion(commit=None, dirty=False, repo=None)
    status = git("status", "--porcelain", "--untracked-files=no")
    return CodeVersion(commit=commit, dirty=bool(status), repo=git("rev-parse", "--show-toplevel"))


def caller_directory(default: Path) -> Path:
    """The directory of the nearest calling file that is neither stead nor a library.

    A script calling ``ws.datasets.snapshot`` is versioned by its own repository; the
    ``stead`` command (whose frames are all library code) by ``default``, the workspace's
    directory: the user's project.
    """
    for frame in inspect.stack(context=0):
        path = Path(frame.filename)
        if not path.is_file():
            continue
        resolved = path.resolve()
        if resolved.is_relative_to(_STEAD_DIR):
            continue
        if any(resolved.is_relative_to(lib) for lib in _LIBRARY_DIRS):
            continue
        return resolved.parent
    return default
