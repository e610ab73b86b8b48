"""What an agent left in a worktree, checked before the orchestrator commits any of it.
Refused, whatever the agent meant by it: a change to the configuration the orchestrator
reads (`PROTECTED_PATHS`), a nested repository (a directory with its own `.git`, which
git would record as a gitlink and later commands would look into, running that
repository's programs), a change to `.gitmodules`, a path inside a `.git` or inside a
submodule, and what git cannot store (a FIFO, a socket, a device); and the worktree's
budget: the files git would commit (tracked ones and new ones not ignored), their count,
their total size and the largest single file, bounded by `[sandbox] worktree_*` in
orchestrator.toml. The agent hears the same words when it submits (so it can remove what
is refused), the subtask's notes and the tracker name what was refused, and a budget
still exceeded at the commit holds for a person.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from activities.git.command import run_git
from contracts.sandbox import SandboxConfig

MB = 1024 * 1024
GITLINK = "160000"

# Configuration the orchestrator reads and no agent may change (relative to a checkout's top).
PROTECTED_PATHS = (".orchestrator", "orchestrator.toml")


def is_protected(rel: str, extra: Iterable[str] = ()) -> bool:
    """True when `rel` (relative to the checkout top) is configuration agents may not change."""
    parts = _parts(rel)
    for protected in (*PROTECTED_PATHS, *extra):
        prefix = _parts(protected)
        if prefix and parts[: len(prefix)] == prefix:
            return True
    return False


def _parts(rel: str) -> list[str]:
    return [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]


@dataclass(frozen=True)
class Refusal:
    """One path the orchestrator will not commit: what it is and what to do about it."""

    path: str  # from the checkout's top; a directory ends with '/'
    what: str  # in a few words, for the subtask's notes and the tracker
    why: str
    fix: str
    # Removed from the worktree when refused at the commit, so no later commit meets it.
    discard: bool = True

    def line(self) -> str:
        return f"{self.path}: {self.what}{self.why}. Fix: {self.fix}"

    def note(self) -> str:
        return f"{self.path} ({self.what})"


def refusals(top: str, paths: Sequence[str]) -> list[Refusal]:
    """The changed `paths` (from the top, as `git status` names them) that are refused."""
    links = _gitlinks(top)
    found: list[Refusal] = []
    for path in paths:
        refusal = _refusal(top, path, links)
        if refusal is not None:
            found.append(refusal)
    return found


def _refusal(top: str, path: str, links: set[str]) -> Refusal | None:
    parts = [p for p in path.rstrip("/").split("/") if p]
    full = os.path.join(top, *parts)
    if any(p.lower() == ".git" for p in parts):
        return Refusal(path, "a path inside a .git", ", which git never stores", f"delete {path}")
    link = next(
        ("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in links), None
    )
    if link is not None:
        return Refusal(
            path,
            f"inside the submodule {link}",
            " (a gitlink), which the orchestrator never commits into",
            f"write outside {link}/",
            discard=False,
        )
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        mode = None  # a deletion
    if mode is not None and stat.S_ISDIR(mode):
        name = path.rstrip("/")
        return Refusal(
            f"{name}/",
            "a nested git repository",
            " (it holds its own .git); the orchestrator commits no "
            "nested repository or submodule, since git would run that repository's programs",
            f"delete {name}/.git to keep its files as plain files (`rm -rf {name}/.git`), "
            f"or delete {name}/",
        )
    if len(parts) == 1 and parts[0].lower() == ".gitmodules":
        return Refusal(
            path,
            "a change to .gitmodules",
            ": submodules are not allowed (git runs what .gitmodules "
            "names, and an invalid one stops every git command)",
            "restore .gitmodules as the branch has it (`git checkout -- .gitmodules`, or "
            "delete it if it is new)",
        )
    if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        return Refusal(
            path,
            "not a regular file or symlink",
            " (a FIFO, socket or device), which git cannot store",
            f"delete {path}",
        )
    return None


def _gitlinks(top: str) -> set[str]:
    """Paths HEAD records as gitlinks (submodules), e.g. merged in from a dependency."""
    out = run_git(top, "ls-tree", "-r", "-z", "HEAD", check=False).stdout
    links: set[str] = set()
    for entry in out.split("\0"):
        meta, _, path = entry.partition("\t")
        if path and meta.startswith(GITLINK + " "):
            links.add(path)
    return links


@dataclass(frozen=True)
class Usage:
    files: int
    size: int
    largest: list[tuple[int, str]]  # (bytes, path), the largest first


def usage(top: str, biggest: int = 3, skip: Collection[str] = ()) -> Usage:
    """What git would commit from the worktree: tracked files still there and new ones
    not ignored (a nested repository counts as one entry; nothing inside it), but for
    `skip` (new files that are not the agent's: the gates' output)."""
    out = run_git(
        top, "ls-files", "-z", "--cached", "--others", "--exclude-standard", check=False
    ).stdout
    files = size = 0
    sizes: list[tuple[int, str]] = []
    for path in set(out.split("\0")):
        if not path or path in skip:
            continue
        try:
            st = os.lstat(os.path.join(top, path))
        except OSError:
            continue  # deleted
        files += 1
        size += st.st_size
        sizes.append((st.st_size, path))
    return Usage(files, size, sorted(sizes, reverse=True)[:biggest])


def budget_problems(top: str, config: SandboxConfig, skip: Collection[str] = ()) -> list[str]:
    """How the worktree exceeds its budget, with the numbers and the fix; [] when it fits."""
    used = usage(top, skip=skip)
    problems: list[str] = []
    fix = (
        "delete what does not belong in the change (generated files, downloads, data, "
        "build output) or list it in .gitignore"
    )
    if used.files > config.worktree_max_files:
        problems.append(
            f"the worktree holds {used.files:,} files git would commit, over the budget of "
            f"{config.worktree_max_files:,} ([sandbox] worktree_max_files). Fix: {fix}"
        )
    if used.size > config.worktree_max_mb * MB:
        problems.append(
            f"the files git would commit take {used.size / MB:,.1f} MB, over the budget of "
            f"{config.worktree_max_mb:,} MB ([sandbox] worktree_max_mb); the largest: "
            f"{_largest(used)}. Fix: {fix}"
        )
    over = [(n, p) for n, p in used.largest if n > config.worktree_max_file_mb * MB]
    for n, p in over:
        problems.append(
            f"{p} is {n / MB:,.1f} MB, over the limit of {config.worktree_max_file_mb:,} MB "
            f"per file ([sandbox] worktree_max_file_mb). Fix: delete it, or make it smaller"
        )
    return problems


def _largest(used: Usage) -> str:
    return ", ".join(f"{p} ({n / MB:,.1f} MB)" for n, p in used.largest) or "-"
