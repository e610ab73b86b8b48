"""`!reset`'s git step: keep every branch of the build as `archive/<branch>-<time>`, then
remove the branch, its worktree and (on the remote) the branch itself.

Nothing is lost: a worktree's uncommitted work is committed first, the archive keeps
the newest of the local and the remote tip (and the other too, as `...-local`, when
they diverged), and the archive is pushed before anything is deleted. For `!replay`
(`keep_remote`) the remote branch stays where it is, so its open PR stays open until the
rebuilt branch is pushed over it. Safe to retry:
an archive already made with the same commit is not made again, and a branch already
gone has nothing left to archive. The remote branch is deleted with a lease on the tip
that was archived, so a push landing meanwhile is archived by the retry, not lost.
"""

from __future__ import annotations

import os

from temporalio import activity

from activities.git.activities import git_errors, heartbeating
from activities.git.branches import delete_remote_branch, fetch_branch, remote_branch_sha
from activities.git.command import run_git
from activities.git.commits import commit_changes
from activities.git.queries import has_remote, is_ancestor, local_branch_sha, repo_root_of
from activities.git.remote import remote_auth, remote_failure, run_remote
from activities.git.worktrees import _remove_worktree
from contracts.reset import ArchiveRequest, ArchiveResult, archive_name


def _keep_uncommitted(path: str, branch: str) -> bool:
    if not os.path.isdir(path):
        return False
    status = run_git(path, "status", "--porcelain", "--untracked-files=normal", check=False)
    if status.returncode != 0 or not status.stdout.strip():
        return False
    commit_changes(path, f"wip({branch}): uncommitted work kept by !reset")
    return True


def _push(root: str, req: ArchiveRequest, *refspecs: str) -> None:
    assert req.remote
    auth = remote_auth(root, req.remote, req.token_hosts)
    proc = run_remote(root, auth, "push", "--porcelain", "--no-verify", req.remote, *refspecs)
    if proc.returncode != 0:
        raise remote_failure(root, auth, f"push {req.remote} {' '.join(refspecs)}", proc)


def _archive_one(root: str, req: ArchiveRequest, branch: str, result: ArchiveResult) -> None:
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    local = local_branch_sha(root, branch)
    # Fetched, not only looked up: the archive is made of its commits here as well.
    theirs = fetch_branch(root, remote, branch, req.token_hosts) if remote else None
    if local is None and theirs is None:
        return  # gone already (a retry after the deletes): nothing to keep
    # A retry after the local branch was deleted: the archive made then holds its commits
    # (the remote branch, left in place or not deleted yet, must not move it back).
    ours = local or local_branch_sha(root, archive_name(branch, req.stamp))
    tip: str = (
        theirs
        if theirs is not None and (ours is None or is_ancestor(root, ours, theirs))
        else ours or ""
    )
    keep = {archive_name(branch, req.stamp): tip}
    for other, suffix in ((ours, "-local"), (theirs, "-remote")):
        if other and other != tip and not is_ancestor(root, other, tip):
            keep[archive_name(branch, req.stamp) + suffix] = other  # diverged: both kept
    for name, sha in keep.items():
        run_git(root, "branch", "--force", "--no-track", name, sha)
        if remote and remote_branch_sha(root, remote, name, req.token_hosts) != sha:
            _push(root, req, f"{sha}:refs/heads/{name}")
    result.archived[branch] = archive_name(branch, req.stamp)
    if local is not None:
        run_git(root, "branch", "-D", branch)
    if theirs is not None and remote and req.keep_remote:
        result.left[branch] = theirs
    elif theirs is not None and remote:
        # Only while it is still at the tip just archived: a push since fails the lease,
        # and the retry archives that push too before deleting.
        delete_remote_branch(root, remote, branch, theirs, req.token_hosts)


@activity.defn(name="git.archive_branches")
def archive_branches(req: ArchiveRequest) -> ArchiveResult:
    """Archive, then delete, each of `branches` (with its worktree)."""
    root = repo_root_of(req.repo_root)
    result = ArchiveResult()
    with heartbeating(f"archive {len(req.branches)} branch(es)"), git_errors():
        for branch, worktree in sorted(req.branches.items()):
            if worktree and _keep_uncommitted(worktree, branch):
                result.wip.append(branch)
            if worktree and os.path.exists(worktree):
                _remove_worktree(root, worktree)
            _archive_one(root, req, branch, result)
    return result


ACTIVITIES = [archive_branches]
