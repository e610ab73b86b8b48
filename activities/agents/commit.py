"""Commit what an editing agent changed: the activity commits, never the model.

Git runs through `activities.gitrepo` (sanitized environment, fixed
orchestrator identity), so hooks never see the worker's secrets. A trailer
names the agent call, which makes the commit idempotent: a retry after a
crash between `git commit` and the activity's return finds the commit already
at HEAD and returns it instead of committing nothing (or twice).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from temporalio.exceptions import ApplicationError

from activities import gitrepo
from activities.agents.errors import non_retryable
from activities.agents.transcript import is_transcript

TRAILER = "Orchestrator-Call"


class Cancelled(Exception):
    """The activity was cancelled before its commit; nothing was committed."""


_IDENTITY = gitrepo.IDENTITY_CONFIG


def trailer_for(role: str, scope: str, round: int, fingerprint: str) -> str:
    return f"{TRAILER}: {role} {scope} round-{round} {fingerprint}"


@contextlib.contextmanager
def git_failures(workdir: Path) -> Iterator[None]:
    """Git failures as Temporal sees them: a bad checkout is final, a lock may go away."""
    try:
        yield
    except gitrepo.GitInputError as exc:
        raise non_retryable(
            f"cannot commit the agent's changes in {workdir}: {exc}; "
            "or run the agent with commit=False",
            exc.type,
        ) from exc
    except gitrepo.GitError as exc:  # a lock file or a full disk may go away: retry
        raise ApplicationError(str(exc), type="GitCommandFailed") from exc


def changed_paths(workdir: Path, exclude: Iterable[Path] = ()) -> list[str]:
    """Files changed, added or deleted under workdir (paths relative to the checkout's top)."""
    top = gitrepo.repo_root_of(str(workdir))
    rel_workdir = os.path.relpath(os.path.realpath(workdir), top)
    out = gitrepo.run_git(
        top,
        "status",
        "--porcelain=v1",
        "-z",
        "--no-renames",
        "--untracked-files=all",
        "--",
        rel_workdir,
    ).stdout
    skip = {os.path.relpath(os.path.realpath(p), top) for p in exclude}
    paths = [entry[3:] for entry in out.split("\0") if len(entry) > 3]
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
    activity commits nothing (what it staged is unstaged; the files stay as they are).
    """
    with git_failures(workdir):
        top = gitrepo.repo_root_of(str(workdir))
        head = gitrepo.head_commit(top)
        if head and trailer in gitrepo.git_out(top, "log", "-1", "--format=%B", head):
            files = gitrepo.git_out(top, "show", "--name-only", "--format=", head).splitlines()
            return head, sorted(f for f in files if f)
        if not paths:
            return None, []
        if stop():
            raise Cancelled("cancelled before committing")
        # Paths go to git as they are (not resolved): a symlink is content to commit,
        # even when it points outside the checkout.
        gitrepo.run_git(top, "add", "-A", "--", *paths)
        staged = gitrepo.git_out(
            top, "diff", "--cached", "--name-only", "--no-renames", "--", *paths
        )
        files = sorted(line for line in staged.splitlines() if line)
        if not files:
            return None, []
        full = f"{message.strip()}\n\nFiles: {', '.join(files)}\n\n{trailer}\n"
        if stop():
            gitrepo.run_git(top, "reset", "-q", "--", *paths, check=False)
            raise Cancelled("cancelled before committing")
        gitrepo.run_git(
            top,
            *_IDENTITY,
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            full,
            "--",
            *paths,
            env=gitrepo.identity_env(),
        )
        return gitrepo.head_commit(top), files


def discard_changes(top: Path, paths: list[str]) -> None:
    """Put `paths` (relative to the checkout top) back as HEAD has them; new ones go away."""
    tracked = [
        p
        for p in paths
        if gitrepo.run_git(str(top), "cat-file", "-e", f"HEAD:{p}", check=False).returncode == 0
    ]
    if tracked:
        gitrepo.run_git(str(top), "checkout", "--quiet", "HEAD", "--", *tracked)
    for rel in set(paths) - set(tracked):
        with contextlib.suppress(FileNotFoundError):
            os.remove(top / rel)
