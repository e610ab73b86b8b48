"""A test-only workflow that runs one agent activity by name, with a chosen retry policy.

It stands in for the design and build workflows so the agent activities run
in a real Temporal worker: real heartbeats, timeouts, retries and history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy


@dataclass
class AgentJob:
    activity: str
    request: dict[str, Any]
    max_attempts: int = 3
    heartbeat_timeout_s: float = 10.0
    start_to_close_s: float = 60.0
    initial_interval_s: float = 0.1
    # As the real loops do: a cancelled run waits until the activity has really stopped.
    wait_for_cancel: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@workflow.defn(name="AgentActivityProbe")
class AgentActivityProbe:
    @workflow.run
    async def run(self, job: AgentJob) -> dict[str, Any]:
        return await workflow.execute_activity(
            job.activity,
            job.request,
            start_to_close_timeout=timedelta(seconds=job.start_to_close_s),
            heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout_s),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=job.initial_interval_s),
                backoff_coefficient=1.0,
                maximum_attempts=job.max_attempts,
            ),
            result_type=dict,
            cancellation_type=(
                workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
                if job.wait_for_cancel
                else workflow.ActivityCancellationType.TRY_CANCEL
            ),
        )
