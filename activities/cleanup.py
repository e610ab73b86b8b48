"""Worktrees removed once nothing more will be done in them; nothing unpushed ever deleted.

A subtask's worktree (`.worktrees/<subtask>`) is only a checkout of its branch:
once integration passed, the build removes it (`[build] keep_worktrees = false`),
and a later fix re-creates it from the branch (`ensure_worktree`). `orchestrator
clean <dir>` does the same for a feature by hand and also deletes the local
branches whose work the remote has. Either refuses, naming it, a worktree with
uncommitted changes or with commits the remote does not have: those are kept as
they are. Files git ignores (a `.venv`, `node_modules`) are not work and go with
the worktree.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from temporalio import activity

from activities.git.activities import git_errors, heartbeating
from activities.git.branches import fetch_branch
from activities.git.command import GitError, run_git
from activities.git.queries import (
    current_branch,
    has_remote,
    is_ancestor,
    local_branch_sha,
    repo_root_of,
)
from activities.git.worktrees import list_worktrees
from contracts.cleanup import CleanRequest, CleanResult
from contracts.git import WORKTREES_DIR


def disk_usage(path: Path) -> int:
    """Bytes a directory takes on disk (symlinks not followed)."""
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in [*dirs, *files]:
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                continue
    return total


def feature_worktrees(repo_root: str, names: Iterable[str]) -> dict[str, Path]:
    """The feature's worktrees that exist: name -> path."""
    root = Path(repo_root) / WORKTREES_DIR
    return {n: root / n for n in names if (root / n).is_dir()}


def unpushed(
    root: str, branch: str, remote: str | None, token_hosts: list[str], local: str | None
) -> str | None:
    """Why `branch` (at `local`) is not safe on the remote, or None when the remote has it."""
    if not remote or not has_remote(root, remote):
        return f"{branch} is not pushed: the repository has no remote {remote!r}"
    try:
        theirs = fetch_branch(root, remote, branch, token_hosts)
        if theirs is None and local:
            theirs = _holder(root, remote, local, token_hosts)
    except GitError as err:
        return f"cannot tell whether {remote} has {branch} ({err})"
    if theirs is None:
        return (
            f"{remote} has no {branch} (never pushed, or deleted there) and no branch of "
            f"{remote} holds its commits"
        )
    if local and not is_ancestor(root, local, theirs):
        return f"{branch} has commits {remote} does not have"
    return None


def _holder(root: str, remote: str, local: str, token_hosts: list[str]) -> str | None:
    """The tip of a branch of `remote` that holds `local`, as the remote has it now: the
    work of a branch merged there and then deleted (an integration with nothing of its
    own, a merged PR's branch) is not lost with it."""
    refs = run_git(
        root, "for-each-ref", "--contains", local, "--format=%(refname)", f"refs/remotes/{remote}/"
    ).stdout.split()
    for ref in refs:
        name = ref.removeprefix(f"refs/remotes/{remote}/")
        if name == "HEAD":
            continue
        tip = fetch_branch(root, remote, name, token_hosts)  # as it is there now
        if tip is not None and is_ancestor(root, local, tip):
            return tip
    return None


def _uncommitted(path: Path) -> str | None:
    out = run_git(str(path), "status", "--porcelain", "--untracked-files=normal").stdout
    changed = [line[3:] for line in out.splitlines() if line.strip()]
    if not changed:
        return None
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return f"uncommitted changes: {shown}"


def clean(req: CleanRequest) -> CleanResult:
    """Remove the named worktrees that are clean and pushed (and, with `branches`, their
    local branches and those of `extra_branches` the remote has)."""
    root = repo_root_of(req.repo_root)
    on = {w.path: w for w in list_worktrees(root)}
    result = CleanResult()
    for name, path in feature_worktrees(root, req.names).items():
        entry = on.get(os.path.realpath(path))
        if entry is None:
            result.kept[name] = f"{path} is not a git worktree of {root}; left alone"
            continue
        branch = (entry.branch or "").removeprefix("refs/heads/")
        why = _uncommitted(path) or (
            unpushed(root, branch, req.remote, req.token_hosts, entry.head)
            if branch
            else "a detached HEAD (no branch holds it)"
        )
        if why:
            result.kept[name] = why
            continue
        size = disk_usage(path)
        run_git(root, "worktree", "remove", "--force", str(path))
        result.removed.append(name)
        result.freed_bytes += size
        if req.branches:
            _delete_branch(root, branch, req, result)
    run_git(root, "worktree", "prune")
    for branch in req.extra_branches if req.branches else []:
        if branch not in result.branches_deleted:
            _delete_branch(root, branch, req, result)
    return result


def _delete_branch(root: str, branch: str, req: CleanRequest, result: CleanResult) -> None:
    local = local_branch_sha(root, branch)
    if local is None or branch == current_branch(root):
        return
    if any(w.branch == f"refs/heads/{branch}" for w in list_worktrees(root)):
        return  # still checked out in a worktree that was kept
    why = unpushed(root, branch, req.remote, req.token_hosts, local)
    if why:
        result.branches_kept[branch] = why
        return
    run_git(root, "branch", "-D", branch)
    result.branches_deleted.append(branch)


@activity.defn(name="worktrees.clean")
def clean_worktrees(req: CleanRequest) -> CleanResult:
    with heartbeating("remove finished worktrees"), git_errors():
        return clean(req)


ACTIVITIES = [clean_worktrees]
