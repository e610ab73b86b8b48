"""A step that fails for good holds for a person: one outage, one decision.

An activity that fails non-retryably, or runs out of retries, does not end the
loop. Its step waits for `decide retry|skip|stop`, with the real cause (the
innermost error, as the activity phrased it, with its fix) in `status`. Steps
that fail with the same cause (a revoked key, the endpoint down) wait on one
decision, and while any decision is open no new step starts: one `retry`
resumes them all.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    FailureError,
    RetryState,
    TimeoutError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from contracts.agents import Usage
    from contracts.human import FAILURE_OPTIONS, FAILURE_SCOPE, FailureInfo, PendingDecision

T = TypeVar("T")
_STATUS = re.compile(r"\b([45]\d\d)\b")


class StepAbandoned(Exception):
    """A person answered a failed step's hold with `skip` or `stop`."""

    def __init__(self, choice: str, failure: FailureInfo) -> None:
        super().__init__(f"{choice} after: {failure.error}")
        self.choice, self.failure = choice, failure

    @property
    def reason(self) -> str:
        verb = "skipped" if self.choice == "skip" else "stopped"
        return f"{verb} by a person after {self.failure.step} failed: {self.failure.error}"


def _chain(err: BaseException) -> list[BaseException]:
    chain = [err]
    while isinstance(chain[-1], FailureError) and chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    return chain


def innermost_message(err: BaseException) -> str:
    """The deepest cause's message: where the activity said what went wrong and how to fix it."""
    inner = _chain(err)[-1]
    return inner.message if isinstance(inner, FailureError) else str(inner)


def _details(chain: list[BaseException]) -> dict[str, Any]:
    """What the worker's failure interceptor attached: the attempt and its token usage."""
    for link in chain:
        if isinstance(link, ApplicationError):
            for detail in link.details:
                if isinstance(detail, dict) and "attempt" in detail:
                    return detail
    return {}


def describe(err: FailureError, step: str, scope: str) -> FailureInfo:
    chain = _chain(err)
    # What the activity raised (its message names the fix); deeper links are the
    # library errors it translated, e.g. the HTTP client's.
    inner = chain[1] if len(chain) > 1 else chain[0]
    if isinstance(inner, TimeoutError):
        kind = inner.type.name.lower().replace("_", "-") if inner.type else "timeout"
        error_type = f"Timeout:{kind}"
        message = (
            f"{step} timed out ({kind}): the worker running it died, was overloaded or "
            "stopped heartbeating. Fix: check that a worker is running and its log "
            "(~/.orchestrator/worker.log), or raise the timeout in orchestrator.toml"
        )
    elif isinstance(inner, ApplicationError):
        error_type, message = inner.type or "ApplicationError", inner.message
    else:
        error_type, message = type(inner).__name__, str(inner)
    status = _STATUS.search(message)
    retry_state = ""
    if isinstance(err, ActivityError) and err.retry_state is not None:
        retry_state = err.retry_state.name.lower().replace("_", " ")
    detail = _details(chain)
    attempt = detail.get("attempt")
    return FailureInfo(
        step=step,
        scopes=[scope],
        error=message,
        error_type=error_type,
        cause=f"{error_type}:{status.group(1)}" if status else error_type,
        attempts=attempt if isinstance(attempt, int) else None,
        retry_state=retry_state,
    )


def failed_usage(err: BaseException) -> Usage | None:
    """Tokens a failed attempt spent (booked like a finished one's)."""
    usage = _details(_chain(err)).get("usage")
    return Usage.model_validate(usage) if isinstance(usage, dict) else None


def _prompt(f: FailureInfo) -> str:
    tried = f" after {f.attempts} attempt(s)" if f.attempts else ""
    why = f" ({f.retry_state})" if f.retry_state else ""
    held = ", ".join(f.scopes)
    return (
        f"{f.step} failed{tried}{why}: {f.error} — held: {held}. Fix the cause, then "
        "`retry`; or `skip` what is held, or `stop` the loop (all done so far is kept)."
    )


@dataclass
class _Hold:
    decision: PendingDecision
    answer: str | None = None
    per_scope: dict[str, str] = field(default_factory=dict)

    @property
    def failure(self) -> FailureInfo:
        assert self.decision.failure is not None
        return self.decision.failure


