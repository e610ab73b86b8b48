"""Commit what an editing agent changed: the activity commits, never the model.

Git runs through `activities.git` (sanitized environment, fixed
orchestrator identity), so hooks never see the worker's secrets. A trailer
names the agent call, which makes the commit idempotent: a retry after a
crash between the commit and the activity's return finds the commit already
at HEAD and returns it instead of committing nothing (or twice).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities.agents.errors import non_retryable
from activities.agents.transcript import is_transcript
from activities.git import commits
from activities.git.command import GitError, GitInputError, git_out
from activities.git.queries import head_commit, repo_root_of

TRAILER = "Orchestrator-Call"


class Cancelled(Exception):
    """The activity was cancelled before its commit; nothing was committed."""


def trailer_for(role: str, scope: str, round: int, fingerprint: str) -> str:
    return f"{TRAILER}: {role} {scope} round-{round} {fingerprint}"


@contextlib.contextmanager
def git_failures(workdir: Path) -> Iterator[None]:
    """Git failures as Temporal sees them: bad input or content is final, a lock may go
    away."""
    try:
        yield
    except GitInputError as exc:
        raise non_retryable(
            f"cannot commit the agent's changes in {workdir}: {exc}; "
            "or run the agent with commit=False",
            exc.type,
        ) from exc
    except GitError as exc:
        if exc.transient:  # a lock file, a full disk, a timeout: they go away
            raise ApplicationError(str(exc), type="GitCommandFailed") from exc
        # Anything else, committing what an agent left, is that content: the same files
        # fail the same way on every retry, so a person looks at once.
        raise non_retryable(
            f"git could not commit the agent's changes in {workdir}: {exc}. Retrying will "
            f"not change that. Fix: repair or remove the files git names (`git -C {workdir} "
            "status` lists the changes), then choose retry",
            "GitContentRefused",
        ) from exc


def changed_paths(workdir: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """Files changed, added or deleted under workdir (paths relative to the checkout's top).

    A nested repository shows as its directory, with a trailing '/'.
    """
    top = repo_root_of(str(workdir))
    rel_workdir = os.path.relpath(os.path.realpath(workdir), top)
    skip = {os.path.relpath(os.path.realpath(p), top) for p in exclude}
    paths = commits.status_paths(top, [rel_workdir])
    return sorted(p for p in paths if p not in skip and not is_transcript(p))


def commit_agent_changes(
    workdir: Path,
    paths: list[str],
    message: str,
    trailer: str,
    stop: Callable[[], bool] = lambda: False,
) -> tuple[str | None, list[str]]:
    """Commit `paths` (relative to the checkout top): (sha, files); sha None if nothing changed.

    `stop()` is asked before staging and again right before committing: a cancelled
    activity commits nothing (the files stay as they are).
    """
    with git_failures(workdir):
        top = repo_root_of(str(workdir))
        head = head_commit(top)
        if head and trailer in git_out(top, "log", "-1", "--format=%B", head):
            out = git_out(top, "show", "-z", "--name-only", "--format=", head)
            files = sorted(f for f in out.split("\0") if f)
            commits.sync_index(top, files)  # a crash may have come between the two
            return head, files
        if not paths:
            return None, []
        if stop():
            raise Cancelled("cancelled before committing")
        commits.refuse_unsafe(top, paths)

        # Paths go to git as they are (not resolved): a symlink is content to commit,
        # even when it points outside the checkout.
        def full(files: list[str]) -> str:
            return f"{message.strip()}\n\nFiles: {_listed(files)}\n\n{trailer}\n"

        try:
            return commits.commit_exact(top, paths, full, stop=stop)
        except commits.CommitCancelled as exc:
            raise Cancelled(str(exc)) from exc


LISTED_FILES = 50


def _listed(files: list[str]) -> str:
    """The files for a commit message: all of them, or the first few and a count."""
    if len(files) <= LISTED_FILES:
        return ", ".join(files)
    shown = ", ".join(files[:LISTED_FILES])
    return f"{shown} and {len(files) - LISTED_FILES} more ({len(files)} files)"
