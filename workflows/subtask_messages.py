"""What the build (or a person through it) can say to a subtask, and what it asks.

A mixin of `SubtaskWorkflow`. A subtask asks a person only through its build,
which shows the question in `status` and forwards the answer as `decide`.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import SubtaskState
    from contracts.human import DecideInput, PendingDecision
    from workflows.failures import FailureHolds


class SubtaskMessages:
    """Uses the subtask's state, holds and `decision_answer`, and its `_phase` and `_report`."""

    s: SubtaskState
    holds: FailureHolds
    decision_answer: str | None

    async def _ask(self, decision: PendingDecision) -> str:
        self.decision_answer = None
        self.s.decision = decision
        self._phase(f"waiting for a decision ({decision.kind})")
        await self._report()
        await workflow.wait_condition(lambda: self.decision_answer is not None)
        choice = self.decision_answer or ""
        self.s.decision, self.decision_answer = None, None
        self._phase("resuming")
        await self._report()
        return choice

    @workflow.signal(name="decide")
    def decide(self, decision: DecideInput | str) -> None:
        choice = (decision.choice if isinstance(decision, DecideInput) else decision).strip()
        if self.holds.holding:
            refused = self.holds.answer(choice.lower(), None)
            if refused:
                workflow.logger.warning("ignored decide %r: %s", choice, refused)
            return
        if self.s.decision is None:
            workflow.logger.warning("ignored decide %r: nothing is waiting", choice)
            return
        if choice.lower() not in self.s.decision.options:
            workflow.logger.warning(
                "ignored decide %r: options are %s", choice, self.s.decision.options
            )
            return
        self.decision_answer = choice.lower()

    @workflow.signal(name="!pause")
    def pause(self) -> None:
        self.s.paused = True

    @workflow.signal(name="!resume")
    def resume(self) -> None:
        self.s.paused = False

    @workflow.signal(name="budget_hold")
    def set_budget_hold(self, hold: bool) -> None:
        self.s.budget_hold = hold  # in the state: it holds across continue-as-new

    @workflow.signal(name="failure_hold")
    def set_failure_hold(self, hold: bool) -> None:
        self.s.failure_hold = hold

    @workflow.query(name="status")
    def status(self) -> SubtaskState:
        return self.s
