"""What every loop does the same way, written once: one object each loop owns and calls.

Pause and resume, the build's budget gate, failure holds (`FailureHolds`), a refused
signal shown in `status`, the first routing and the option check of `decide`, the
answer to a signal or update the loop has no handler for, running a step that holds
for a person when it fails for good, and draining the handlers before the loop
continues as new or returns. Composed, not inherited (temporalio/samples-python
`safe_message_handlers`): the loop passes what it shares in, as callables, so the
object never reaches into the loop's attributes and mypy checks every use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.human import FAILURE_OPTIONS, FailureInfo, unknown_message
    from workflows.failures import FailureHolds
    from workflows.inputs import checked_signal

T = TypeVar("T")


class Pausable(Protocol):
    """The part of a loop's state (carried across continue-as-new) this object keeps."""

    paused: bool
    notice: str


class Holdable(Pausable, Protocol):
    """A loop that its build (or its own budget) can hold: the build and its children."""

    budget_hold: bool
    failure_hold: bool


class HasInputState(Protocol):
    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Any: ...


async def _nothing() -> None:
    return None


class LoopControl:
    """One loop's shared policy. `state` returns the loop's state (replaced on restore);
    `shown` refreshes what a person sees after a change (status, the Web UI's details);
    `notify` is told when a failure hold opens or closes; `scope` names the loop's own
    steps in a failure hold, which offers `step_options`."""

    def __init__(
        self,
        loop: str,
        signals: tuple[str, ...],
        updates: tuple[str, ...] = (),
        *,
        state: Callable[[], Pausable],
        held_by: Callable[[], Holdable] | None = None,
        shown: Callable[[], None] = lambda: None,
        notify: Callable[[], Awaitable[None]] = _nothing,
        scope: Callable[[], str],
        step_options: Sequence[str] = FAILURE_OPTIONS,
    ) -> None:
        self.loop, self.signals, self.updates = loop, signals, updates
        self.state, self.held_by = state, held_by
        self.shown, self.notify, self.scope = shown, notify, scope
        self.step_options = step_options
        self.holds = FailureHolds()
        self.budget_answer: str | None = None

    # ------------------------------------------------------------ pause, holds

    def pause(self) -> None:
        self.state().paused = True
        self.shown()

    def resume(self) -> None:
        self.state().paused = False
        self.shown()

    @property
    def held(self) -> bool:
        """Paused, or held by the budget or a failure: no new agent or child starts."""
        if self.state().paused:
            return True
        s = self.held_by() if self.held_by is not None else None
        return s is not None and (s.budget_hold or s.failure_hold)

    async def hold_found(
        self,
        step: str,
        error: str,
        cause: str,
        *,
        error_type: str | None = None,
        scope: str | None = None,
        options: Sequence[str] = FAILURE_OPTIONS,
    ) -> None:
        """Hold for a person on a failure the loop found itself (no activity raised it),
        shown like a failed step's: `error` says what and the fix, `cause` shares the hold
        (and is its error type unless one is given), `scope` defaults to the loop's own.
        Returns on `retry`; another choice raises `StepAbandoned`."""
        failure = FailureInfo(
            step=step,
            scopes=[scope or self.scope()],
            error=error,
            error_type=error_type or cause,
            cause=cause,
        )
        await self.holds.ask(failure, options, self.notify)

    def hold_budget(self, hold: bool) -> None:
        """The build's budget gate, as its children hear of it (kept across continue-as-new)."""
        assert self.held_by is not None
        self.held_by().budget_hold = hold

    def hold_failure(self, hold: bool) -> None:
        assert self.held_by is not None
        self.held_by().failure_hold = hold

    async def budget_gate(
        self, tell: Callable[[bool], Awaitable[None]], answered: Callable[[str], None]
    ) -> None:
        """Hold new agents at the budget until a person answers `raise` or `stop` (given
        to `answered` before the hold lifts). `tell` shows the hold and passes it on (to
        the build's children)."""
        # Reset the answer before the hold is visible: a person may answer at once.
        self.budget_answer = None
        self.hold_budget(True)
        await tell(True)
        await workflow.wait_condition(lambda: self.budget_answer is not None)
        answered(self.budget_answer or "")
        self.hold_budget(False)
        self.budget_answer = None
        await tell(False)

    def answer_budget(self, choice: str) -> None:
        """A person's answer to the budget gate (`raise` or `stop`)."""
        self.budget_answer = choice

    # ------------------------------------------------------------ refusals, decide

    def refuse(self, why: str) -> None:
        """A refused signal: in `status` (and the log), not only in the worker's log."""
        workflow.logger.warning("refused %s", why)
        self.state().notice = f"refused {why}"
        self.shown()

    def tell(self, text: str) -> None:
        """What a person asked the loop for (`!help`, `!status`, `!budget`): the notice
        `status` shows."""
        self.state().notice = text
        self.shown()

    def failure_answered(self, choice: str, scope: str | None) -> bool:
        """`decide` first answers an open failure hold it matches (True when one did;
        a choice it cannot take is refused)."""
        if self.holds.match(scope) is None:
            return False
        refused = self.holds.answer(choice.strip().lower(), scope)
        if refused:
            self.refuse(f"decide: {refused}")
        return True

    def offered(self, choice: str, options: Sequence[str], what: str = "") -> bool:
        """Is `choice` one of `options`? If not, it is refused, naming them."""
        if choice in options:
            return True
        self.refuse(
            f"decide {choice!r}: not an option{f' for {what}' if what else ''}. Fix: choose "
            f"{' / '.join(options)}"
        )
        return False

    def unknown_signal(self, name: str) -> None:
        """Without it a misspelt signal (`approve` for `approved`) is kept unread, unheard of."""
        self.refuse(unknown_message("signal", name, self.loop, self.signals))

    def unknown_update(self, name: str) -> None:
        """A misspelt update is refused naming the real ones (the SDK says only "not found")."""
        if self.updates:
            raise ValueError(unknown_message("update", name, self.loop, self.updates))
        raise ValueError(
            f"the {self.loop} takes no updates, so not {name!r}. Fix: send a signal instead "
            f"({', '.join(self.signals)}; docs/commands.md lists each with its input)"
        )

    # ------------------------------------------------------------ steps

    async def held_step(
        self,
        summary: str,
        call: Callable[[], Awaitable[T]],
        options: Sequence[str] | None = None,
    ) -> T:
        """Run `call`; when it fails for good, hold for a person (`retry` runs it again)."""
        return await self.holds.run(
            self.scope(),
            summary,
            call,
            options=self.step_options if options is None else options,
            notify=self.notify,
        )

    async def activity(
        self,
        activity: Any,
        arg: Any,
        *,
        result_type: type[T] | None,
        summary: str,
        hold: bool = True,
        **opts: Any,
    ) -> T:
        """A step of the loop itself; one that fails for good holds for a person (unless
        `hold` is False: a step that only tidies up, or runs while the loop is cancelled)."""

        def call() -> Awaitable[T]:
            return workflow.execute_activity(
                activity, arg, result_type=result_type, summary=summary, **opts
            )

        if not hold:
            return await call()
        return await self.held_step(summary, call)

    # ------------------------------------------------------------ ending a run

    async def drained(self) -> None:
        """Every handler finished: before the run returns or continues as new."""
        await workflow.wait_condition(workflow.all_handlers_finished)

    @staticmethod
    def continue_as_new_suggested() -> bool:
        return workflow.info().is_continue_as_new_suggested()

    async def continue_as_new_if_suggested(self, inp: HasInputState, state: object) -> None:
        """At a step boundary: a long history continues as new, carrying the state."""
        if self.continue_as_new_suggested():
            await self.continue_as_new(inp, state)

    async def continue_as_new(self, inp: HasInputState, state: object) -> NoReturn:
        """Drain the handlers, then continue as new with the loop's state in its input."""
        await self.drained()
        workflow.continue_as_new(inp.model_copy(update={"state": state}))


class _Pause:
    """Not a base class: the holder of the `!pause` and `!resume` handlers that
    `pause_messages` hands out."""

    control: LoopControl

    @checked_signal("!pause")
    def pause(self) -> None:
        self.control.pause()

    @checked_signal("!resume")
    def resume(self) -> None:
        self.control.resume()


def pause_messages() -> tuple[Any, Any]:
    """`pause, resume`, to assign in the class body of a loop (or of a holder of its
    handlers) whose pause is only its own (`control`); the build's also tells its children."""
    return _Pause.pause, _Pause.resume
