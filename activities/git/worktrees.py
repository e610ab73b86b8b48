"""A subtask's worktree: `.worktrees/<subtask>` on its branch, created or reused.

A dependent subtask's branch starts from its dependencies' work (their branches
merged onto the base), and a dependency that moved later (a spec change reopened
it) is merged in again. Every step is safe to retry: a merge happens in a
detached worktree and the branch is named only at the end, so an interrupted or
conflicting merge never leaves a half-built branch a retry would mistake for
finished work, and a conflict aborts, naming the files, with the branch as it was.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

from activities.git.branches import fetch_branch, resolve_branch
from activities.git.command import GitError, GitInputError, git_out, run_git
from activities.git.hygiene import IDENTITY_CONFIG, identity_env
from activities.git.queries import (
    common_git_dir,
    conflicted_files,
    has_remote,
    head_commit,
    is_ancestor,
    local_branch_sha,
    repo_root_of,
    resolve_commit,
)
from contracts.git import (
    WORKTREES_DIR,
    WorktreeRequest,
    WorktreeResult,
    branch_for,
    subtask_slug_problem,
)


@dataclass(frozen=True)
class WorktreeEntry:
    path: str
    head: str
    branch: str | None  # full ref, e.g. refs/heads/feat/x; None when detached


def list_worktrees(repo_root: str) -> list[WorktreeEntry]:
    out = git_out(repo_root, "worktree", "list", "--porcelain")
    entries: list[WorktreeEntry] = []
    for block in out.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" in fields:
            entries.append(
                WorktreeEntry(
                    path=os.path.realpath(fields["worktree"]),
                    head=fields.get("HEAD", ""),
                    branch=fields.get("branch"),
                )
            )
    return entries


def worktree_path(repo_root: str, subtask: str) -> str:
    return os.path.join(repo_root, WORKTREES_DIR, subtask)


def _check_slug(subtask: str) -> None:
    problem = subtask_slug_problem(subtask)
    if problem:
        raise GitInputError(
            f"{problem}; rename the subplan/subtask so its name is a valid slug",
            "InvalidSubtaskName",
        )


def _remove_worktree(repo_root: str, path: str) -> None:
    run_git(repo_root, "worktree", "remove", "--force", "--force", path, check=False)
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    run_git(repo_root, "worktree", "prune")


def _own_work(path: str, branch: str, bases: Iterable[str], remote: str | None) -> bool:
    """Non-merge commits on `branch` that neither the base nor any dependency has."""
    excludes: list[str] = []
    for name in bases:
        refs = [f"refs/heads/{name}", *([f"refs/remotes/{remote}/{name}"] if remote else [])]
        found = [ref for ref in refs if resolve_commit(path, ref)]
        if not found:
            sha = resolve_commit(path, name)  # a tag or a commit id as base
            found = [sha] if sha else []
        excludes.extend(found)
    count = git_out(
        path, "rev-list", "--count", "--no-merges", f"refs/heads/{branch}", "--not", *excludes
    )
    return int(count or "0") > 0


def _add_worktree(repo_root: str, *args: str) -> None:
    proc = run_git(repo_root, "worktree", "add", "--quiet", *args, check=False)
    if proc.returncode == 0:
        return
    err = proc.stderr.lower()
    if "already checked out" in err or "is already used by worktree" in err:
        raise GitInputError(
            f"cannot add worktree: {proc.stderr.strip()}; switch that checkout to another branch "
            "(git switch main) so the subtask's worktree can use it",
            "BranchCheckedOutElsewhere",
        )
    raise GitError(["git", "worktree", "add", *args], proc.returncode, proc.stdout, proc.stderr)


def ensure_worktree(req: WorktreeRequest) -> WorktreeResult:
    """Create or reuse the subtask's worktree; see contracts.git.WorktreeRequest."""
    _check_slug(req.subtask)
    root = repo_root_of(req.repo_root)
    branch = req.branch or branch_for(req.subtask)
    path = worktree_path(root, req.subtask)
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    deps = sorted({d for d in req.dependency_branches if d and d != branch})
    bases = [req.base_branch, *deps]

    ensure_excluded(root)
    # A worktree whose directory vanished (lost disk, rm -rf) must not block re-creating it.
    run_git(root, "worktree", "prune")

    reusable = _reusable(root, path, branch)
    if remote and local_branch_sha(root, branch):
        _catch_up(root, path if reusable else None, branch, remote, req)
    if reusable:
        return WorktreeResult(
            path=path,
            branch=branch,
            head=head_commit(path),
            created=False,
            has_own_work=_own_work(root, branch, bases, remote),
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)

    if local_branch_sha(root, branch):
        _add_worktree(root, path, branch)
    elif remote and fetch_branch(root, remote, branch, req.token_hosts) not in (None, req.replaces):
        # Pushed before, from this host or one that is gone: continue from that work (not
        # from a head a `!replay` archived: that is built afresh, then pushed over it).
        _add_worktree(root, "--track", "-b", branch, path, f"refs/remotes/{remote}/{branch}")
    elif req.existing_only:
        where = f"{root}" + (
            f" nor on remote {remote!r}" if remote else " (no remote to fetch it from)"
        )
        raise GitInputError(
            f"branch {branch} does not exist in {where}, so its worktree cannot be made on "
            f"this host. Fix: push {branch} to the remote from a clone that has it, then retry",
            "BranchNotFound",
        )
    else:
        conflict = _new_branch(root, path, branch, req, deps, remote)
        if conflict is not None:
            return conflict
    return WorktreeResult(
        path=path,
        branch=branch,
        head=head_commit(path),
        created=True,
        has_own_work=_own_work(root, branch, bases, remote),
    )


