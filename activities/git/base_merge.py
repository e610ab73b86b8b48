"""Merging a pull request's base into its branch so a fixer can resolve the conflict.

GitHub says `dirty`: the base moved and conflicts with the branch. The merge happens in
the subtask's worktree (a merge, not a rebase: nothing pushed is rewritten, so the push
is a plain fast-forward that the remote refuses if the branch moved meanwhile). A
conflicting merge stays in progress for the fixer, who gets each conflicted region; then
the merge is committed only if no conflict marker is left, else aborted, leaving the branch
exactly as it was. Both steps are safe to retry: a merge already in progress is reported
again, and a finish with no merge in progress reports the head.
"""

from __future__ import annotations

import os

from activities.git.branches import fetch_branch
from activities.git.command import GitError, GitInputError, run_git
from activities.git.hygiene import IDENTITY_CONFIG, identity_env
from activities.git.queries import conflicted_files, head_commit, is_ancestor
from contracts.follow import TEXT_CAP
from contracts.git import BaseMergeRequest, BaseMergeResult

# Lines that open, split and close a conflicted region.
_MARKERS = ("<<<<<<< ", "=======", ">>>>>>> ")
# Lines of context kept around each region, and files described to the fixer.
_CONTEXT, _MAX_FILES = 3, 20


def _merging(worktree: str) -> bool:
    proc = run_git(worktree, "rev-parse", "-q", "--verify", "MERGE_HEAD", check=False)
    return proc.returncode == 0


def _lines(worktree: str, path: str) -> list[str]:
    try:
        with open(os.path.join(worktree, path), encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()
    except OSError:
        return []  # deleted on one side: the file's absence is the conflict


def _marked(line: str) -> bool:
    return line == "=======" or line.startswith(_MARKERS[0]) or line.startswith(_MARKERS[2])


def excerpt(worktree: str, path: str, cap: int = TEXT_CAP) -> str:
    """The conflicted regions of one file, numbered, with a few lines around each."""
    lines = _lines(worktree, path)
    keep: set[int] = set()
    for i, line in enumerate(lines):
        if _marked(line):
            keep.update(range(max(0, i - _CONTEXT), min(len(lines), i + _CONTEXT + 1)))
    shown, last = [], -2
    for i in sorted(keep):
        if i != last + 1:
            shown.append("...")
        shown.append(f"{i + 1}: {lines[i]}")
        last = i
    text = "\n".join(shown) or "(deleted on one side, changed on the other)"
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _conflicted(req: BaseMergeRequest, head: str) -> BaseMergeResult:
    files = conflicted_files(req.worktree)
    return BaseMergeResult(
        outcome="conflicted",
        head=head,
        files=files,
        excerpts={f: excerpt(req.worktree, f) for f in files[:_MAX_FILES]},
    )


def start_base_merge(req: BaseMergeRequest) -> BaseMergeResult:
    """Merge the remote's base into the worktree's branch; conflicts stay for a fixer.

    A PR stacked on a dependency carries that dependency's commits as they were when it
    branched. Once the dependency merged as new commits (squash or rebase), with fixes made
    after, a merge of the base alone sets both versions of its files against each other.
    So each merged dependency's last head (`req.dependencies`) is taken in first: after it,
    the branch holds what the base got from it, and only real conflicts remain."""
    wt = req.worktree
    start = head_commit(wt)
    if _merging(wt):  # a retry, or a restart: the merge the last attempt began
        return _conflicted(req, start)
    for dependency in req.dependencies:
        tip = fetch_branch(wt, req.remote, dependency, req.token_hosts)
        if tip is None or is_ancestor(wt, tip, head_commit(wt)):
            continue  # gone with its merge (deleted), or taken in already
        if not _merge(req, tip, f"Merge branch '{dependency}' (merged into {req.base})"):
            return _conflicted(req, start)
    sha = fetch_branch(wt, req.remote, req.base, req.token_hosts)
    if sha is None:
        raise GitInputError(
            f"the base branch {req.base!r} is not on remote {req.remote!r}: the pull request "
            f"of {req.branch} cannot take it in; restore the branch or retarget the PR",
            "MissingBase",
        )
    head = head_commit(wt)
    if is_ancestor(wt, sha, head):
        return BaseMergeResult(outcome="up_to_date" if head == start else "merged", head=head)
    if not _merge(req, sha, f"Merge branch '{req.base}'"):
        return _conflicted(req, start)
    return BaseMergeResult(outcome="merged", head=head_commit(wt))


def _merge(req: BaseMergeRequest, sha: str, title: str) -> bool:
    """Merge `sha` into the branch; False: it conflicts, and waits in the worktree."""
    wt = req.worktree
    proc = run_git(
        wt,
        *IDENTITY_CONFIG,
        "merge",
        "--no-ff",
        "--no-verify",
        "--no-edit",
        "-m",
        f"{title} into {req.branch}",
        sha,
        check=False,
        env=identity_env(),
    )
    if proc.returncode == 0:
        return True
    if not conflicted_files(wt):
        run_git(wt, "merge", "--abort", check=False)
        raise GitError(["git", "merge", sha], proc.returncode, proc.stdout, proc.stderr)
    return False


def finish_base_merge(req: BaseMergeRequest) -> BaseMergeResult:
    """Commit the merge the fixer resolved (only the conflicted files; other changes are
    restored), or abort it if a marker is left."""
    wt = req.worktree
    if not _merging(wt):  # committed (or aborted) by an earlier attempt
        return BaseMergeResult(outcome="merged", head=head_commit(wt))
    files = conflicted_files(wt)
    left = [f for f in files if any(_marked(line) for line in _lines(wt, f))]
    if left:
        run_git(wt, "merge", "--abort")
        return BaseMergeResult(outcome="markers_left", head=head_commit(wt), files=left)
    for path in files:  # resolved: its content, or its deletion
        exists = os.path.lexists(os.path.join(wt, path))
        run_git(wt, *(("add",) if exists else ("rm", "--quiet")), "--", path)
    others = run_git(wt, "diff", "--name-only").stdout.splitlines()
    if others:
        run_git(wt, "checkout", "--", *others)
    run_git(wt, *IDENTITY_CONFIG, "commit", "--no-verify", "--no-edit", env=identity_env())
    return BaseMergeResult(outcome="merged", head=head_commit(wt), files=files, restored=others)
