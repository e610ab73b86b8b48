"""An editing agent's worktree, before it starts and before its commit.

Before: in a subtask's worktree, what was changed already is noted (beside the
call's transcript, so a retry compares against the same start), and a person's
changes hold the subtask before the model is asked. At submit: what the commit
would refuse is told to the agent, which can fix it. At the commit: only what
changed while the agent ran is taken, what `commit_guard` or the configuration
rules refuse is discarded and named, and a worktree over its budget holds. A
cancelled call leaves the worktree as it found it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio import activity

from activities import worktree_changes
from activities.agents.cancel import cancel_requested
from activities.agents.commit import changed_paths, commit_agent_changes, git_failures, trailer_for
from activities.agents.errors import non_retryable
from activities.agents.loop import resolve_in
from activities.agents.roles import ResolvedRole
from activities.agents.tools import Workspace
from activities.git import commit_guard
from activities.git.command import GitError, GitInputError
from activities.git.commit_guard import is_protected
from activities.git.commits import discard_changes, discard_refused
from activities.git.queries import repo_root_of
from contracts.agents import AgentCall, EditRequest


def noted_in_own_worktree(req: AgentCall) -> worktree_changes.Changes | None:
    """In a subtask's worktree: its changes when this call first started (noted then).

    None elsewhere (the main checkout: the design loop commits only what it wrote), and
    for a call an older worker started without noting them (it ran, or is resuming)."""
    workdir = Path(req.workdir)
    if not worktree_changes.in_own_worktree(workdir):
        return None
    transcript = resolve_in(workdir, req.transcript_path)
    record = worktree_changes.record_of(transcript)
    if transcript.exists() and not record.exists():
        return None
    return worktree_changes.noted(workdir, record)


def discard_since(req: AgentCall, start: worktree_changes.Changes) -> None:
    top = repo_root_of(req.workdir)
    left = worktree_changes.since(top, start)
    if left:
        discard_changes(Path(top), left)
        activity.logger.warning(
            "%s was cancelled before its commit; its changes are discarded: %s",
            req.role,
            ", ".join(left),
        )
    worktree_changes.forget(
        worktree_changes.record_of(resolve_in(Path(req.workdir), req.transcript_path))
    )


def refuse_persons_changes(req: AgentCall, start: worktree_changes.Changes) -> None:
    """A person's files or edits in the worktree hold the subtask before the agent runs:
    the orchestrator never commits them, and an agent must not build on them unseen."""
    top = repo_root_of(req.workdir)
    theirs = worktree_changes.persons(top, start)
    if theirs:
        # Noted again on the retry, once the person has dealt with them.
        worktree_changes.forget(
            worktree_changes.record_of(resolve_in(Path(req.workdir), req.transcript_path))
        )
        raise non_retryable(
            worktree_changes.persons_message(top, theirs, req.role), "PersonsChangesInWorktree"
        )


def commit(
    req: EditRequest,
    resolved: ResolvedRole,
    workspace: Workspace,
    fingerprint: str,
    start: worktree_changes.Changes,
) -> tuple[str | None, list[str], list[str]]:
    """Commit what changed: everything under workdir that changed while the agent ran if
    it could run commands (they create files too), otherwise exactly the files its tools
    wrote. What was changed before it started (`start`: the gates' output) is not its.

    Changes to the orchestrator's configuration (`.orchestrator/`, `orchestrator.toml`,
    the roles' folder) and what `commit_guard` refuses (nested repositories,
    `.gitmodules`, special files) are never committed: they are discarded from the
    worktree, so no later commit takes them either, and returned to be reported. A
    worktree over its budget is not committed at all: a person decides.
    """
    workdir = Path(req.workdir).resolve()
    with git_failures(workdir):
        top = Path(repo_root_of(str(workdir)))
        if "run_command" in resolved.tools:
            inside = set(changed_paths(workdir))
            paths = [p for p in worktree_changes.since(str(top), start) if p in inside]
        else:
            paths = sorted(os.path.relpath(workdir / p, top) for p in workspace.touched)
        refused = [p for p in paths if is_protected(p, [req.settings.agents_dir])]
        if refused:
            discard_changes(top, refused)
            paths = [p for p in paths if p not in refused]
        unsafe = commit_guard.refusals(str(top), paths)
        if unsafe:
            discard_refused(str(top), unsafe)
            named = {r.path.rstrip("/") for r in unsafe}
            paths = [p for p in paths if p.rstrip("/") not in named]
            refused += [r.note() for r in unsafe]
        over = commit_guard.budget_problems(
            str(top), req.settings.sandbox, skip=worktree_changes.owned(str(top))
        )
        if over:
            raise non_retryable(
                f"{req.role}'s work in {workdir} is not committed: "
                + " ".join(over)
                + " Then choose retry (a retry commits what is there).",
                "WorktreeOverBudget",
            )
    trailer = trailer_for(req.role, req.scope, req.round, fingerprint)
    sha, files = commit_agent_changes(
        workdir, paths, req.commit_message, trailer, stop=cancel_requested
    )
    return sha, sorted(os.path.relpath(top / f, workdir) for f in files), refused


# How often the agent hears what the commit would refuse before it is refused for good.
CONTENT_REJECTIONS = 2


def commit_check(req: EditRequest, resolved: ResolvedRole) -> Callable[[Any], Awaitable[None]]:
    """Before a submission is accepted: what the commit would refuse, told to the agent
    (its tools and commands can fix it). Said twice at most; what is left then is refused
    at the commit (and named), or holds for a person when the budget is exceeded."""
    said = 0

    async def check(_: Any) -> None:
        nonlocal said
        if said >= CONTENT_REJECTIONS:
            return
        try:
            problems = await asyncio.to_thread(commit_problems, req, resolved)
        except (GitError, GitInputError):
            return  # the commit itself says what is wrong, to a person
        if problems:
            said += 1
            raise ValueError(
                "the orchestrator will not commit your changes as they are:\n"
                + "\n".join(f"  - {p}" for p in problems)
                + "\nFix these with your tools or commands, then submit again"
            )

    return check


def commit_problems(req: EditRequest, resolved: ResolvedRole) -> list[str]:
    workdir = Path(req.workdir).resolve()
    top = repo_root_of(str(workdir))
    paths = changed_paths(workdir)
    if "run_command" not in resolved.tools:  # only what its tools wrote is committed
        paths = [p for p in paths if not p.endswith("/")]
    refused = commit_guard.refusals(top, paths)
    over = commit_guard.budget_problems(top, req.settings.sandbox, skip=worktree_changes.owned(top))
    return [r.line() for r in refused] + over
