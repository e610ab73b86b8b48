"""The one way a loop runs an agent: wait until it may start, run it, hold it, book it.

The design loop, the build, the release and every subtask call their agents through
`AgentStep`, so the pause gate, the failure policy (a step that fails for good
waits for a person) and the ledger booking (failed attempts included) cannot
drift apart between the loops; and they describe each call with `agent_call`, so
every transcript, token log and role setting is found in the same place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.agents import AgentCall, Usage
    from contracts.config import AgentsConfig, ProjectContext
    from contracts.human import FAILURE_OPTIONS
    from contracts.metrics import Ledger
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
