"""The one way a loop runs an agent: wait until it may start, run it, hold it, book it.

The design loop, the build and every subtask call their agents through
`AgentStep`, so the pause gate, the failure policy (a step that fails for good
waits for a person) and the ledger booking (failed attempts included) cannot
drift apart between the loops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.agents import AgentCall, Usage
    from contracts.config import AgentsConfig
    from contracts.human import FAILURE_OPTIONS
    from contracts.metrics import Ledger
    from workflows import options
    from workflows.failures import FailureHolds


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


class AgentStep:
    """Bound to one workflow's holds, ledger and pause gate (read through callables,
    since continue-as-new and a restored state replace the objects)."""

    def __init__(
        self,
        holds: FailureHolds,
        ledger: Callable[[], Ledger],
        may_start: Callable[[], bool],
        agents: Callable[[], AgentsConfig],
        notify: Callable[[], Awaitable[None]],
        execute: Execute = execute_anywhere,
    ) -> None:
        self.holds = holds
        self.ledger = ledger
        self.may_start = may_start
        self.agents = agents
        self.notify = notify
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
