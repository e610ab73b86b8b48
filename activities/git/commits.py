"""How the orchestrator commits: exactly the paths it means, through git's plumbing.

`git add` and `git commit` look into nested repositories (a gitlink's checkout,
to see whether it is dirty), which runs the programs that repository's own
config names, and they read `.gitmodules`, which dies on `update = !cmd`. The
plumbing used here (`read-tree`, `update-index`, `write-tree`, `commit-tree`,
`update-ref`) does neither, treats every path literally, takes the paths on
stdin (100,000 of them commit like one: no argument list grows with them), and
stages in a private index, so what a person staged in the same checkout is
neither committed nor disturbed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from activities.git.command import GitInputError, git_out, run_git
from activities.git.commit_guard import GITLINK, Refusal, refusals
from activities.git.hygiene import IDENTITY_CONFIG, identity_env
from activities.git.queries import head_commit, repo_root_of
from contracts.git import CommitResult

_NO_COMMIT = "0" * 40


class CommitCancelled(Exception):
    """Asked to stop before the commit was made; nothing was committed."""


def status_paths(top: str, pathspecs: Sequence[str] = ()) -> list[str]:
    """Changed, new and deleted paths under `pathspecs` (all: none given), from the top.

    Submodules are never looked into. A nested repository that is not tracked shows
    as its directory, with a trailing '/'.
    """
    out = run_git(
        top,
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        "--",
        *pathspecs,
    ).stdout
    return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})


def _relative(top: str, paths: Iterable[str]) -> list[str]:
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


def commit_changes(path: str, message: str, paths: Sequence[str] | None = None) -> CommitResult:
    """Commit every change in the checkout (or those under `paths`) as the orchestrator.

    `commit` is None when nothing changed. A path that is a directory stands for
    the changes under it.
    """
    if not message.strip():
        raise GitInputError("the commit message is empty; pass a message", "EmptyCommitMessage")
    top = repo_root_of(path)
    if paths is None:
        chosen = status_paths(top)
    else:
        rel = _relative(top, paths)
        dirs = [r for r in rel if os.path.isdir(os.path.join(top, r))]
        chosen = sorted(
            {*(r for r in rel if r not in dirs), *(status_paths(top, dirs) if dirs else [])}
        )
    refuse_unsafe(top, chosen)
    sha, files = commit_exact(top, chosen, message)
    return CommitResult(commit=sha, files=files, head=head_commit(top))


def refuse_unsafe(top: str, paths: Sequence[str]) -> None:
    """Raise, naming them, when any of `paths` is one the orchestrator never commits
    (see activities.git.commit_guard): a nested repository, .gitmodules, a special file."""
    refused = refusals(top, paths)
    if refused:
        raise GitInputError(
            f"refusing to commit in {top}: " + "; ".join(r.line() for r in refused),
            "RefusedContent",
        )


def discard_changes(top: Path, paths: list[str]) -> None:
    """Put `paths` (relative to the checkout top) back as HEAD has them; new ones go away."""
    if not paths:
        return
    known = run_git(str(top), "ls-tree", "-z", "--name-only", "-r", "HEAD", check=False)
    in_head = set(known.stdout.split("\0")) if known.returncode == 0 else set()
    tracked = [p for p in paths if p in in_head]
    if tracked:
        run_git(
            str(top),
            "checkout",
            "--quiet",
            "HEAD",
            "--pathspec-from-file=-",
            "--pathspec-file-nul",
            input="".join(f"{p}\0" for p in tracked),
        )
    for rel in set(paths) - set(tracked):
        target = top / rel.rstrip("/")
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(target)
        # Folders that held only what went away go too (git never has empty folders).
        for parent in target.parents:
            if parent == top or top not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break


def discard_refused(top: str, refused: Sequence[Refusal]) -> list[str]:
    """Remove what a commit refused (restoring what HEAD has); the paths handled."""
    gone = [r.path for r in refused if r.discard]
    for d in (p for p in gone if p.endswith("/")):
        shutil.rmtree(os.path.join(top, d), ignore_errors=True)
    discard_changes(Path(top), [p for p in gone if not p.endswith("/")])
    return gone


def commit_exact(
    top: str,
    paths: Sequence[str],
    message: str | Callable[[list[str]], str],
    stop: Callable[[], bool] = lambda: False,
) -> tuple[str | None, list[str]]:
    """Commit exactly `paths` (from the top: files, symlinks or deletions) on HEAD.

    `message` may be a function of the files that changed. Returns (sha, files
    committed); (None, []) when none of them changed. `stop()` is
    asked right before the commit is made: True raises CommitCancelled, with nothing
    committed and nothing staged.
    """
    paths = sorted({p.rstrip("/") for p in paths if p})
    if not paths:
        return None, []
    head = head_commit(top)
    git_dir = git_out(top, "rev-parse", "--absolute-git-dir")
    private = {"GIT_INDEX_FILE": os.path.join(git_dir, f"orchestrator-index-{uuid.uuid4().hex}")}
    listing = "".join(f"{p}\0" for p in paths)
    try:
        run_git(top, "read-tree", *([head] if head else ["--empty"]), env=private)
        run_git(
            top,
            "update-index",
            "--add",
            "--remove",
            "--replace",
            "-z",
            "--stdin",
            env=private,
            input=listing,
        )
        if head:
            out = git_out(
                top,
                "diff-index",
                "--cached",
                "-z",
                "--name-only",
                "--no-renames",
                head,
                env=private,
            )
        else:
            out = git_out(top, "ls-files", "-z", env=private)
        files = sorted(f for f in out.split("\0") if f)
        if not files:
            return None, []
        _refuse_new_gitlinks(top, head, private)
        if stop():
            raise CommitCancelled("cancelled before committing")
        text = message(files) if callable(message) else message
        tree = git_out(top, "write-tree", env=private)
        sha = run_git(
            top,
            *IDENTITY_CONFIG,
            "commit-tree",
            tree,
            *(["-p", head] if head else []),
            env=identity_env(),
            input=text if text.endswith("\n") else f"{text}\n",
        ).stdout.strip()
        subject = text.strip().splitlines()[0][:200]
        run_git(top, "update-ref", "-m", f"commit: {subject}", "HEAD", sha, head or _NO_COMMIT)
    finally:
        for suffix in ("", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(private["GIT_INDEX_FILE"] + suffix)
    sync_index(top, files)
    return sha, files


def sync_index(top: str, files: Sequence[str]) -> None:
    """The checkout's own index takes the committed paths as committed, so `git status`
    shows them clean; every other entry (a person's staged work) stays as it was."""
    if files:
        listing = "".join(f"{f}\0" for f in files)
        run_git(
            top, "update-index", "--add", "--remove", "--replace", "-z", "--stdin", input=listing
        )


def _refuse_new_gitlinks(top: str, head: str, private: dict[str, str]) -> None:
    """Belt and braces: no gitlink the commit would add or move (a nested repository)."""
    staged = _gitlinks(git_out(top, "ls-files", "-s", "-z", env=private), stage_field=True)
    before = _gitlinks(git_out(top, "ls-tree", "-r", "-z", head), stage_field=False) if head else {}
    added = sorted(p for p, sha in staged.items() if before.get(p) != sha)
    if added:
        raise GitInputError(
            f"{', '.join(added)} would be committed as a nested git repository (a gitlink); "
            "the orchestrator commits no nested repository or submodule. Fix: remove its "
            ".git (to keep its files as plain files) or the directory, then retry",
            "NestedRepository",
        )


def _gitlinks(listing: str, stage_field: bool) -> dict[str, str]:
    """path -> commit of each gitlink in `ls-files -s -z` or `ls-tree -r -z` output."""
    links: dict[str, str] = {}
    for entry in listing.split("\0"):
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if path and fields and fields[0] == GITLINK:
            links[path] = fields[1] if stage_field else fields[2]
    return links
