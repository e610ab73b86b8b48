"""A branch between this checkout and its remote: fetched, resolved, pushed, reset.

Each is idempotent, as the activities above it must be: a fetch of a branch the
remote dropped forgets the stale copy, a push the remote already has is not
made again, and a force push leases the exact commit it saw. A branch a
dependency built on another host exists here only as a pushed branch, so
resolving a name asks the remote too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from activities.git.command import GitError, GitInputError, run_git
from activities.git.queries import (
    has_remote,
    head_commit,
    is_ancestor,
    local_branch_sha,
    repo_root_of,
    resolve_commit,
)
from activities.git.remote import remote_auth, remote_failure, run_remote
from contracts.git import PushResult, ResetResult

log = logging.getLogger(__name__)

_MISSING_REMOTE_REF = ("couldn't find remote ref", "could not find remote ref")


def fetch_branch(
    path: str, remote: str, branch: str, token_hosts: Iterable[str] | None = None
) -> str | None:
    """Fetch `remote`'s `branch` into `refs/remotes/<remote>/<branch>`; None if it has none."""
    tracking = f"refs/remotes/{remote}/{branch}"
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(
        path, auth, "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}"
    )
    if proc.returncode != 0:
        if any(s in proc.stderr.lower() for s in _MISSING_REMOTE_REF):
            # The remote dropped the branch: forget our stale copy of it as well.
            run_git(path, "update-ref", "-d", tracking, check=False)
            return None
        raise remote_failure(path, auth, f"fetch {remote} {branch}", proc)
    return resolve_commit(path, tracking)


def delete_remote_branch(
    path: str, remote: str, branch: str, tip: str, token_hosts: Iterable[str] | None = None
) -> None:
    """Delete `branch` on `remote` only while it is at `tip` (force-with-lease on it): one
    pushed to since fails, retryably, so the caller looks again; one gone already is done."""
    auth = remote_auth(path, remote, token_hosts)
    ref = f"refs/heads/{branch}"
    lease = f"--force-with-lease={ref}:{tip}"
    proc = run_remote(path, auth, "push", "--porcelain", "--no-verify", lease, remote, f":{ref}")
    if proc.returncode != 0 and "remote ref does not exist" not in proc.stderr:
        raise remote_failure(path, auth, f"push --delete {remote} {branch}", proc)


def remote_branch_sha(
    path: str, remote: str, branch: str, token_hosts: Iterable[str] | None = None
) -> str | None:
    """What the remote has for `branch` right now (asks the remote, no local refs)."""
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(path, auth, "ls-remote", "--heads", remote, f"refs/heads/{branch}")
    if proc.returncode != 0:
        raise remote_failure(path, auth, f"ls-remote {remote} {branch}", proc)
    for line in proc.stdout.strip().splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def resolve_branch(
    path: str,
    name: str,
    remote: str | None,
    *,
    fetch: bool,
    token_hosts: Iterable[str] | None = None,
) -> str | None:
    """Commit for a branch name: the local branch, or the remote's when it is strictly newer.

    A dependency built on another host exists here only as a pushed branch;
    one built here may not be pushed yet. Falls back to any revision (a tag,
    a sha) so a base like `v1.2` works too.
    """
    local = local_branch_sha(path, name)
    tracked = None
    if remote:
        if fetch:
            try:
                tracked = fetch_branch(path, remote, name, token_hosts)
            except GitError:
                if local is None:
                    raise  # nothing to fall back on: let Temporal retry the fetch
                log.warning("cannot fetch %s from %s; using the local branch", name, remote)
        tracked = tracked or resolve_commit(path, f"refs/remotes/{remote}/{name}")
    if local and tracked and local != tracked and is_ancestor(path, local, tracked):
        return tracked
    return local or tracked or resolve_commit(path, name)


_NON_FF = ("non-fast-forward", "fetch first", "updates were rejected")


def push_branch(
    path: str,
    branch: str,
    remote: str = "origin",
    force: bool = False,
    token_hosts: Iterable[str] | None = None,
    replaces: str | None = None,
) -> PushResult:
    """Push `branch` to `remote` unless it already has that commit. `replaces`: a remote
    head a `!replay` archived; while the remote still has exactly it, it is overwritten
    (force-with-lease on it), never merged with: the rebuilt branch does not descend from it."""
    if not has_remote(path, remote):
        raise GitInputError(
            f"remote {remote!r} is not configured in {repo_root_of(path)}; add it with "
            f"`git remote add {remote} <url>` (or use forge 'none' without a remote)",
            "NoSuchRemote",
        )
    local = local_branch_sha(path, branch)
    if local is None:
        raise GitInputError(
            f"branch {branch!r} does not exist in {path}; create the subtask's worktree first",
            "UnknownBranch",
        )
    token_hosts = list(token_hosts or ())
    current = remote_branch_sha(path, remote, branch, token_hosts)
    if current == local:
        return PushResult(pushed=False, remote_sha=local)
    force = force or (replaces is not None and current == replaces)
    args = ["push", "--porcelain", "--no-verify", "--set-upstream"]
    if force:
        args.append(f"--force-with-lease=refs/heads/{branch}:{current or ''}")
    args += [remote, f"refs/heads/{branch}:refs/heads/{branch}"]
    auth = remote_auth(path, remote, token_hosts)
    proc = run_remote(path, auth, *args)
    if proc.returncode != 0:
        text = f"{proc.stdout}\n{proc.stderr}".lower()
        if force and "stale info" in text:
            # The remote moved between our look and the push: look again on retry.
            raise GitError(["git", *args], proc.returncode, proc.stdout, proc.stderr)
        if any(s in text for s in _NON_FF) or "[rejected]" in text:
            raise GitInputError(
                f"push of {branch} to {remote} was rejected as non-fast-forward: the remote "
                f"branch has commits the local one lacks; fetch and merge them into {branch}, "
                "or push with force=True after an intended reset",
                "NonFastForward",
            )
        raise remote_failure(path, auth, f"push {remote} {branch}", proc)
    return PushResult(pushed=True, remote_sha=local)


def reset_branch(path: str, commit: str, clean: bool = True) -> ResetResult:
    """Hard-reset the checkout at `path` (and its branch) to `commit`."""
    target = resolve_commit(path, commit)
    if target is None:
        raise GitInputError(
            f"commit {commit!r} does not exist in {path}; pass a commit from this branch's history",
            "UnknownCommit",
        )
    previous = head_commit(path)
    run_git(path, "reset", "--quiet", "--hard", target)
    if clean:
        run_git(path, "clean", "-fdq")
    return ResetResult(head=head_commit(path), previous=previous)
