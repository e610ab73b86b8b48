"""Blocking git helpers behind the git activities.

Every git process is spawned here, with an environment stripped of the
worker's secrets: hooks (post-checkout, commit-msg, ...) and credential
helpers are repository code, and must never see ANTHROPIC_API_KEY or
GITHUB_TOKEN. GitPython's executor always starts from the full `os.environ`
and can only add variables, so commands go through `subprocess` directly.

Bad input raises `GitInputError` (the activities turn it into a
non-retryable ApplicationError); a failing command raises `GitError`
(retryable: a lock file, a full disk or a flaky remote may go away).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from contracts.git import (
    ORCHESTRATOR_AUTHOR_EMAIL,
    ORCHESTRATOR_AUTHOR_NAME,
    WORKTREES_DIR,
    CommitResult,
    PushResult,
    ResetResult,
    WorktreeRequest,
    WorktreeResult,
    branch_for,
    subtask_slug_problem,
)

log = logging.getLogger(__name__)

LOCAL_TIMEOUT = 120.0
NETWORK_TIMEOUT = 300.0

_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL|AUTH", re.IGNORECASE
)
# Inherited from a hook or a parent git, these would point our commands at another repository.
_GIT_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_CEILING_DIRECTORIES",
    }
)
# Needed for ssh pushes; its name only looks like a secret.
_KEEP = frozenset({"SSH_AUTH_SOCK"})


class GitError(Exception):
    """A git command failed; retryable unless the caller knows better."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        detail = redact((stderr or stdout).strip())
        command = redact(" ".join(self.argv))
        super().__init__(f"`{command}` failed (exit {returncode}): {detail}")


class GitInputError(Exception):
    """The request cannot succeed as given; retrying will not help."""

    def __init__(self, message: str, type_: str) -> None:
        super().__init__(message)
        self.type = type_


_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact(text: str) -> str:
    """Drop credentials embedded in URLs (https://user:token@host) from messages."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def sanitized_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The worker's environment without secrets or git location overrides."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in _KEEP or not (_SECRET_NAME.search(k) or k in _GIT_LOCATION_VARS)
    }
    env.update(
        {
            "LC_ALL": "C",
            "LANGUAGE": "C",
            # Never wait for a password prompt nobody will answer.
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_MERGE_AUTOEDIT": "no",
        }
    )
    if extra:
        env.update(extra)
    return env


def identity_env() -> dict[str, str]:
    """A fixed author/committer, so repositories without user config can commit."""
    return {
        "GIT_AUTHOR_NAME": ORCHESTRATOR_AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": ORCHESTRATOR_AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": ORCHESTRATOR_AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": ORCHESTRATOR_AUTHOR_EMAIL,
    }


IDENTITY_CONFIG = (
    "-c",
    f"user.name={ORCHESTRATOR_AUTHOR_NAME}",
    "-c",
    f"user.email={ORCHESTRATOR_AUTHOR_EMAIL}",
    "-c",
    "commit.gpgsign=false",
)


def run_git(
    cwd: str,
    *args: str,
    check: bool = True,
    timeout: float = LOCAL_TIMEOUT,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `git args...` in `cwd` with a sanitized environment."""
    argv = ["git", "-c", "core.quotepath=off", "-c", "advice.detachedHead=false", *args]
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=sanitized_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GitError(argv, -1, "", f"timed out after {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            raise GitInputError(
                f"directory {cwd} does not exist; pass an existing repository path",
                "NotAGitRepository",
            ) from exc
        raise GitInputError(
            "the `git` executable is not on PATH; install git on the worker host", "GitNotInstalled"
        ) from exc
    if check and proc.returncode != 0:
        raise GitError(argv, proc.returncode, proc.stdout, proc.stderr)
    return proc


def git_out(cwd: str, *args: str, timeout: float = LOCAL_TIMEOUT) -> str:
    """Stdout of a git command that must succeed, stripped."""
    return run_git(cwd, *args, timeout=timeout).stdout.strip()


# --- repository facts -------------------------------------------------------


def repo_root_of(path: str) -> str:
    """Top directory of the checkout (main or linked worktree) that contains `path`."""
    start = path if os.path.isdir(path) else os.path.dirname(path) or "."
    if not os.path.isdir(start):
        raise GitInputError(
            f"{path} does not exist; pass a directory inside a git repository", "NotAGitRepository"
        )
    proc = run_git(start, "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise GitInputError(
            f"{path} is not inside a git repository (git: {proc.stderr.strip()}); "
            "run `git init` there or pass the repository's path",
            "NotAGitRepository",
        )
    return os.path.realpath(proc.stdout.strip())


