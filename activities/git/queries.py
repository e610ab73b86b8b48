"""Facts about a repository, read and never changed: where its top and its shared
git directory are, what is checked out, what a name resolves to, whether one
commit descends from another, what a commit holds. Small, one git command each,
asked by every activity that has to know where it stands before it acts.
"""

from __future__ import annotations

import os

from activities.git.command import GitInputError, git_bytes, git_out, run_git


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


def main_checkout(path: str) -> str:
    """The main checkout of the repository holding `path` (a worktree's lies above it)."""
    common = common_git_dir(path)
    if os.path.basename(common) == ".git":
        return os.path.dirname(common)
    return repo_root_of(path)  # a separate git directory: the checkout itself


# Configuration the orchestrator reads and no agent may change (relative to a checkout's top).


def committed_files(top: str, commit: str, folder: str) -> list[str]:
    """Regular files directly in `folder` at `commit` (paths from the top; no symlinks)."""
    out = git_bytes(top, "ls-tree", "-z", "--full-tree", commit, "--", folder.rstrip("/") + "/")
    files: list[str] = []
    for entry in (out or b"").decode("utf-8", errors="surrogateescape").split("\0"):
        meta, _, path = entry.partition("\t")
        mode = meta.split(" ", 1)[0]
        if path and mode in ("100644", "100755"):
            files.append(path)
    return sorted(files)


def conflicted_files(path: str) -> list[str]:
    out = run_git(path, "diff", "--name-only", "--diff-filter=U", check=False).stdout
    return sorted({line for line in out.splitlines() if line})
