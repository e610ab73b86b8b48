"""Git plumbing the GitHub stand-in runs on its bare repositories.

The stand-in's repositories are real git directories, so whether a pull request is behind,
conflicting or clean, and what a merge or an update-branch writes, come from git itself
(`merge-base`, `merge-tree --write-tree`, `commit-tree`, `update-ref`), as on GitHub.
"""

from __future__ import annotations

import os
import subprocess
import tempfile

# GitHub writes server-side merges as its web-flow identity.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


def git(git_dir: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code, stdout) of one git command on `git_dir`, with no user or system config."""
    base = {
        "PATH": os.environ.get("PATH", ""),
        "LC_ALL": "C",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    proc = subprocess.run(
        ["git", "--git-dir", git_dir, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**base, **_IDENTITY, **(env or {})},
    )
    return proc.returncode, proc.stdout.strip()


def resolve(git_dir: str, ref: str) -> str | None:
    """The commit a SHA, a branch name or `heads/<branch>` names, or None."""
    for candidate in (ref, f"refs/heads/{ref}", f"refs/{ref}"):
        code, out = git(git_dir, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}")
        if code == 0:
            return out
    return None


def is_ancestor(git_dir: str, older: str, newer: str) -> bool:
    return git(git_dir, "merge-base", "--is-ancestor", older, newer)[0] == 0


def merged_tree(git_dir: str, ours: str, theirs: str) -> str | None:
    """The tree of merging `theirs` into `ours`, or None on a conflict."""
    code, out = git(git_dir, "merge-tree", "--write-tree", ours, theirs)
    return out.splitlines()[0] if code == 0 and out else None


def commit(git_dir: str, tree: str, parents: list[str], message: str) -> str:
    args = ["commit-tree", tree, "-m", message]
    for parent in parents:
        args += ["-p", parent]
    code, out = git(git_dir, *args)
    if code != 0:
        raise RuntimeError(f"commit-tree failed in {git_dir}")
    return out


def move_branch(git_dir: str, branch: str, new: str, old: str) -> bool:
    """Compare-and-swap a branch, as a push with lease would."""
    return git(git_dir, "update-ref", f"refs/heads/{branch}", new, old)[0] == 0


def fetch_into(git_dir: str, source_dir: str, sha: str) -> None:
    """Bring a fork's commit into the base repository (GitHub shares one object store)."""
    if git(git_dir, "cat-file", "-e", f"{sha}^{{commit}}")[0] != 0:
        git(git_dir, "fetch", "--quiet", "--no-tags", source_dir, sha)


def changed_paths(git_dir: str, base: str, head: str) -> set[str]:
    """Paths a pull request's diff shows (three-dot: since the merge base)."""
    code, out = git(git_dir, "diff", "--name-only", f"{base}...{head}")
    return set(out.splitlines()) if code == 0 else set()


def file_lines(git_dir: str, sha: str, path: str) -> int:
    code, out = git(git_dir, "show", f"{sha}:{path}")
    return len(out.splitlines()) if code == 0 else 0


def _picked_tree(git_dir: str, current: str, sha: str) -> str | None:
    """The tree of applying commit `sha` onto `current` (a three-way merge in a private
    index, from the commit's parent); None when a path changed on both sides. Git 2.39's
    `merge-tree --write-tree` has no `--merge-base`, hence read-tree."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        code, _ = git(
            git_dir, "read-tree", "-i", "-m", "--aggressive", f"{sha}^", current, sha, env=env
        )
        if code != 0:
            return None
        code, tree = git(git_dir, "write-tree", env=env)
        return tree if code == 0 else None


def rebase(git_dir: str, onto: str, base: str, head: str) -> str | None:
    """Replay each non-merge commit of base..head onto `onto`; None on a conflict."""
    _, listing = git(git_dir, "rev-list", "--reverse", "--no-merges", f"{base}..{head}")
    current = onto
    for sha in listing.split():
        tree = _picked_tree(git_dir, current, sha)
        if tree is None:
            return None
        _, fmt = git(git_dir, "log", "-1", "--format=%an%x00%ae%x00%aI%x00%B", sha)
        name, email, date, message = fmt.split("\x00", 3)
        author = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
        code, current = git(git_dir, "commit-tree", tree, "-p", current, "-m", message, env=author)
        if code != 0:
            raise RuntimeError(f"commit-tree failed in {git_dir}")
    return current
