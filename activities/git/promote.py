"""`!merge`'s git step: the fork's winning branch becomes the subtask's own branch.

Run after the subtask's old branch (if any) was archived (activities/git/archive.py), so
nothing is lost: `feat/<subtask>` is set to the winner's tip, here and on the remote, and
the winner's worktree is removed. The winner's `fork/...` branch goes too, here and on
the remote, but only where it still is the promoted commit (force-with-lease on it): its
commits live on as `feat/<subtask>`, and a branch someone pushed to since is kept and
named. Safe to retry: a branch already at the tip is left alone, and a
source already dropped is found again as the target it became.
"""

from __future__ import annotations

import os

from temporalio import activity

from activities.git.activities import git_errors, heartbeating
from activities.git.branches import (
    delete_remote_branch,
    fetch_branch,
    push_branch,
    remote_branch_sha,
)
from activities.git.command import GitInputError, run_git
from activities.git.queries import has_remote, local_branch_sha, repo_root_of
from activities.git.worktrees import _remove_worktree
from contracts.fork import PromoteRequest, PromoteResult


def _drop_source(root: str, req: PromoteRequest, remote: str | None, tip: str) -> str:
    """Remove the promoted source branch where it is still `tip`; what was kept, and why."""
    kept = []
    local = local_branch_sha(root, req.source)
    if local == tip:
        run_git(root, "update-ref", "-d", f"refs/heads/{req.source}", tip)
    elif local is not None:
        kept.append(f"{req.source} kept here: it moved to {local[:12]}")
    theirs = remote_branch_sha(root, remote, req.source, req.token_hosts) if remote else None
    if remote and theirs is not None and theirs != tip:
        kept.append(
            f"{req.source} kept on {remote}: it moved to {theirs[:12]} after the attempt "
            f"(not the promoted {tip[:12]})"
        )
    elif remote and theirs is not None:
        delete_remote_branch(root, remote, req.source, tip, req.token_hosts)
    return "; ".join(kept)


@activity.defn(name="git.promote_branch")
def promote_branch(req: PromoteRequest) -> PromoteResult:
    root = repo_root_of(req.repo_root)
    with heartbeating(f"promote {req.source} to {req.target}"), git_errors():
        remote = req.remote if req.remote and has_remote(root, req.remote) else None
        tip = local_branch_sha(root, req.source) or (
            fetch_branch(root, remote, req.source, req.token_hosts) if remote else None
        )
        if tip is None:  # a retry after the drop: it became the target
            tip = local_branch_sha(root, req.target)
        if tip is None:
            raise GitInputError(
                f"branch {req.source} is gone, so it cannot become {req.target}. Fix: push it "
                f"back (it is the fork's attempt), or fork the subtask again",
                "UnknownBranch",
            )
        if local_branch_sha(root, req.target) != tip:
            run_git(root, "branch", "--force", "--no-track", req.target, tip)
        if remote:
            push_branch(root, req.target, remote, force=True, token_hosts=req.token_hosts)
        if req.source_worktree and os.path.exists(req.source_worktree):
            _remove_worktree(root, req.source_worktree)
        kept = _drop_source(root, req, remote, tip)
        return PromoteResult(target=req.target, head=tip, source_kept=kept)


ACTIVITIES = [promote_branch]
