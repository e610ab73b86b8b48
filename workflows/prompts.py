"""A loop's own questions to a person (`decide`): asked, shown in `status`, answered.

The design and release loops put their prompts (stuck, a gate's findings) the same
way: the prompt joins the loop's pending decisions, the loop waits for its answer, and
`decide` takes only an offered choice for a prompt that waits (a failure hold's
answer is matched first). Composed like `LoopControl`: the loop passes where its
prompts and answers live, as callables, since a restored state replaces them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.human import DecideInput, PendingDecision
    from workflows.inputs import checked_signal
    from workflows.loop_control import LoopControl, pause_messages


class Prompts:
    def __init__(
        self,
        decisions: Callable[[], list[PendingDecision]],
        answers: Callable[[], dict[str, str]],
        control: LoopControl,
        waiting_for: Callable[[], str],
    ) -> None:
        self.decisions, self.answers = decisions, answers
        self.control, self.waiting_for = control, waiting_for

    def decide(self, decision: DecideInput) -> None:
        """A failure hold it answers first; else the first waiting prompt it names."""
        if self.control.failure_answered(decision.choice, decision.scope):
            return
        answers = self.answers()
        pending = [
            d
            for d in self.decisions()
            if decision.scope in (None, d.scope) and d.scope not in answers
        ]
        if not pending:
            self.control.refuse(
                f"decide: nothing waits for {decision.scope or 'a decision'}. Fix: decide only "
                f"what `status` lists (now waiting for: {self.waiting_for()})"
            )
            return
        target = pending[0]
        choice = decision.choice.strip().lower()
        if self.control.offered(choice, target.options, target.scope):
            answers[target.scope] = choice

    async def ask(self, decision: PendingDecision) -> str:
        """Put a question to the person and wait; never decided on their behalf."""
        self.answers().pop(decision.scope, None)
        self.decisions().append(decision)
        self.control.shown()
        await workflow.wait_condition(lambda: decision.scope in self.answers())
        kept = [d for d in self.decisions() if d.scope != decision.scope]
        self.decisions().clear()
        self.decisions().extend(kept)
        choice = self.answers().pop(decision.scope)
        self.control.shown()
        return choice


class _LoopMessages:
    """Not a base class: the holder of the handlers `loop_messages` hands out."""

    control: LoopControl
    prompts: Prompts

    @checked_signal("decide", DecideInput)
    def decide(self, decision: DecideInput) -> None:
        self.prompts.decide(decision)

    pause, resume = pause_messages()


def loop_messages() -> tuple[Any, Any, Any]:
    """`decide, pause, resume` of a loop a person started (the design and release loops),
    to assign in its class body; they answer through its `prompts` and `control`."""
    m = _LoopMessages
    return m.decide, m.pause, m.resume