def head_commit(path: str) -> str:
    """The commit checked out at `path` ('' in a repository without commits)."""
    proc = run_git(path, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def current_branch(path: str) -> str:
    """Short name of the checked-out branch ('' when HEAD is detached)."""
    proc = run_git(path, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def remote_url(path: str, remote: str = "origin") -> str | None:
    """The remote's URL as configured (before `insteadOf` rewriting: it names the repository)."""
    proc = run_git(path, "config", "--get", f"remote.{remote}.url", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def has_remote(path: str, remote: str) -> bool:
    return remote in run_git(path, "remote").stdout.split()


def resolve_commit(path: str, rev: str) -> str | None:
    proc = run_git(path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def local_branch_sha(path: str, branch: str) -> str | None:
    return resolve_commit(path, f"refs/heads/{branch}")


def is_ancestor(path: str, older: str, newer: str) -> bool:
    return run_git(path, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def common_git_dir(path: str) -> str:
    """The repository's shared .git directory (the same from every worktree)."""
    out = git_out(path, "rev-parse", "--git-common-dir")
    return os.path.realpath(os.path.join(path, out))


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


# --- remotes ----------------------------------------------------------------

_MISSING_REMOTE_REF = ("couldn't find remote ref", "could not find remote ref")


def fetch_branch(path: str, remote: str, branch: str) -> str | None:
    """Fetch `remote`'s `branch` into `refs/remotes/<remote>/<branch>`; None if it has none."""
    tracking = f"refs/remotes/{remote}/{branch}"
    proc = run_git(
        path,
        "fetch",
        "--quiet",
        "--no-tags",
        remote,
        f"+refs/heads/{branch}:{tracking}",
        check=False,
        timeout=NETWORK_TIMEOUT,
    )
    if proc.returncode != 0:
        if any(s in proc.stderr.lower() for s in _MISSING_REMOTE_REF):
            # The remote dropped the branch: forget our stale copy of it as well.
            run_git(path, "update-ref", "-d", tracking, check=False)
            return None
        raise GitError(["git", "fetch", remote, branch], proc.returncode, proc.stdout, proc.stderr)
    return resolve_commit(path, tracking)


def remote_branch_sha(path: str, remote: str, branch: str) -> str | None:
    """What the remote has for `branch` right now (asks the remote, no local refs)."""
    out = git_out(
        path, "ls-remote", "--heads", remote, f"refs/heads/{branch}", timeout=NETWORK_TIMEOUT
    )
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None


def resolve_branch(path: str, name: str, remote: str | None, *, fetch: bool) -> str | None:
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
                tracked = fetch_branch(path, remote, name)
            except GitError:
                if local is None:
                    raise  # nothing to fall back on: let Temporal retry the fetch
                log.warning("cannot fetch %s from %s; using the local branch", name, remote)
        tracked = tracked or resolve_commit(path, f"refs/remotes/{remote}/{name}")
    if local and tracked and local != tracked and is_ancestor(path, local, tracked):
        return tracked
    return local or tracked or resolve_commit(path, name)


# --- worktrees --------------------------------------------------------------


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


def _conflicted_files(path: str) -> list[str]:
    out = run_git(path, "diff", "--name-only", "--diff-filter=U", check=False).stdout
    return sorted({line for line in out.splitlines() if line})


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
    branch = branch_for(req.subtask)
    path = worktree_path(root, req.subtask)
    remote = req.remote if req.remote and has_remote(root, req.remote) else None
    deps = sorted({d for d in req.dependency_branches if d and d != branch})
    bases = [req.base_branch, *deps]

    ensure_excluded(root)
    # A worktree whose directory vanished (lost disk, rm -rf) must not block re-creating it.
    run_git(root, "worktree", "prune")

    if _reusable(root, path, branch):
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
    elif remote and fetch_branch(root, remote, branch):
        # Pushed before, from this host or one that is gone: continue from that work.
        _add_worktree(root, "--track", "-b", branch, path, f"refs/remotes/{remote}/{branch}")
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


def _resolve_or_refuse(root: str, name: str, remote: str | None, what: str, fix: str) -> str:
    sha = resolve_branch(root, name, remote, fetch=True)
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
    files = _conflicted_files(path)
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
        root, req.base_branch, remote, "base branch", "set the build's base to an existing branch"
    )
    dep_shas = [
        (
            dep,
            _resolve_or_refuse(
                root, dep, remote, "dependency branch", "build it (and push it) first"
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
    worktree: str, branch: str, deps: list[str], remote: str | None
) -> tuple[list[str], str | None]:
    """Bring dependency branches that moved (a spec change reopened them) into `branch`.

    Returns the branches merged and, on a conflict, what conflicts: the merge is
    aborted so the branch is left exactly as it was.
    """
    root = repo_root_of(worktree)
    merged: list[str] = []
    for dep in sorted(deps):
        sha = _resolve_or_refuse(
            root, dep, remote, "dependency branch", "build it (and push it) first"
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


# --- commits, pushes, resets ------------------------------------------------


def _relative_paths(top: str, paths: Iterable[str]) -> list[str]:
    rel: list[str] = []
    for p in paths:
        full = os.path.realpath(p if os.path.isabs(p) else os.path.join(top, p))
        r = os.path.relpath(full, top)
        if r == ".." or r.startswith(".." + os.sep):
            raise GitInputError(
                f"path {p!r} is outside the checkout {top}; pass paths inside it",
                "PathOutsideRepository",
            )
        rel.append(r)
    return rel


def _known_or_present(top: str, rel: str) -> bool:
    if os.path.lexists(os.path.join(top, rel)):
        return True
    return bool(git_out(top, "ls-files", "--", rel)) or bool(
        run_git(top, "ls-tree", "-r", "--name-only", "HEAD", "--", rel, check=False).stdout.strip()
    )


def commit_changes(path: str, message: str, paths: Sequence[str] | None = None) -> CommitResult:
    """Stage everything (or `paths`) and commit as the orchestrator; None when nothing changed."""
    if not message.strip():
        raise GitInputError("the commit message is empty; pass a message", "EmptyCommitMessage")
    top = repo_root_of(path)
    if paths is None:
        spec: list[str] = []
    else:
        spec = [r for r in _relative_paths(top, paths) if _known_or_present(top, r)]
        if not spec:
            return CommitResult(commit=None, files=[], head=head_commit(top))
    pathspec = ["--", *spec] if spec else []
    run_git(top, "add", "-A", *pathspec)
    staged = git_out(top, "diff", "--cached", "--name-only", "--no-renames", *pathspec)
    files = sorted(line for line in staged.splitlines() if line)
    if not files:
        return CommitResult(commit=None, files=[], head=head_commit(top))
    run_git(
        top,
        *IDENTITY_CONFIG,
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        message,
        *pathspec,
        env=identity_env(),
    )
    head = head_commit(top)
    return CommitResult(commit=head, files=files, head=head)


_NON_FF = ("non-fast-forward", "fetch first", "updates were rejected")
_AUTH = (
    "authentication failed",
    "permission denied",
    "could not read username",
    "could not read password",
    "the requested url returned error: 403",
    "the requested url returned error: 401",
)
_NO_REPO = ("does not appear to be a git repository", "repository not found")


def push_branch(path: str, branch: str, remote: str = "origin", force: bool = False) -> PushResult:
    """Push `branch` to `remote` unless it already has that commit."""
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
    current = remote_branch_sha(path, remote, branch)
    if current == local:
        return PushResult(pushed=False, remote_sha=local)
    args = ["push", "--porcelain", "--no-verify", "--set-upstream"]
    if force:
        args.append(f"--force-with-lease=refs/heads/{branch}:{current or ''}")
    args += [remote, f"refs/heads/{branch}:refs/heads/{branch}"]
    proc = run_git(path, *args, check=False, timeout=NETWORK_TIMEOUT)
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
        if any(s in text for s in _AUTH):
            raise GitInputError(
                f"push to {remote} was refused for lack of credentials ({proc.stderr.strip()}); "
                "configure git credentials (ssh key or credential helper) for the worker",
                "GitAuthenticationFailed",
            )
        if any(s in text for s in _NO_REPO):
            raise GitInputError(
                f"remote {remote!r} ({remote_url(path, remote)}) is not a reachable repository: "
                f"{proc.stderr.strip()}; fix the remote URL",
                "RemoteNotFound",
            )
        raise GitError(["git", *args], proc.returncode, proc.stdout, proc.stderr)
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
