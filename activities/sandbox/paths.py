"""Where a command's repository keeps its git data and its Python environment.

Read from the files on disk (`.git` files, `commondir`, `pyvenv.cfg`) rather
than by running git or the project's tools, which would run what the
repository configures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VENV_NAMES = (".venv", "venv")


def _git_entry(workdir: Path) -> Path | None:
    for folder in (workdir, *workdir.parents):
        entry = folder / ".git"
        if entry.exists():
            return entry
    return None


def worktree_git_dir(workdir: Path) -> Path | None:
    """The git directory of `workdir`'s checkout (a worktree's own, under the common one)."""
    entry = _git_entry(workdir)
    if entry is None:
        return None
    if entry.is_dir():
        return Path(os.path.realpath(entry))
    try:
        text = entry.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = Path(text.removeprefix("gitdir:").strip())
    return Path(os.path.realpath(target if target.is_absolute() else entry.parent / target))


def common_git_dir(git_dir: Path) -> Path:
    """The repository's shared git directory (objects, refs, hooks, config)."""
    pointer = git_dir / "commondir"
    if not pointer.is_file():
        return git_dir
    text = pointer.read_text(encoding="utf-8").strip()
    target = Path(text)
    return Path(os.path.realpath(target if target.is_absolute() else git_dir / target))


def git_dirs(workdir: Path) -> list[Path]:
    """Everything git-related a command may read but never write: `.git` and its targets."""
    entry = _git_entry(workdir)
    git_dir = worktree_git_dir(workdir)
    if entry is None or git_dir is None:
        return []
    common = common_git_dir(git_dir)
    paths = [common]
    if common not in git_dir.parents and git_dir != common:
        paths.append(git_dir)
    if entry.is_file():
        paths.append(entry)
    return paths


def main_checkout(workdir: Path) -> Path | None:
    """The repository's main working tree (where an untracked `.venv` usually lives)."""
    git_dir = worktree_git_dir(workdir)
    if git_dir is None:
        return None
    common = common_git_dir(git_dir)
    return common.parent if common.name == ".git" else None


@dataclass(frozen=True)
class ProjectEnv:
    """The target repository's Python environment: PATH entry and what must be readable."""

    venv: Path | None = None
    read_only: tuple[Path, ...] = ()

    @property
    def path_first(self) -> list[str]:
        return [str(self.venv / "bin")] if self.venv else []


def project_environment(workdir: Path) -> ProjectEnv:
    """The repository's virtualenv: in the worktree first, then in the main checkout.

    A uv project's `.venv` (uv's default) and a poetry project's in-project `.venv`
    are found the same way; `[gates] setup` can create one (e.g. `uv sync --frozen`).
    The interpreter the venv was made from is bound read-only beside it.
    """
    places = [workdir]
    main = main_checkout(workdir)
    if main is not None and main != workdir:
        places.append(main)
    for place in places:
        for name in VENV_NAMES:
            venv = place / name
            cfg = venv / "pyvenv.cfg"
            if cfg.is_file() and (venv / "bin").is_dir():
                return ProjectEnv(venv=venv, read_only=tuple(_interpreter_paths(venv, cfg)))
    return ProjectEnv()


def _interpreter_paths(venv: Path, cfg: Path) -> list[Path]:
    """The venv itself (when outside the worktree) and its base interpreter's prefix."""
    paths = [venv]
    for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            home = Path(os.path.realpath(value.strip()))
            prefix = home.parent if home.name == "bin" else home
            if _bindable(prefix):
                paths.append(prefix)
    python = venv / "bin" / "python"
    if python.exists():
        real = Path(os.path.realpath(python))
        prefix = real.parent.parent
        if _bindable(prefix) and prefix not in paths:
            paths.append(prefix)
    return paths


def _bindable(prefix: Path) -> bool:
    """An interpreter prefix worth binding: not under /usr (bound already) and never a
    directory that holds more than an installation (/, a home directory)."""
    if prefix.parts[1:2] == ("usr",) or len(prefix.parts) < 3:
        return False
    return prefix != Path.home() and prefix.parent != Path("/home")
