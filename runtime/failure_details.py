"""Attach the attempt and its token usage to every activity failure.

The workflow's failure hold shows a person how hard a step was tried, and
books the tokens a failed attempt spent; neither is on the failure Temporal
records by itself. Messages and types stay exactly as the activity raised
them, so retry decisions (non-retryable types, `next_retry_delay`) are unchanged; an
OS error no retry can fix (activities/os_errors.py) that reached here unclassified
becomes non-retryable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.os_errors import permanent


def _detail(exc: BaseException) -> dict[str, Any]:
    detail: dict[str, Any] = {"attempt": activity.info().attempt}
    usage = getattr(exc, "usage", None)
    if isinstance(usage, BaseModel):
        detail["usage"] = usage.model_dump()
    return detail


def annotated(exc: Exception) -> ApplicationError:
    """The same failure, with the attempt (and usage) as its first detail."""
    if isinstance(exc, ApplicationError):
        if any(isinstance(d, dict) and "attempt" in d for d in exc.details):
            return exc
        return ApplicationError(
            exc.message,
            _detail(exc),
            *exc.details,
            type=exc.type,
            non_retryable=exc.non_retryable,
            next_retry_delay=exc.next_retry_delay,
        )
    if isinstance(exc, OSError):  # one the activity did not classify where it happened
        failure = permanent(exc, activity.info().activity_type)
        if failure is not None:
            return ApplicationError(
                failure.message, _detail(exc), type=failure.type, non_retryable=True
            )
    return ApplicationError(str(exc) or repr(exc), _detail(exc), type=type(exc).__name__)


class FailureDetailsInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except (asyncio.CancelledError, CancelledError):
            raise
        except Exception as exc:
            if activity.is_cancelled():
                raise
            wrapped = annotated(exc)
            if wrapped is exc:
                raise
            # The original stays the cause: its stack is where the fault is.
            raise wrapped from (exc.__cause__ if isinstance(exc, ApplicationError) else exc)
