"""What a person (or the CLI) can say to the design loop, and what it shows them.

A mixin of `DesignReviewWorkflow`: the signals, the update and the queries. The
handlers only record an answer or refuse it (visibly, in `status`); the loop
itself acts on what they recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.config import ProjectContext
    from contracts.design import DesignState, DesignStatus, ScopeState
    from contracts.human import (
        DESIGN_STUCK_OPTIONS,
        MAX_SIGNAL_TEXT,
        AnswerInput,
        DecideInput,
        FeedbackInput,
        PendingDecision,
        TrackedQuestion,
        parse_answer,
        parse_decide,
        signal_input,
    )
    from contracts.metrics import Metrics
    from workflows import design_state
    from workflows.commands import run_command
    from workflows.failures import FailureHolds
    from workflows.inputs import checked_signal, unknown_names
    from workflows.loop_control import LoopControl


class DesignMessages:
    """Uses the loop's state, context, threshold, holds and `answers` (scope -> choice).
    `_ask` and `_when_stuck` put a question to the person and wait for the answer."""

    SIGNALS = ("approved", "request_changes", "answer", "decide", "!pause", "!resume", "command")
    UPDATES = ("answer_question",)

    s: DesignState
    ctx: ProjectContext | None
    control: LoopControl
    threshold: float
    holds: FailureHolds
    answers: dict[str, str]

    async def _ask(self, decision: PendingDecision) -> str:
        """Put a question to the person and wait; never decided on their behalf."""
        self.answers.pop(decision.scope, None)
        self.s.decisions.append(decision)
        self._details()
        await workflow.wait_condition(lambda: decision.scope in self.answers)
        self.s.decisions = [d for d in self.s.decisions if d.scope != decision.scope]
        choice = self.answers.pop(decision.scope)
        self._details()
        return choice

    async def _when_stuck(self, sc: ScopeState, why: str, lowest: float, bar: float) -> str:
        """Ask the person about a stuck scope: `accept` (it passes as it is), `re-review`
        (they edited it together) or `revise` (another writer round)."""
        sc.state = "stuck"
        choice = await self._ask(
            PendingDecision(
                scope=sc.name,
                prompt=(
                    f"Design scope {sc.name} is stuck after round {sc.round} ({why}); "
                    f"lowest score {lowest:.2f}, bar {bar:.2f}. Continue, accept it as "
                    "it is, or review it together?"
                ),
                options=list(DESIGN_STUCK_OPTIONS),
            )
        )
        if choice == "review-together":
            sc.state = "waiting"
            choice = await self._ask(
                PendingDecision(
                    scope=sc.name,
                    kind="review-together",
                    prompt=(
                        f"Paused on {sc.name} so you can review it together. Edit the "
                        "files if you like, then continue (re-review) or accept."
                    ),
                    options=["continue", "accept"],
                )
            )
            if choice != "accept":
                return "re-review"
        if choice == "accept":
            sc.threshold = lowest
            sc.state = "accepted"
            self._details()
            return "accept"
        return "revise"

    @checked_signal("approved", str, optional=True)
    def approved(self, note: str | None = None) -> None:
        # Only at the gate: an approval sent before the final reviews were seen is not one.
        if self.s.phase == "awaiting-approval":
            self.s.approved = True
        else:
            self.control.refuse(
                f"approved: the phase is {self.s.phase}, not the approval gate. Fix: approve "
                f"when `status` shows awaiting-approval (now waiting for: {self._waiting_for()})"
            )

    @checked_signal("request_changes", FeedbackInput | str)
    def request_changes(self, feedback: FeedbackInput | str) -> None:
        text = feedback.feedback if isinstance(feedback, FeedbackInput) else str(feedback)
        if len(text) > MAX_SIGNAL_TEXT:
            self.control.refuse(
                f"request_changes: {len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: put "
                "the details in a file in the design directory and refer to it"
            )
            return
        if not text.strip():
            self.control.refuse(
                "request_changes: the feedback is empty. Fix: say what to change, e.g. "
                '"split 02-api in two"'
            )
            return
        self.s.feedback.append(text.strip())
        self.s.approved = False

    @checked_signal("answer", AnswerInput)
    def answer(self, answer: AnswerInput) -> None:
        try:
            design_state.check_answer(self.s, answer)
            design_state.check_change(self.s, answer)
        except ValueError as err:
            self.control.refuse(f"answer: {err}")
            return
        self._apply_answer(answer)

    @workflow.update(name="answer_question")
    def answer_question(self, *args: Any) -> str:
        q = self._apply_answer(signal_input("answer_question", args, AnswerInput))
        return f"{q.id}: {q.choice}) {q.answer_text()}"

    @answer_question.validator
    def _validate_answer(self, *args: Any) -> None:
        # Any input is taken here, so a malformed one is refused with what to send
        # (typed, the SDK would refuse it as "Failed decoding arguments").
        answer = signal_input("answer_question", args, AnswerInput)
        design_state.check_answer(self.s, answer)
        design_state.check_change(self.s, answer)

    def _apply_answer(self, answer: AnswerInput) -> TrackedQuestion:
        q = design_state.apply_answer(self.s, answer)
        self._details()
        return q

    @checked_signal("decide", DecideInput)
    def decide(self, decision: DecideInput) -> None:
        if self.control.failure_answered(decision.choice, decision.scope):
            return
        pending = [
            d
            for d in self.s.decisions
            if decision.scope in (None, d.scope) and d.scope not in self.answers
        ]
        if not pending:
            self.control.refuse(
                f"decide: nothing waits for {decision.scope or 'a decision'}. Fix: decide only "
                f"what `status` lists (now waiting for: {self._waiting_for()})"
            )
            return
        target = pending[0]
        choice = decision.choice.strip().lower()
        if self.control.offered(choice, target.options, target.scope):
            self.answers[target.scope] = choice

    @checked_signal("!pause")
    def pause(self) -> None:
        self.control.pause()

    @checked_signal("!resume")
    def resume(self) -> None:
        self.control.resume()

    @checked_signal("command", str)
    async def command(self, line: str) -> None:
        await run_command(
            line,
            {
                "approved": lambda _: self.approved(),
                "request_changes": self.request_changes,
                "answer": lambda text: self.answer(parse_answer(text)),
                "decide": lambda text: self.decide(parse_decide(text)),
                "!pause": lambda _: self.pause(),
                "!resume": lambda _: self.resume(),
            },
            self.control.refuse,
        )

    @workflow.query(name="status")
    def status(self) -> DesignStatus:
        total = self.s.ledger.total
        return DesignStatus(
            feature=self.ctx.feature if self.ctx else "",
            phase=self.s.phase,
            paused=self.s.paused,
            waiting_for=self._waiting_for(),
            threshold=self.threshold,
            scopes=list(self.s.scopes.values()),
            open_questions=[q for q in self.s.questions if q.status == "open"],
            answered_questions=[q for q in self.s.questions if q.status == "answered"],
            decisions=[*self.holds.decisions(), *self.s.decisions],
            cost_usd=total.cost_usd,
            tokens=total.total_tokens,
            notice=self.s.notice,
        )

    @workflow.query(name="metrics")
    def metrics(self) -> Metrics:
        started = self.s.started_at
        elapsed = 0.0
        if started:
            elapsed = (workflow.now() - datetime.fromisoformat(started)).total_seconds()
        return Metrics.of(self.s.ledger, elapsed)

    def _waiting_for(self) -> str:
        return design_state.waiting_for(self.s, self.holds.decisions())

    unknown_signal, unknown_update = unknown_names()

    def _details(self, note: str = "") -> None:
        feature = self.ctx.feature if self.ctx else ""
        workflow.set_current_details(
            design_state.details(self.s, feature, self._waiting_for(), note)
        )
