"""Who changed what in a checkout, so the orchestrator commits only its own.

An editing agent's commit takes what changed while the agent ran, nothing else.
Everything else changed in the worktree belongs to someone: the gates' output
(the orchestrator's: recorded in a ledger in the worktree's own git directory,
which no command can write), what a reviewer's commands left (discarded after
its review: the next editor never commits it), or a person's own files and
edits. A person's are never committed: an editor finding them before it
starts holds the subtask for the person, naming them.

Each agent call notes the worktree's changes when it first starts, beside its
transcript, so a retried attempt compares against the same start.

In the main checkout the design loop commits exactly the files it wrote, and
starts only on a design directory that holds nothing uncommitted but its own
records (reviews an earlier run wrote, which it reuses).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from activities.agents.transcript import REVIEW_CACHE_DIR, is_transcript, outputs_dir
from activities.files import atomic_write_text
from activities.git import commits
from activities.git.command import GitError, GitInputError
from activities.git.queries import main_checkout, repo_root_of
from activities.sandbox.paths import worktree_git_dir

log = logging.getLogger(__name__)

Changes = dict[str, str]  # path from the top -> how it looks ("size:mtime:mode", "-": deleted)

BEFORE_FILE = "worktree-before.json"
OWNED_FILE = "orchestrator-owned.json"
SHOWN = 20  # paths named in a message before "and N more"


def in_own_worktree(workdir: Path) -> bool:
    """A subtask's linked worktree (the orchestrator's), not the main checkout where a
    person may be working at the same time."""
    try:
        top = repo_root_of(str(workdir))
        return os.path.realpath(main_checkout(top)) != os.path.realpath(top)
    except (GitError, GitInputError):
        return False


def changes(top: str) -> Changes:
    """Every path git would commit that differs from HEAD, and how it looks now."""
    seen: Changes = {}
    for path in commits.status_paths(top):
        if is_transcript(path):
            continue
        try:
            st = os.lstat(os.path.join(top, path))
            seen[path] = f"{st.st_size}:{st.st_mtime_ns}:{st.st_mode:o}"
        except FileNotFoundError:
            seen[path] = "-"
    return seen


def since(top: str, start: Changes) -> list[str]:
    """Paths changed after `start` was noted (new, or looking different now)."""
    return sorted(p for p, look in changes(top).items() if start.get(p) != look)


def record_of(transcript: Path) -> Path:
    """Where an agent call keeps the worktree's changes as they were when it started."""
    return outputs_dir(transcript) / BEFORE_FILE


