"""The git activities the workflows call: worktrees, commits, pushes, resets, repository
facts. Plain `def` activities (git blocks), so the worker runs them in its thread pool;
each is idempotent (retried after a crash, it finds what the first attempt did and
reports it instead of doing it twice), and `git_errors` turns the helpers' errors into
Temporal's: bad input or the repository's content stops for a person, the rest retries.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import worktree_changes
from activities.git import base_merge, branches, commits, worktrees
from activities.git.command import GitError, GitInputError, redact, run_git
from activities.git.queries import (
    current_branch,
    head_commit,
    is_ancestor,
    remote_url,
    repo_root_of,
)
from contracts.git import (
    BaseMergeRequest,
    BaseMergeResult,
    CommitPathsRequest,
    CommitRequest,
    CommitResult,
    MergeRequest,
    MergeResult,
    OwnFilesRequest,
    PushRequest,
    PushResult,
    RepoInfo,
    ResetRequest,
    ResetResult,
    WorktreeRequest,
    WorktreeResult,
)

__all__ = [
    "ACTIVITIES",
    "commit_paths",
    "commit_worktree",
    "ensure_worktree",
    "fast_forward",
    "finish_base_merge",
    "git_errors",
    "git_repo_info",
    "heartbeating",
    "merge_dependencies",
    "push_branch",
    "refuse_persons_changes",
    "reset_branch",
    "start_base_merge",
]

DEFAULT_HEARTBEAT_EVERY = 10.0


@contextmanager
def heartbeating(detail: str, every: float | None = None) -> Iterator[None]:
    """Heartbeat in the background while a blocking step (fetch, push, API call) runs.

    Outside an activity (plain function calls in tests) this does nothing.
    """
    if not activity.in_activity():
        yield
        return
    if every is None:
        timeout = activity.info().heartbeat_timeout
        every = timeout.total_seconds() / 2 if timeout else DEFAULT_HEARTBEAT_EVERY
    stop = threading.Event()
    ctx = contextvars.copy_context()

    def beat() -> None:
        while not stop.wait(every):
            ctx.run(activity.heartbeat, detail)

    activity.heartbeat(detail)
    thread = threading.Thread(target=beat, name=f"heartbeat:{detail}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def git_errors() -> Iterator[None]:
    """Turn git helper errors into Temporal errors: bad input or content stops, the rest
    retries."""
    try:
        yield
    except GitInputError as exc:
        raise ApplicationError(redact(str(exc)), type=exc.type, non_retryable=True) from exc
    except GitError as exc:
        if exc.content_caused:
            # The repository's content (an invalid .gitmodules, a path git refuses): the
            # same on every attempt, so a person decides at once instead of after an hour.
            raise ApplicationError(
                f"{exc}. This comes from the files in the repository and fails the same way "
                "on every retry. Fix: repair or remove the file git names, then retry",
                type="GitContentRefused",
                non_retryable=True,
            ) from exc
        raise ApplicationError(str(exc), type="GitCommandFailed") from exc


@activity.defn(name="git.ensure_worktree")
def ensure_worktree(req: WorktreeRequest) -> WorktreeResult:
    """Worktree `.worktrees/<subtask>` on `feat/<subtask>`, created or reused."""
    with heartbeating(f"worktree {req.subtask}"), git_errors():
        return worktrees.ensure_worktree(req)


@activity.defn(name="git.commit_worktree")
def commit_worktree(req: CommitRequest) -> CommitResult:
    """Commit a worktree's changes as the orchestrator; `commit` is None if nothing changed."""
    with heartbeating(f"commit {req.worktree}"), git_errors():
        return commits.commit_changes(req.worktree, req.message, req.paths)


@activity.defn(name="git.commit_paths")
def commit_paths(req: CommitPathsRequest) -> CommitResult:
    """Commit design artifacts on the main checkout's current branch (only these paths)."""
    with heartbeating(f"commit {len(req.paths)} paths"), git_errors():
        return commits.commit_changes(req.repo_root, req.message, req.paths)