class FailureHolds:
    """The open failure decisions of one workflow, one per cause."""

    def __init__(self) -> None:
        self.open: dict[str, _Hold] = {}
        # When a person last answered `retry`, by cause ("": whatever the cause).
        self.retried_at: dict[str, datetime] = {}

    @property
    def holding(self) -> bool:
        return bool(self.open)

    def decisions(self) -> list[PendingDecision]:
        return [h.decision for h in self.open.values()]

    async def run(
        self,
        scope: str,
        step: str,
        call: Callable[[], Awaitable[T]],
        options: Sequence[str] = FAILURE_OPTIONS,
        notify: Callable[[], Awaitable[None]] | None = None,
        book: Callable[[Usage], None] | None = None,
        ready: Callable[[], bool] = lambda: True,
    ) -> T:
        """Run `call`; when it fails for good, hold until a person answers.

        Returns the step's result (after as many `retry`s as it takes) or raises
        StepAbandoned for `skip` / `stop`.
        """
        while True:
            await workflow.wait_condition(lambda: not self.open and ready())
            started = workflow.now()
            try:
                return await call()
            except ActivityError as err:
                # Cancelled by us (a sibling step failed, a stop, a cancel): not for a person,
                # even when the activity's dead worker ended it with a timeout instead.
                if is_cancelled_exception(err) or err.retry_state == RetryState.CANCEL_REQUESTED:
                    raise
                usage = failed_usage(err)
                failure = describe(err, step, scope)
            if self._covered(failure.cause, started):
                # It was running while the outage was answered: the person's `retry` meant it
                # too. Once only: a step that fails again after it started holds as usual.
                workflow.logger.warning("retrying %s with the others: %s", step, failure.error)
                continue
            choice = await self._hold(scope, failure, options, notify)
            if choice != "retry":
                # Booked only now: a retried call resumes its transcript, and its result
                # then counts the failed attempts' tokens itself.
                if book is not None and usage is not None:
                    book(usage)
                raise StepAbandoned(choice, failure)

    async def ask(
        self,
        failure: FailureInfo,
        options: Sequence[str] = FAILURE_OPTIONS,
        notify: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Hold on a failure the workflow found itself; returns on `retry`."""
        scope = failure.scopes[0] if failure.scopes else FAILURE_SCOPE
        choice = await self._hold(scope, failure, options, notify)
        if choice != "retry":
            raise StepAbandoned(choice, failure)

    async def _hold(
        self,
        scope: str,
        failure: FailureInfo,
        options: Sequence[str],
        notify: Callable[[], Awaitable[None]] | None,
    ) -> str:
        hold = self.open.get(failure.cause)
        if hold is None:
            decision = PendingDecision(
                scope=FAILURE_SCOPE,
                kind="failure",
                prompt="",
                options=list(options),
                failure=failure,
            )
            hold = self.open[failure.cause] = _Hold(decision)
        elif scope not in hold.failure.scopes:
            hold.failure.scopes.append(scope)
        # Every held step must accept the answer: offer only what all of them can do.
        hold.decision.options = [o for o in hold.decision.options if o in options]
        hold.decision.prompt = _prompt(hold.failure)
        workflow.logger.warning("holding %s for a person: %s", failure.step, failure.error)
        if notify is not None:
            await notify()
        await workflow.wait_condition(lambda: hold.answer is not None or scope in hold.per_scope)
        choice = hold.per_scope.get(scope) or hold.answer or "retry"
        if notify is not None:
            await notify()
        return choice

    def retried(self, cause: str = "") -> None:
        """A person answered `retry` for `cause` to the build that holds this workflow: a
        step of ours held with that cause resumes, one in flight is retried when it fails."""
        self.retried_at[cause] = workflow.now()
        for key, hold in list(self.open.items()):
            if cause in ("", key):
                hold.answer = "retry"
                del self.open[key]

    def _covered(self, cause: str, started: datetime) -> bool:
        return any(at > started for key, at in self.retried_at.items() if key in ("", cause))

    def match(self, scope: str | None) -> PendingDecision | None:
        """The open decision a `decide` for `scope` answers (None, `failure`, or a held scope)."""
        for hold in self.open.values():
            if scope in (None, FAILURE_SCOPE) or scope in hold.failure.scopes:
                return hold.decision
        return None

    def answer(self, choice: str, scope: str | None) -> str | None:
        """Apply a person's choice; the refusal's text, or None when it was taken."""
        for cause, hold in list(self.open.items()):
            whole = scope in (None, FAILURE_SCOPE)
            if not whole and scope not in hold.failure.scopes:
                continue
            if choice not in hold.decision.options:
                return (
                    f"{choice!r} is not an option. Fix: choose {' / '.join(hold.decision.options)}"
                )
            if choice == "retry" and whole:
                self.retried_at[cause] = workflow.now()
            if whole:
                hold.answer = choice
                del self.open[cause]
            else:
                hold.per_scope[str(scope)] = choice
                hold.failure.scopes.remove(str(scope))
                if not hold.failure.scopes:
                    del self.open[cause]
            return None
        return (
            f"no failure waits for {scope}" if scope else "no failure waits"
        ) + ". Fix: decide only what `status` lists under its decisions"


async def all_or_cancel(*steps: Awaitable[Any]) -> list[Any]:
    """`asyncio.gather`, but the first failure cancels the others and waits for them.

    A step a person skipped or stopped must not leave its siblings running: their
    agents would go on writing after the loop moved on.
    """
    tasks = [asyncio.ensure_future(s) for s in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except GeneratorExit:
        # The worker is evicting this run and closing its coroutines: a closed
        # coroutine may not await again, and the siblings are closed with it.
        raise
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