def noted(workdir: Path, record: Path, *, in_git_dir: bool = False) -> Changes:
    """The changes noted in `record`; noted now (and kept there) if they were not.

    `in_git_dir`: the record lies in the worktree's own git directory, which no command
    can write, so it is written from there (a record path never goes through a `.git`)."""
    try:
        return dict(json.loads(record.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        pass
    seen = changes(repo_root_of(str(workdir)))
    record.parent.mkdir(parents=True, exist_ok=True)
    root = record.parent if in_git_dir else None
    atomic_write_text(record, json.dumps(seen, sort_keys=True), root=root)
    return seen


def forget(record: Path) -> None:
    record.unlink(missing_ok=True)


# --- the orchestrator's own files: what its gates wrote ---------------------


def _ledger(top: str) -> Path | None:
    git_dir = worktree_git_dir(Path(top))
    return git_dir / OWNED_FILE if git_dir is not None else None


def owned(top: str) -> Changes:
    """The files the orchestrator's gates left, as they looked then."""
    ledger = _ledger(top)
    if ledger is None:
        return {}
    try:
        return dict(json.loads(ledger.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return {}


def own(workdir: Path, start: Changes) -> list[str]:
    """Record what changed since `start` (a gate run) as the orchestrator's; the paths."""
    top = repo_root_of(str(workdir))
    ledger = _ledger(top)
    if ledger is None:
        return []
    now = changes(top)
    made = {p: look for p, look in now.items() if start.get(p) != look}
    # Still changed as recorded, or made now; a path clean again is no one's any more.
    kept = {p: look for p, look in owned(top).items() if now.get(p) == look}
    # In the worktree's own git directory, which no command can write: the root is trusted.
    atomic_write_text(ledger, json.dumps({**kept, **made}, sort_keys=True), root=ledger.parent)
    return sorted(made)


_CLAIMING = threading.Lock()


def _claim(top: str, paths: list[str], now: Changes) -> None:
    """Keep `paths` the orchestrator's as they look `now` (reviewers finish side by side)."""
    ledger = _ledger(top)
    if ledger is None or not paths:
        return
    with _CLAIMING:
        claimed = {**owned(top), **{p: now[p] for p in paths}}
        atomic_write_text(ledger, json.dumps(claimed, sort_keys=True), root=ledger.parent)


def persons(top: str, start: Changes) -> list[str]:
    """The paths of `start` that are not the orchestrator's: a person's files and edits."""
    mine = owned(top)
    return sorted(p for p, look in start.items() if mine.get(p) != look)


def persons_message(top: str, paths: list[str], role: str) -> str:
    shown = ", ".join(paths[:SHOWN]) + (
        f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else ""
    )
    return (
        f"the worktree {top} holds changes the orchestrator did not make: {shown}. They are a "
        f"person's, and the orchestrator never commits a person's files, so {role} has not "
        f"started. Fix: commit them on the branch yourself (`git -C {top} add -A && git -C "
        f"{top} commit`), stash them (`git -C {top} stash push --include-untracked`), or "
        "remove them; then choose retry"
    )


# --- the main checkout: a design directory ---------------------------------


def review_records(repo_root: str) -> set[str]:
    """Review files earlier runs of a loop wrote (the review cache names them), from the
    top: the loop's own, reused when it starts again."""
    found: set[str] = set()
    for entry in Path(repo_root).joinpath(*REVIEW_CACHE_DIR).glob("*.json"):
        try:
            path = str(json.loads(entry.read_text(encoding="utf-8"))["review_path"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        full = path if os.path.isabs(path) else os.path.join(repo_root, path)
        found.add(os.path.relpath(os.path.realpath(full), os.path.realpath(repo_root)))
    return found


# What a build leaves in the design directory of the checkout it runs from: review
# records, gate logs, the report and pull request texts (committed on the subtasks'
# branches), and the change log: the loops' own, never the design loop's to commit.
BUILD_RECORDS_DIR = "build-reviews/"
CHANGE_LOG = "CHANGE_LOG.md"


def persons_in_folder(repo_root: str, folder: str) -> list[str]:
    """What is uncommitted under `folder` (from the top) and not the loops' own records."""
    top = repo_root_of(repo_root)
    ours = review_records(top)
    base = folder.strip("/") + "/" if folder.strip("/") not in ("", ".") else ""

    def build_record(path: str) -> bool:
        inside = path.removeprefix(base)
        return inside.startswith(BUILD_RECORDS_DIR) or inside == CHANGE_LOG

    paths = commits.status_paths(top, [folder])
    return [p for p in paths if not (is_transcript(p) or p in ours or build_record(p))]


def refuse_persons_in_folder(repo_root: str, folder: str) -> None:
    """Raise, naming them, when `folder` holds a person's uncommitted files or edits."""
    theirs = persons_in_folder(repo_root, folder)
    if not theirs:
        return
    shown = ", ".join(theirs[:SHOWN]) + (
        f" and {len(theirs) - SHOWN} more" if len(theirs) > SHOWN else ""
    )
    raise GitInputError(
        f"{folder} holds changes that are not committed: {shown}. The loop commits the "
        "files it writes there, and never a person's uncommitted work, so it does not start "
        f"on them. Fix: commit them (`git add -- {folder} && git commit`), stash them "
        f"(`git stash push --include-untracked -- {folder}`) or remove them, then retry",
        "PersonsChangesInDesign",
    )


# --- what a read-only role's commands left -----------------------------------


def discard(workdir: Path, start: Changes, role: str, keep: Iterable[Path]) -> list[str]:
    """Put back every path clean at `start` and changed now (except the files `keep`), as
    HEAD has it; log them, and the paths changed before and again since, which stay.

    Gates run beside the reviewers and may write the worktree in the same minutes: what
    a gate that finished first recorded as its output stays; a running gate's files, if
    git would commit them, count as strays. Ignored files are never touched.
    """
    top = repo_root_of(str(workdir))
    kept = {os.path.relpath(os.path.realpath(p), top) for p in keep}
    gates = owned(top)  # a gate that finished first already claimed its output
    now = changes(top)
    strays = sorted(
        p
        for p, look in now.items()
        if p not in start and p.rstrip("/") not in kept and gates.get(p) != look
    )
    again = sorted(p for p in now if p in start and now[p] != start[p])
    # The gates' output a read-only role changed (it ran the same command, or touched a
    # cache) stays the orchestrator's: never committed, and not a person's work either.
    theirs = [p for p in again if p not in gates]
    _claim(top, [p for p in again if p not in theirs], now)
    if strays:
        commits.discard_changes(Path(top), strays)
        log.warning(
            "%s (a read-only role) left files in %s; discarded, never committed: %s",
            role,
            top,
            ", ".join(strays),
        )
    if theirs:
        log.warning(
            "%s changed files in %s that were already changed before it started; left as "
            "they are: %s",
            role,
            top,
            ", ".join(theirs),
        )
    return strays
