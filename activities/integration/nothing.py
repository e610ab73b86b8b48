"""An integration with nothing of its own: every subtask's commits are on the base already.

With `merge_method = "merge"` each PR brings its commits to the base unchanged, so the
integration branch, made from the base and the subtask branches, may hold nothing the base
lacks. GitHub refuses a PR with no commits, so the loop must know before it opens one; it
asks the remote's base, fetched now, not a stale copy.

A copy of the branch on the remote is the orchestrator's own (an earlier attempt pushed
it): it is deleted when it holds nothing the base lacks either, so nothing is lost, and the
deletion leases the tip it saw. One holding more (someone pushed to it) is left alone.
Safe to retry: a branch already gone has nothing left to delete.
"""

from __future__ import annotations

from activities.git.branches import delete_remote_branch, fetch_branch, resolve_branch
from activities.git.command import GitInputError, git_out
from activities.git.queries import has_remote, head_commit, is_ancestor, repo_root_of
from contracts.integration import OwnWork, OwnWorkRequest


def own_work(req: OwnWorkRequest) -> OwnWork:
    root = repo_root_of(req.worktree)
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    base = _base(root, req, remote)
    head = head_commit(req.worktree)
    ahead = int(git_out(req.worktree, "rev-list", "--count", f"{base}..{head}"))
    if ahead or remote is None:
        return OwnWork(ahead=ahead, base=base)
    theirs = fetch_branch(root, remote, req.branch, req.token_hosts)
    if theirs is None:
        return OwnWork(ahead=0, base=base)
    if not is_ancestor(root, theirs, base):
        return OwnWork(ahead=0, base=base, left=theirs)
    delete_remote_branch(root, remote, req.branch, theirs, req.token_hosts)
    return OwnWork(ahead=0, base=base, removed=True)


def _base(root: str, req: OwnWorkRequest, remote: str | None) -> str:
    """The base as the remote has it now (the PR's base); without a remote, the local one."""
    sha = (
        fetch_branch(root, remote, req.base_branch, req.token_hosts)
        if remote
        else resolve_branch(root, req.base_branch, None, fetch=False)
    )
    if sha is None:
        where = f"on remote {remote!r}" if remote else f"in {root}"
        raise GitInputError(
            f"base branch {req.base_branch!r} does not exist {where}; push it, or set the "
            "build's base to an existing branch",
            "UnknownBaseBranch",
        )
    return sha
