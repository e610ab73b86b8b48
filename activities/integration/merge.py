"""Merge the subtask branches, in DAG order, onto the integration branch.

A conflicting merge is committed with its markers instead of aborted: the
integration branch then holds every step durably (pushed, any host can go
on), and the integrator resolves the markers on top. A retry finds the
branches already merged (ancestors of HEAD) and goes on with the next.
"""

from __future__ import annotations

import os

from activities.git.branches import resolve_branch
from activities.git.command import GitError, GitInputError, git_out, run_git
from activities.git.hygiene import IDENTITY_CONFIG, identity_env
from activities.git.queries import (
    conflicted_files,
    current_branch,
    has_remote,
    head_commit,
    is_ancestor,
    repo_root_of,
)
from contracts.integration import IntegrateRequest, IntegrateResult, MergeConflict


def integrate(req: IntegrateRequest) -> IntegrateResult:
    root = repo_root_of(req.worktree)
    on = current_branch(req.worktree)
    if on != req.branch:
        raise GitInputError(
            f"the integration worktree {req.worktree} is on {on!r}, expected {req.branch}; "
            f"run `git -C {req.worktree} switch {req.branch}` or remove the worktree",
            "WorktreeOnOtherBranch",
        )
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    _abort_interrupted_merge(req.worktree)
    base_sha = resolve_branch(
        root, req.base_branch, remote, fetch=False, token_hosts=req.token_hosts
    )
    base = (
        git_out(req.worktree, "merge-base", "HEAD", base_sha).strip()
        if base_sha
        else head_commit(req.worktree)
    )
    merged: list[str] = []
    for branch in req.branches:
        sha = resolve_branch(root, branch, remote, fetch=True, token_hosts=req.token_hosts)
        if sha is None:
            raise GitInputError(
                f"subtask branch {branch!r} exists neither in {root} nor on its remote; "
                "its subtask has a PR, so push the branch again (or reopen the subtask)",
                "UnknownSubtaskBranch",
            )
        if is_ancestor(req.worktree, sha, "HEAD"):
            continue
        message = f"Merge branch '{branch}' into {req.branch}"
        proc = run_git(
            req.worktree,
            *IDENTITY_CONFIG,
            "merge",
            "--no-ff",
            "--no-verify",
            "--no-edit",
            "-m",
            message,
            sha,
            check=False,
            env=identity_env(),
        )
        if proc.returncode == 0:
            merged.append(branch)
            continue
        files = conflicted_files(req.worktree)
        if not files:
            raise GitError(["git", "merge", branch], proc.returncode, proc.stdout, proc.stderr)
        run_git(req.worktree, "add", "-A", "--", *files)
        run_git(
            req.worktree,
            *IDENTITY_CONFIG,
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            f"{message} (conflicts in {', '.join(files)}: left for the integrator)",
            env=identity_env(),
        )
        return IntegrateResult(
            head=head_commit(req.worktree),
            base=base,
            merged=merged,
            conflict=MergeConflict(branch=branch, files=files, commit=head_commit(req.worktree)),
        )
    # Nothing ahead of the base: there is nothing to push (every subtask's commits are on it).
    ahead = git_out(req.worktree, "rev-list", "--count", f"{base_sha}..HEAD") if base_sha else None
    return IntegrateResult(
        head=head_commit(req.worktree),
        base=base,
        merged=merged,
        ahead=int(ahead) if ahead is not None else None,
    )


def _abort_interrupted_merge(worktree: str) -> None:
    """A merge cut off by a crash leaves MERGE_HEAD: start that branch's merge again."""
    git_dir = git_out(worktree, "rev-parse", "--git-dir").strip()
    if not os.path.isabs(git_dir):
        git_dir = os.path.join(worktree, git_dir)
    if os.path.exists(os.path.join(git_dir, "MERGE_HEAD")):
        run_git(worktree, "merge", "--abort", check=False)