def _catch_up(
    root: str, worktree: str | None, branch: str, remote: str, req: WorktreeRequest
) -> None:
    """A local branch the remote's copy is ahead of: the subtask ran on another host since
    (it moved, and now comes back). Take that work up, or the next agent would redo it on
    a stale head and its push would be refused. A local branch ahead of the remote's (a
    commit not pushed yet) or one that diverged is left as it is, and so is a remote head
    `!replay` archived (`replaces`)."""
    local = local_branch_sha(root, branch)
    try:
        sha = fetch_branch(root, remote, branch, req.token_hosts)
    except (GitError, GitInputError):
        # The remote cannot be read now: go on with what is here, as before; the push
        # that follows the next commit says what is wrong with the remote.
        return
    if not local or sha is None or sha in (local, req.replaces):
        return
    if not is_ancestor(root, local, sha):
        return
    if worktree is None:
        run_git(root, "update-ref", f"refs/heads/{branch}", sha, local)
        return
    proc = run_git(worktree, "merge", "--ff-only", "--quiet", sha, check=False)
    if proc.returncode != 0:
        raise GitInputError(
            f"{branch} on {remote} is ahead of the worktree {worktree} (work done on another "
            f"host), and the worktree's uncommitted changes stand in the way of taking it up: "
            f"{proc.stderr.strip()}. Fix: commit or remove those changes "
            f"(`git -C {worktree} stash`), then retry",
            "WorktreeBehindRemote",
        )


def _reusable(root: str, path: str, branch: str) -> bool:
    """True if `path` is already the branch's worktree; clears harmless leftovers."""
    existing = next((w for w in list_worktrees(root) if w.path == os.path.realpath(path)), None)
    if existing is not None:
        if existing.branch == f"refs/heads/{branch}":
            return True
        if existing.branch is None and local_branch_sha(root, branch) is None:
            # Left detached by an interrupted dependency merge: nothing of value, start over.
            _remove_worktree(root, path)
            return False
        raise GitInputError(
            f"worktree {path} is on {existing.branch or 'a detached HEAD'}, expected "
            f"{branch}; run `git -C {path} switch {branch}` or remove the worktree",
            "WorktreeOnOtherBranch",
        )
    if os.path.lexists(path):
        if not (os.path.isdir(path) and not os.listdir(path)):
            raise GitInputError(
                f"{path} exists but is not a git worktree; move it away so the subtask's "
                "worktree can be created there",
                "WorktreePathOccupied",
            )
        os.rmdir(path)
    return False


def _resolve_or_refuse(
    root: str,
    name: str,
    remote: str | None,
    what: str,
    fix: str,
    token_hosts: Iterable[str] | None = None,
) -> str:
    sha = resolve_branch(root, name, remote, fetch=True, token_hosts=token_hosts)
    if sha is None:
        where = f"{root}" + (f" nor on remote {remote!r}" if remote else "")
        raise GitInputError(
            f"{what} {name!r} does not exist in {where}; {fix}",
            "UnknownBaseBranch" if what == "base branch" else "UnknownDependencyBranch",
        )
    return sha


