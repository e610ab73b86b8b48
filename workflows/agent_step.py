"""The one way a loop runs an agent: wait until it may start, run it, hold it, book it.

The design loop, the build, the release and every subtask call their agents through
`AgentStep`, so the pause gate, the failure policy (a step that fails for good
waits for a person) and the ledger booking (failed attempts included) cannot
drift apart between the loops; and they describe each call with `agent_call`, so
every transcript, token log and role setting is found in the same place. A reviewer
or an editor (`review`, `edit`) is the call with what that activity takes besides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_edit, agent_review
    from contracts.agents import (
        AgentCall,
        EditRequest,
        EditResult,
        GateOutcome,
        ReviewIssue,
        ReviewRequest,
        ReviewResult,
        Usage,
    )
    from contracts.config import AgentsConfig, ProjectContext
    from contracts.human import FAILURE_OPTIONS
    from contracts.metrics import Ledger
    from contracts.patterns import PatternOffer
    from contracts.telemetry import token_log_path
    from workflows import options
    from workflows.loop_control import LoopControl


class _HasUsage(Protocol):
    usage: Usage


R = TypeVar("R", bound=_HasUsage)

# How an agent activity is executed: plainly, or (a subtask) on the host holding its worktree.
Execute = Callable[[Any, AgentCall, type, str, dict[str, Any]], Awaitable[Any]]


async def execute_anywhere(
    activity: Any, request: AgentCall, result_type: type, summary: str, opts: dict[str, Any]
) -> Any:
    return await workflow.execute_activity(
        activity, request, result_type=result_type, summary=summary, **opts
    )


def agent_call(
    ctx: ProjectContext,
    role: str,
    scope: str,
    rnd: int,
    focus: list[str],
    instructions: str,
    transcript: str,
    *,
    workdir: str | None = None,
    spec_path: str = "",
    gate_commands: list[str] | None = None,
) -> AgentCall:
    """One agent call of any loop: its transcript kept under the repository's
    `.orchestrator/transcripts/<workflow id>/<run id>/<transcript>.json`, its turns in the
    design's token log, the role's settings from the configuration. The agent works in
    `workdir` (a worktree), else at the repository's root."""
    info = workflow.info()
    return AgentCall(
        role=role,
        scope=scope,
        round=rnd,
        workdir=ctx.repo_root if workdir is None else workdir,
        focus_paths=focus,
        instructions=instructions,
        spec_path=spec_path,
        gate_commands=gate_commands or [],
        transcript_path=(
            f"{ctx.repo_root}/.orchestrator/transcripts/{info.workflow_id}/{info.run_id}/"
            f"{transcript}.json"
        ),
        settings=ctx.config.agent_settings(role, ctx.start_commit),
        token_log=token_log_path(ctx.design_dir),
    )


class AgentStep:
    """Bound to one loop's control (its failure holds; no agent starts while it is held,
    unless `may_start` says otherwise), its ledger and its agents' configuration (read
    through callables, since continue-as-new and a restored state replace the objects)."""

    def __init__(
        self,
        control: LoopControl,
        ledger: Callable[[], Ledger],
        agents: Callable[[], AgentsConfig],
        execute: Execute = execute_anywhere,
        may_start: Callable[[], bool] | None = None,
    ) -> None:
        self.holds, self.notify = control.holds, control.notify
        self.ledger = ledger
        self.may_start = may_start or (lambda: not control.held)
        self.agents = agents
        self.execute = execute

    async def __call__(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type[R],
        summary: str,
        choices: Sequence[str] = FAILURE_OPTIONS,
    ) -> R:
        """The agent's result, after as many `retry`s as a person gives; raises
        `StepAbandoned` when they answer `skip` or `stop`."""
        role, scope = request.role, request.scope

        async def once() -> R:
            opts = options.agent_for(self.agents())
            result: R = await self.execute(activity, request, result_type, summary, opts)
            return result

        result = await self.holds.run(
            scope,
            summary,
            once,
            options=choices,
            notify=self.notify,
            book=lambda usage: self.ledger().add_failed(role, scope, usage),
            # Paused, over budget or held by another failure: no new agent starts.
            ready=self.may_start,
        )
        self.ledger().add(role, scope, result.usage)
        return result

    async def review(
        self,
        call: AgentCall,
        summary: str,
        *,
        review_path: str,
        title: str,
        threshold: float,
        head: str = "",
        diff_base_refs: list[str] | None = None,
        gates: list[GateOutcome] | None = None,
        reuse: bool = False,
        remember: bool = False,
        choices: Sequence[str] = FAILURE_OPTIONS,
    ) -> ReviewResult:
        """A reviewer writes `review_path`; in a worktree it reads the work since
        `diff_base_refs` up to `head`, and what the round's gates found."""
        request = ReviewRequest(
            **call.model_dump(),
            review_path=review_path,
            title=title,
            threshold=threshold,
            head=head,
            diff_base_refs=diff_base_refs or [],
            gates=gates or [],
            reuse=reuse,
            remember=remember,
        )
        return await self(agent_review, request, ReviewResult, summary, choices)

    async def edit(
        self,
        call: AgentCall,
        summary: str,
        *,
        commit_message: str,
        commit: bool = True,
        issues: list[ReviewIssue] | None = None,
        review_paths: list[str] | None = None,
        write_scope: list[str] | None = None,
        culprits: list[str] | None = None,
        patterns: PatternOffer | None = None,
        choices: Sequence[str] = FAILURE_OPTIONS,
    ) -> EditResult:
        """An editor changes files (`commit` False: the caller commits, `write_scope`: only
        under these); it sees the issues and the reviews, never the scores; `patterns`:
        library patterns quoted in its first message."""
        request = EditRequest(
            **call.model_dump(),
            issues=issues or [],
            review_paths=review_paths or [],
            commit_message=commit_message,
            commit=commit,
            write_scope=write_scope or [],
            culprits=culprits or [],
            patterns_offered=patterns.ids if patterns else [],
            patterns_path=patterns.path if patterns else "",
        )
        return await self(agent_edit, request, EditResult, summary, choices)
