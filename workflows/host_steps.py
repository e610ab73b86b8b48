"""The host that holds a loop's worktree: claimed once, every worktree step sent there.

A worktree lives on one host's disk, so a loop claims a host (`host.claim` answers
with the claiming worker's own task queue) and sends each step that touches the
worktree, its agents' included, to that queue. A step no worker takes within
`host_timeout_s` loses the host (`HostLost`): `on_a_host` forgets it and runs the
loop's steps again on another, and after MAX_HOST_MOVES moves in a row a person
decides. The subtask and integration loops (`WorktreeSteps`) and the release loop
each own one `HostSteps`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    TimeoutError,
    TimeoutType,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.git.activities import push_branch
    from activities.host import HostClaim
    from contracts.agents import AgentCall
    from contracts.git import PushRequest, PushResult
    from contracts.human import FAILURE_OPTIONS
    from contracts.version import HOST_QUEUE_PREFIX
    from workflows import options
    from workflows.loop_control import LoopControl

T = TypeVar("T")

# After this many host moves in a row, a person decides.
MAX_HOST_MOVES = 3
# The cause (and error type) of that decision.
HOSTS_LOST = "HostsLost"


def host_name(queue: str) -> str:
    """A host queue's host, as its worker was started (`--host`, ORCHESTRATOR_HOST)."""
    return queue.removeprefix(HOST_QUEUE_PREFIX)


class HostLost(Exception):
    """The host holding the worktree stopped taking work; the loop moves to another."""

    def __init__(self, queue: str, summary: str) -> None:
        super().__init__(f"{queue} (no worker took {summary})")
        self.queue = queue

    @property
    def host(self) -> str:
        return host_name(self.queue)


class HostHeld(Protocol):
    """The part of a loop's state (carried across continue-as-new) that names its host."""

    host_queue: str | None
    hosts: list[str]
    host_moves: int


class HostSteps:
    """Bound to one loop's control and state; `timeout_s`: how long a step waits for the
    host's worker before the host counts as lost (`HostLost`; None: it waits)."""

    def __init__(
        self,
        control: LoopControl,
        state: Callable[[], HostHeld],
        timeout_s: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.control, self.state, self.timeout_s = control, state, timeout_s

    async def claim(self, key: str, summary: str) -> str | None:
        """Claim a host for `key` once (kept in the state); the queue this call claimed,
        None when one was claimed before ("" is a worker that serves no host queue)."""
        s = self.state()
        if s.host_queue is not None:
            return None
        s.host_queue = await self.control.held_step(
            summary,
            lambda: workflow.execute_activity_method(
                HostClaim.claim, key, summary=summary, **options.quick()
            ),
        )
        if s.host_queue:
            s.hosts.append(s.host_queue)
        return s.host_queue

    async def on_a_host(
        self,
        steps: Callable[[], Awaitable[None]],
        who: str,
        forget: Callable[[HostLost], None],
        choices: Sequence[str] = FAILURE_OPTIONS,
    ) -> None:
        """Run `steps` (which claim a host first) until they end; when their host is lost,
        forget it (`forget`: what the loop kept there, its worktree) and run them again on
        whichever host claims them next, bounded by `moved`."""
        while True:
            try:
                await steps()
                return
            except HostLost as lost:
                workflow.logger.warning("%s: %s", who, lost)
                self.state().host_queue = None
                forget(lost)
                await self.moved(who, lost, choices)

    async def moved(self, who: str, lost: HostLost, choices: Sequence[str]) -> None:
        """Moving hosts is a retry: after MAX_HOST_MOVES in a row a person decides (retry
        once a worker serves the host queue, or the other `choices`) instead of moving
        forever."""
        s = self.state()
        s.host_moves += 1
        if s.host_moves < MAX_HOST_MOVES:
            return
        await self.control.hold_found(
            f"claim a host for {who}",
            f"{who} moved hosts {s.host_moves} times: no worker took its worktree steps "
            f"within host_timeout_s ({self.timeout_s()} s); host {lost.host} stopped "
            f"last ({lost}). Fix: start a worker that serves its host queue "
            f"(`orchestrator worker --host {lost.host}`, or ORCHESTRATOR_HOST="
            f"{lost.host}), or raise host_timeout_s in orchestrator.toml, then retry",
            HOSTS_LOST,
            options=choices,
        )
        s.host_moves = 0

    def options(self) -> dict[str, Any]:
        """Activity options that send a step to the claimed host."""
        queue = self.state().host_queue
        if not queue:
            return {}
        timeout = self.timeout_s()
        if timeout is None:
            return {"task_queue": queue}
        return {"task_queue": queue, "schedule_to_start_timeout": timedelta(seconds=timeout)}

    async def step(
        self, activity: Any, arg: Any, result_type: type[T] | None, summary: str, **opts: Any
    ) -> T:
        """A worktree step on the claimed host; a step that fails for good holds for a person."""
        return await self.control.held_step(
            summary, lambda: self.once(activity, arg, result_type, summary, **opts)
        )

    async def once(
        self, activity: Any, arg: Any, result_type: type[T] | None, summary: str, **opts: Any
    ) -> T:
        """One try of a step on the claimed host (no hold)."""
        try:
            result: T = await workflow.execute_activity(
                activity, arg, result_type=result_type, summary=summary, **opts, **self.options()
            )
            return result
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, TimeoutError) and cause.type == TimeoutType.SCHEDULE_TO_START:
                raise HostLost(self.state().host_queue or "", summary) from err
            raise

    async def execute(
        self,
        activity: Any,
        request: AgentCall,
        result_type: type,
        summary: str,
        opts: dict[str, Any],
    ) -> Any:
        """How `AgentStep` runs an agent of this loop: on the claimed host."""
        return await self.once(activity, request, result_type, summary, **opts)

    async def push(self, request: PushRequest, attempts: int) -> PushResult | None:
        """Best effort: a push that fails is logged (None); the branch's next push carries it."""
        try:
            result: PushResult = await self.once(
                push_branch,
                request,
                PushResult,
                f"push {request.branch}",
                **options.quick(retry_policy=RetryPolicy(maximum_attempts=attempts)),
            )
            return result
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("push of %s failed: %s", request.branch, err.cause)
            return None