def _merge_or_conflicts(path: str, dep: str, sha: str, branch: str) -> list[str] | None:
    """Merge `sha` (no-ff) into the checkout at `path`; on a conflict abort and name the files."""
    proc = run_git(
        path,
        *IDENTITY_CONFIG,
        "merge",
        "--no-ff",
        "--no-verify",
        "--no-edit",
        "-m",
        f"Merge branch '{dep}' into {branch}",
        sha,
        check=False,
        env=identity_env(),
    )
    if proc.returncode == 0:
        return None
    files = conflicted_files(path)
    run_git(path, "merge", "--abort", check=False)
    if not files:
        raise GitError(["git", "merge", dep], proc.returncode, proc.stdout, proc.stderr)
    return files


def _new_branch(
    root: str,
    path: str,
    branch: str,
    req: WorktreeRequest,
    deps: list[str],
    remote: str | None,
) -> WorktreeResult | None:
    """Base plus each dependency merged (no-ff); a conflict result instead of a branch.

    Merging happens in a detached worktree and the branch is named only at
    the end, so an interrupted or conflicting merge never leaves a half-built
    branch behind for a retry to mistake for finished work.
    """
    base_sha = _resolve_or_refuse(
        root,
        req.base_branch,
        remote,
        "base branch",
        "set the build's base to an existing branch",
        req.token_hosts,
    )
    dep_shas = [
        (
            dep,
            _resolve_or_refuse(
                root,
                dep,
                remote,
                "dependency branch",
                "build it (and push it) first",
                req.token_hosts,
            ),
        )
        for dep in deps
    ]
    _add_worktree(root, "--detach", path, base_sha)
    merged: list[str] = []
    for dep, sha in dep_shas:
        files = _merge_or_conflicts(path, dep, sha, branch)
        if files is not None:
            _remove_worktree(root, path)
            after = f" (after merging {', '.join(merged)})" if merged else ""
            return WorktreeResult(
                path=path,
                branch=branch,
                head=base_sha,
                created=False,
                has_own_work=False,
                conflict=(
                    f"merging dependency branch {dep} onto {req.base_branch}{after} for {branch} "
                    f"conflicts in: {', '.join(files)}; resolve it on the dependency branches "
                    f"(or merge them by hand into a branch named {branch}) and retry"
                ),
            )
        merged.append(dep)
    run_git(path, "switch", "--quiet", "-c", branch)
    return None


def merge_dependencies(
    worktree: str,
    branch: str,
    deps: list[str],
    remote: str | None,
    token_hosts: Iterable[str] | None = None,
) -> tuple[list[str], str | None]:
    """Bring dependency branches that moved (a spec change reopened them) into `branch`.

    Returns the branches merged and, on a conflict, what conflicts: the merge is
    aborted so the branch is left exactly as it was.
    """
    root = repo_root_of(worktree)
    merged: list[str] = []
    for dep in sorted(deps):
        sha = _resolve_or_refuse(
            root, dep, remote, "dependency branch", "build it (and push it) first", token_hosts
        )
        if is_ancestor(worktree, sha, "HEAD"):
            continue
        files = _merge_or_conflicts(worktree, dep, sha, branch)
        if files is not None:
            return merged, (
                f"merging the updated dependency branch {dep} into {branch} conflicts in: "
                f"{', '.join(files)}; merge it by hand on {branch} and continue, or skip"
            )
        merged.append(dep)
    return merged, None


def ensure_excluded(repo_root: str, pattern: str = f"/{WORKTREES_DIR}/") -> None:
    """Keep worktrees out of `git status` without touching the tracked .gitignore."""
    info = os.path.join(common_git_dir(repo_root), "info")
    exclude = os.path.join(info, "exclude")
    os.makedirs(info, exist_ok=True)
    try:
        with open(exclude, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    wanted = {pattern, pattern.lstrip("/"), pattern.lstrip("/").rstrip("/")}
    if any(line.strip() in wanted for line in text.splitlines()):
        return
    sep = "" if not text or text.endswith("\n") else "\n"
    with open(exclude, "a", encoding="utf-8") as fh:
        fh.write(f"{sep}{pattern}\n")
