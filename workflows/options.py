"""Timeouts and retry policies, one preset per kind of activity.

Let Temporal own retries so every attempt is visible in the event history;
errors no retry can fix are raised non-retryable by the activities themselves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

from contracts.config import AgentsConfig

NON_RETRYABLE = ["PlanError", "ConfigError", "RepositoryError", "InvalidInput"]


def quick(**extra: Any) -> dict[str, Any]:
    """Local file and git steps: seconds, a few retries.

    The heartbeat timeout is how fast a step on a dead worker is retried elsewhere;
    git and forge steps heartbeat from a background thread, the rest finish in well
    under it.
    """
    return {
        "start_to_close_timeout": timedelta(minutes=2),
        "heartbeat_timeout": timedelta(seconds=30),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=1),
            maximum_interval=timedelta(seconds=20),
            maximum_attempts=5,
            non_retryable_error_types=NON_RETRYABLE,
        ),
        **extra,
    }


def network(**extra: Any) -> dict[str, Any]:
    """Forge calls: transient 5xx and rate limits are retried for a while."""
    return {
        "start_to_close_timeout": timedelta(minutes=5),
        "heartbeat_timeout": timedelta(seconds=30),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=2),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(minutes=2),
            maximum_attempts=10,
            non_retryable_error_types=NON_RETRYABLE,
        ),
        **extra,
    }


def attempts_within(window_s: float, initial_s: float, coefficient: float, cap_s: float) -> int:
    """How many attempts a backoff of `initial_s` * `coefficient`^n (capped) fits in `window_s`."""
    attempts, waited, interval = 1, 0.0, initial_s
    while waited + interval <= window_s:
        waited += interval
        attempts += 1
        interval = min(interval * coefficient, cap_s)
    return attempts


AGENT_RETRY_CAP = timedelta(minutes=3)


def agent(
    timeout_s: float = 3600.0,
    heartbeat_s: float = 60.0,
    retry_for_s: float = 3600.0,
    **extra: Any,
) -> dict[str, Any]:
    """Model calls: long, heartbeating; the activity sets the server's retry-after delay.

    Overload, 5xx and connection errors are retried for `retry_for_s` (an hour by
    default), as a person would keep trying, with the backoff capped at a few
    minutes; after that the step holds for a person instead of failing the loop.
    """
    cap = AGENT_RETRY_CAP.total_seconds()
    return {
        # A cancelled loop waits until the agent has really stopped: nothing it does
        # (a commit, a review file) may land after the loop reports itself cancelled.
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        "start_to_close_timeout": timedelta(seconds=timeout_s),
        "heartbeat_timeout": timedelta(seconds=heartbeat_s),
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=2),
            backoff_coefficient=2.0,
            maximum_interval=AGENT_RETRY_CAP,
            maximum_attempts=attempts_within(retry_for_s, 2.0, 2.0, cap),
            non_retryable_error_types=NON_RETRYABLE,
        ),
        **extra,
    }


def agent_for(agents: AgentsConfig, **extra: Any) -> dict[str, Any]:
    """`agent()` with the project's `[agents]` timeouts and retry window."""
    return agent(agents.timeout_s, agents.heartbeat_timeout_s, agents.retry_for_s, **extra)


def commands(timeout_s: float = 900.0, heartbeat_s: float = 60.0, **extra: Any) -> dict[str, Any]:
    """Gate commands: as long as the configured timeout, heartbeating; cancelled like agents."""
    return {
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        "start_to_close_timeout": timedelta(seconds=timeout_s + 60),
        "heartbeat_timeout": timedelta(seconds=heartbeat_s),
        "retry_policy": RetryPolicy(maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE),
        **extra,
    }
