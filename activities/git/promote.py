"""`!merge`'s git step: the fork's winning branch becomes the subtask's own branch.

Run after the subtask's old branch (if any) was archived (activities/git/archive.py), so
nothing is lost: `feat/<subtask>` is set to the winner's tip, here and on the remote, and
the winner's worktree is removed (its branch stays). Safe to retry: a branch already at
the tip is left alone.
"""

from __future__ import annotations

import os

from temporalio import activity

from activities.git.activities import git_errors, heartbeating
from activities.git.branches import fetch_branch, push_branch
from activities.git.command import GitInputError, run_git
from activities.git.queries import has_remote, local_branch_sha, repo_root_of
from activities.git.worktrees import _remove_worktree
from contracts.fork import PromoteRequest, PromoteResult


@activity.defn(name="git.promote_branch")
def promote_branch(req: PromoteRequest) -> PromoteResult:
    root = repo_root_of(req.repo_root)
    with heartbeating(f"promote {req.source} to {req.target}"), git_errors():
        remote = req.remote if req.remote and has_remote(root, req.remote) else None
        tip = local_branch_sha(root, req.source) or (
            fetch_branch(root, remote, req.source, req.token_hosts) if remote else None
        )
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
        return PromoteResult(target=req.target, head=tip)


ACTIVITIES = [promote_branch]