@activity.defn(name="git.refuse_persons_changes")
def refuse_persons_changes(req: OwnFilesRequest) -> None:
    """Before a loop writes into a folder of the main checkout: nothing of a person's
    (uncommitted) may be there, or a later commit of the loop's files would sit beside it."""
    with git_errors():
        worktree_changes.refuse_persons_in_folder(req.repo_root, req.folder)


@activity.defn(name="git.push_branch")
def push_branch(req: PushRequest) -> PushResult:
    """Push a branch; a remote that already has the commit is left alone."""
    with heartbeating(f"push {req.branch}"), git_errors():
        return branches.push_branch(
            req.path, req.branch, req.remote, req.force, req.token_hosts, req.replaces
        )


@activity.defn(name="git.reset_branch")
def reset_branch(req: ResetRequest) -> ResetResult:
    """Hard-reset a worktree's branch to a commit (replay from an earlier iteration)."""
    with heartbeating(f"reset {req.worktree}"), git_errors():
        return branches.reset_branch(req.worktree, req.commit, req.clean)


@activity.defn(name="git.merge_dependencies")
def merge_dependencies(req: MergeRequest) -> MergeResult:
    with heartbeating(f"merge dependencies into {req.branch}"), git_errors():
        merged, conflict = worktrees.merge_dependencies(
            req.worktree, req.branch, req.dependency_branches, req.remote, req.token_hosts
        )
        return MergeResult(head=head_commit(req.worktree), merged=merged, conflict=conflict)


@activity.defn(name="git.fast_forward")
def fast_forward(req: MergeRequest) -> MergeResult:
    """Bring a worktree's branch up to the remote's when that only moved ahead (GitHub
    merged the base in: update-branch). A remote branch that diverged is not taken: its
    `conflict` says so, and the worktree stays as it was."""
    with heartbeating(f"fast-forward {req.branch}"), git_errors():
        head = head_commit(req.worktree)
        sha = (
            branches.fetch_branch(req.worktree, req.remote, req.branch, req.token_hosts)
            if req.remote
            else None
        )
        if sha is None or sha == head or is_ancestor(req.worktree, sha, head):
            return MergeResult(head=head, merged=[], conflict=None)
        if not is_ancestor(req.worktree, head, sha):
            return MergeResult(
                head=head,
                merged=[],
                conflict=f"{req.branch} on {req.remote} and in the worktree diverged",
            )
        run_git(req.worktree, "merge", "--ff-only", "--quiet", sha)
        return MergeResult(head=head_commit(req.worktree), merged=[req.branch], conflict=None)


@activity.defn(name="git.start_base_merge")
def start_base_merge(req: BaseMergeRequest) -> BaseMergeResult:
    """Merge a PR's base into its branch (GitHub says dirty); conflicts stay for a fixer."""
    with heartbeating(f"merge {req.base} into {req.branch}"), git_errors():
        return base_merge.start_base_merge(req)


@activity.defn(name="git.finish_base_merge")
def finish_base_merge(req: BaseMergeRequest) -> BaseMergeResult:
    """Commit the fixer's resolution of the base's conflict, or abort if markers are left."""
    with heartbeating(f"finish merging {req.base} into {req.branch}"), git_errors():
        return base_merge.finish_base_merge(req)


@activity.defn(name="git.repo_info")
def git_repo_info(design_dir: str) -> RepoInfo:
    """Repository facts for a design directory, read once at workflow start."""
    with git_errors():
        root = repo_root_of(design_dir)
        return RepoInfo(
            repo_root=root,
            branch=current_branch(root),
            head=head_commit(root),
            origin_url=_public_url(remote_url(root, "origin")),
        )


def _public_url(url: str | None) -> str | None:
    # Workflow history is readable by anyone with UI access: no embedded credentials.
    return redact(url) if url else None


ACTIVITIES = [
    ensure_worktree,
    commit_worktree,
    commit_paths,
    push_branch,
    reset_branch,
    git_repo_info,
    merge_dependencies,
    fast_forward,
    refuse_persons_changes,
    start_base_merge,
    finish_base_merge,
]
