"""DesignReviewWorkflow: seed 000's `design` command as a durable state machine.

validate -> (split) -> consistency review -> individual reviews -> questions
-> wait for `approved` / `request_changes` -> subtasks XML + plan -> DESIGN_DOC_APPROVED.

Every step that touches a file or a model is an activity; this module only
decides. Human gates are signals (and an update where a wrong answer must be
refused), and nothing here ever advances past a gate on its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.agents.activities import agent_answer_questions
    from contracts.agents import (
        AnswerRequest,
        AnswerResult,
        HumanQuestion,
        ReviewIssue,
        ReviewResult,
        Severity,
    )
    from contracts.config import OrchestratorConfig, ProjectContext
    from contracts.design import (
        CONSISTENCY,
        DESIGN_DOC_APPROVED,
        DESIGN_STOPPED,
        DesignInput,
        DesignResult,
        DesignState,
        DesignStatus,
        ScopeState,
    )
    from contracts.human import (
        DESIGN_STUCK_OPTIONS,
        MAX_SIGNAL_TEXT,
        RETRY_OR_STOP,
        AnswerInput,
        FeedbackInput,
        PendingDecision,
        TrackedQuestion,
        parse_answer,
        signal_input,
    )
    from contracts.metrics import Metrics
    from contracts.plan import SubplanSummary
    from workflows import design_state, project_steps
    from workflows.commands import loop_commands
    from workflows.design_steps import DesignSteps
    from workflows.failures import StepAbandoned, all_or_cancel
    from workflows.inputs import (
        carried_state,
        checked_signal,
        unknown_names,
    )
    from workflows.loop_parts import loop_parts, loop_start
    from workflows.prompts import Prompts, loop_messages
    from workflows.say import say_handler
    from workflows.timestamps import elapsed


@workflow.defn(name="DesignReviewWorkflow")
class DesignReviewWorkflow:
    SIGNALS = (
        "approved",
        "request_changes",
        "answer",
        "decide",
        "!pause",
        "!resume",
        "command",
        "say",
    )
    UPDATES = ("answer_question",)

    @workflow.init
    def __init__(self, *args: Any) -> None:
        self.s: DesignState = carried_state(args, DesignInput) or DesignState()
        self.ctx: ProjectContext | None = None
        self.cfg = OrchestratorConfig()
        self.threshold = 0.96
        self.reviewers: list[str] = []
        self.subplans: list[SubplanSummary] = []
        self.answers: dict[str, str] = {}  # decision scope -> choice
        self.inp: DesignInput | None = None
        parts = loop_parts(self, "design loop", "design", self.SIGNALS, self.UPDATES)
        self.control, self.gate_hints, self.attrs = parts
        self.holds = self.control.holds
        self.prompts = Prompts(
            lambda: self.s.decisions, lambda: self.answers, self.control, self._waiting_for
        )
        # The review and plan steps: composed, given what they share with the loop.
        self.steps = DesignSteps(
            state=lambda: self.s,
            ctx=self._project,
            cfg=lambda: self.cfg,
            subplans=lambda: self.subplans,
            threshold=lambda: self.threshold,
            control=self.control,
            shown=self._details,
        )

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, *args: Any) -> DesignResult:
        inp = self.inp = loop_start("DesignReviewWorkflow", args, DesignInput, self.s)
        try:
            return await self._loop(inp)
        except StepAbandoned as abandoned:
            # A person answered a failed step with `stop`: end cleanly, keeping all on record.
            self.s.stop_reason = abandoned.reason
            self._details(abandoned.reason)
            await self.control.drained()
            return self._result(DESIGN_STOPPED, commit=None)

    async def _loop(self, inp: DesignInput) -> DesignResult:
        self.ctx = await project_steps.resolve(self.control.activity, inp.design_dir)
        self.cfg = self.ctx.config
        await project_steps.hold_for_persons_changes(self.control.activity, self.ctx)
        self.threshold = inp.threshold if inp.threshold is not None else self.cfg.threshold
        self.reviewers = inp.reviewers or list(self.cfg.reviewers.design)
        plan = await self.steps.validate_and_split()
        self.subplans = plan.subtasks
        for name in [CONSISTENCY, *(s.name for s in self.subplans)]:
            self.s.scopes.setdefault(name, ScopeState(name=name))

        limit = asyncio.Semaphore(inp.max_parallel_reviews or self.cfg.max_parallel_reviews)

        async def bounded(name: str) -> None:
            async with limit:
                await self._review_scope(name)

        while not self.s.approved:
            await self._review_scope(CONSISTENCY)
            self.s.phase = "individual-review"
            self._details()

            await all_or_cancel(*(bounded(s.name) for s in self.subplans))
            await self._settle_questions()
            self.s.phase = "awaiting-approval"
            self._details()
            await workflow.wait_condition(lambda: self.s.approved or bool(self.s.feedback))
            if self.s.feedback and not self.s.approved:
                await self._apply_feedback()
                if self.inp is not None:
                    await self.control.continue_as_new_if_suggested(self.inp, self.s)

        commit = await self.steps.artifacts()
        await self.control.drained()
        return self._result(DESIGN_DOC_APPROVED, commit)

    # ------------------------------------------------------------ messages
    # A handler only records an answer or refuses it (visibly, in `status`); the loop
    # acts on what it recorded.

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

    @checked_signal("command", str)
    async def command(self, line: str) -> None:
        await self.gate_hints.run(
            line,
            {
                "approved": lambda _: self.approved(),
                "request_changes": self.request_changes,
                "answer": lambda text: self.answer(parse_answer(text)),
                **loop_commands(self.decide, self.pause, self.resume),
            },
        )

    decide, pause, resume = loop_messages()
    say = say_handler()

    @workflow.query(name="status")
    def status(self) -> DesignStatus:
        total = self.s.ledger.total
        waiting = self._waiting_for()
        return DesignStatus(
            feature=self.ctx.feature if self.ctx else "",
            phase=self.s.phase,
            paused=self.s.paused,
            waiting_for=waiting,
            notice=self.s.notice,
            hint=self.gate_hints.standing(waiting),
            threshold=self.threshold,
            scopes=list(self.s.scopes.values()),
            open_questions=[q for q in self.s.questions if q.status == "open"],
            answered_questions=[q for q in self.s.questions if q.status == "answered"],
            decisions=[*self.holds.decisions(), *self.s.decisions],
            cost_usd=total.cost_usd,
            tokens=total.total_tokens,
        )

    @workflow.query(name="metrics")
    def metrics(self) -> Metrics:
        return Metrics.of(self.s.ledger, elapsed(self.s))

    def _waiting_for(self) -> str:
        return design_state.waiting_for(self.s, self.holds.decisions())

    unknown_signal, unknown_update = unknown_names()

    def _project(self) -> ProjectContext:
        """The project, once the run has read it (every step runs after that)."""
        assert self.ctx is not None
        return self.ctx

    async def _on_hold(self) -> None:
        """A failure hold opened or closed: show it."""
        self._details()

    def _details(self, note: str = "") -> None:
        feature = self.ctx.feature if self.ctx else ""
        who, waiting = design_state.waiting(self.s, self.holds.decisions())
        workflow.set_current_details(design_state.details(self.s, feature, waiting, note))
        self.attrs.show(self.s.phase, who, self.s.ledger.total.cost_usd)

    # ----------------------------------------------------------- the steps

    async def _review_scope(self, name: str) -> None:
        """Review, revise, re-review (blind) until every reviewer clears the bar."""
        sc = self.s.scopes[name]
        if sc.state in ("passed", "accepted", "skipped"):
            return
        try:
            await self._review_rounds(sc)
        except StepAbandoned as abandoned:
            if abandoned.choice != "skip":
                raise
            sc.state, sc.notes = "skipped", abandoned.reason
            self._details()

    async def _review_rounds(self, sc: ScopeState) -> None:
        name = sc.name
        max_rounds = (self.inp and self.inp.max_rounds) or self.cfg.max_rounds
        stuck_after = (self.inp and self.inp.stuck_rounds) or self.cfg.stuck_rounds
        round_cap = max_rounds
        while True:
            if name == CONSISTENCY:
                self.s.phase = "consistency-review"
            sc.round += 1
            sc.state = "reviewing"
            self._details()
            results = await all_or_cancel(
                *(self.steps.review(name, reviewer, sc.round) for reviewer in self.reviewers)
            )
            lowest = design_state.record_round(sc, results)
            await self._collect_questions(name, results)
            bar = sc.threshold if sc.threshold is not None else self.threshold
            if lowest >= bar:
                sc.state = "passed"
                self._details()
                return
            why = design_state.stuck_reason(sc, stuck_after, round_cap)
            if why is not None:
                verdict = await self._when_stuck(sc, why, lowest, bar)
                if verdict == "accept":
                    return
                sc.rounds_without_progress = 0
                round_cap = sc.round + max_rounds
                if verdict == "re-review":
                    continue  # the person edited: re-review without a writer pass
            sc.state = "revising"
            self._details()
            issues = [i for r in results if r.score < bar for i in r.issues if i.blocking]
            await self.steps.edit(
                "design-writer",
                name,
                sc.round,
                focus=self.steps.scope_files(name),
                instructions=(
                    f"Revise the design ({'the whole set' if name == CONSISTENCY else name}) "
                    "so that it resolves the issues below. Read the full reviews for details. "
                    "Keep the subplan metadata format (Dependencies, Files Modified, Estimated "
                    "Hours, Complexity, Acceptance Criteria, Validation Gates)."
                ),
                issues=issues
                or [ReviewIssue(severity=Severity.medium, description="Address the reviews.")],
                review_paths=sc.review_paths,
                message=f"design({self.ctx.feature if self.ctx else ''}): revise {name} "
                f"after review round {sc.round}",
            )

    async def _ask(self, decision: PendingDecision) -> str:
        return await self.prompts.ask(decision)

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

    async def _collect_questions(self, scope: str, results: list[ReviewResult]) -> None:
        """Track new reviewer questions; let the codebase answer what it can first."""
        new = design_state.track_questions(self.s, scope, results)
        if not new:
            return
        assert self.ctx
        result = await self.steps.run_agent(
            agent_answer_questions,
            AnswerRequest(
                **self.steps.call(
                    "question-answerer",
                    scope,
                    1,
                    self.steps.scope_files(scope),
                    "Answer each question from the codebase and the design documents when they "
                    "settle it; otherwise mark it unanswered so a person decides.",
                ).model_dump(),
                questions=[HumanQuestion(id=q.id, text=q.text, options=q.options) for q in new],
            ),
            AnswerResult,
            f"answer questions {', '.join(q.id for q in new)} · {scope}",
        )
        design_state.settle_from_codebase(new, result)
        self._details()

    async def _settle_questions(self) -> None:
        """Wait for the person's answers, then let the writer fold every answer in."""
        if any(q.status == "open" for q in self.s.questions):
            self.s.phase = "questions"
            self._details()
            await workflow.wait_condition(
                lambda: all(q.status == "answered" for q in self.s.questions)
            )
        assert self.ctx
        pending = [q for q in self.s.questions if q.id not in self.s.answers_applied]
        if not pending:
            return
        answers_path = await self.steps.write_answers()
        await self.steps.edit(
            "design-writer",
            "answers",
            len(self.s.answers_applied) + 1,
            focus=[answers_path, *self.steps.scope_files(CONSISTENCY)],
            instructions=(
                f"The questions in {answers_path} have been answered. Update the overview and "
                "the subplans so that they state each decision explicitly."
            ),
            issues=[
                ReviewIssue(
                    severity=Severity.medium,
                    description=f"{q.id} {q.text} -> {q.choice}) {q.answer_text()}",
                )
                for q in pending
            ],
            message=f"design({self.ctx.feature}): apply answers "
            + ", ".join(q.id for q in pending),
        )
        self.s.answers_applied += [q.id for q in pending]

    async def _apply_feedback(self) -> None:
        """request_changes: the writer revises, then every scope is reviewed again, blind."""
        assert self.ctx
        self.s.phase = "revising"
        feedback = list(self.s.feedback)
        self.s.feedback.clear()
        self._details()
        await self.steps.edit(
            "design-writer",
            CONSISTENCY,
            self.s.scopes[CONSISTENCY].round,
            focus=self.steps.scope_files(CONSISTENCY),
            instructions="A person requested changes to the design. Apply them.",
            issues=[ReviewIssue(severity=Severity.high, description=f) for f in feedback],
            message=f"design({self.ctx.feature}): apply requested changes",
            choices=RETRY_OR_STOP,
        )
        self.s.applied_feedback += feedback
        self.s.reviews_cycle += 1
        for sc in self.s.scopes.values():
            sc.state = "pending"
            sc.best = 0.0
            sc.rounds_without_progress = 0
            sc.threshold = None

    def _result(self, result: str, commit: str | None) -> DesignResult:
        # Kept after the end (a worker answers for a closed run): the result and what it wrote.
        self._details(
            f"ended: **{result}**; commit {commit or '-'}; "
            f"{len(self.s.artifacts)} files written: {', '.join(self.s.artifacts[:8])}"
            + (f"; {self.s.stop_reason}" if self.s.stop_reason else "")
        )
        total = self.s.ledger.total
        return DesignResult(
            result=result,
            feature=self.ctx.feature if self.ctx else "",
            rounds={n: sc.round for n, sc in self.s.scopes.items()},
            final_scores={n: dict(sc.scores) for n, sc in self.s.scopes.items()},
            questions=self.s.questions,
            subtasks=[s.name for s in self.subplans],
            artifacts=self.s.artifacts,
            commit=commit,
            tokens=total.total_tokens,
            cost_usd=total.cost_usd,
            stop_reason=self.s.stop_reason,
        )
