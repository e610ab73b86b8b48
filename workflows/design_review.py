"""DesignReviewWorkflow: seed 000's `design` command as a durable state machine.

validate -> (split) -> consistency review -> individual reviews -> questions
-> wait for `approved` / `request_changes` -> subtasks XML + plan -> DESIGN_DOC_APPROVED.

Every step that touches a file or a model is an activity; this module only
decides. Human gates are signals (and an update where a wrong answer must be
refused), and nothing here ever advances past a gate on its own.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.agents import (
        AnswerRequest,
        AnswerResult,
        HumanQuestion,
        ReviewIssue,
        ReviewResult,
        Severity,
        SubtaskDraftRequest,
        SubtaskDraftResult,
    )
    from contracts.config import ConfigRequest, OrchestratorConfig, ProjectContext
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
    from contracts.git import CommitPathsRequest, CommitResult
    from contracts.human import (
        DESIGN_STUCK_OPTIONS,
        MAX_SIGNAL_TEXT,
        AnswerInput,
        DecideInput,
        FailureInfo,
        FeedbackInput,
        PendingDecision,
        TrackedQuestion,
        parse_answer,
        parse_decide,
    )
    from contracts.metrics import Metrics
    from contracts.plan import PlanRequest, PlanResult, SubplanSummary
    from workflows import design_state, names, options
    from workflows.commands import run_command
    from workflows.design_steps import DesignSteps
    from workflows.failures import FailureHolds, StepAbandoned, all_or_cancel


@workflow.defn(name="DesignReviewWorkflow")
class DesignReviewWorkflow(DesignSteps):
    def __init__(self) -> None:
        self.s = DesignState()
        self.ctx: ProjectContext | None = None
        self.cfg = OrchestratorConfig()
        self.threshold = 0.96
        self.reviewers: list[str] = []
        self.subplans: list[SubplanSummary] = []
        self.answers: dict[str, str] = {}  # decision scope -> choice
        self.inp: DesignInput | None = None
        self.holds = FailureHolds()

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, inp: DesignInput) -> DesignResult:
        self.inp = inp
        if inp.state is not None:
            self.s = inp.state
        if self.s.started_at is None:
            self.s.started_at = workflow.now().isoformat()
        try:
            return await self._loop(inp)
        except StepAbandoned as abandoned:
            # A person answered a failed step with `stop`: end cleanly, keeping all on record.
            self.s.stop_reason = abandoned.reason
            self._details(abandoned.reason)
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self._result(DESIGN_STOPPED, commit=None)

    async def _loop(self, inp: DesignInput) -> DesignResult:
        self.ctx = await self._resolve(inp.design_dir)
        self.cfg = self.ctx.config
        self.threshold = inp.threshold if inp.threshold is not None else self.cfg.threshold
        self.reviewers = inp.reviewers or list(self.cfg.reviewers.design)
        plan = await self._validate_and_split()
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
            await self._wait(lambda: self.s.approved or bool(self.s.feedback))
            if self.s.feedback and not self.s.approved:
                await self._apply_feedback()
                self._maybe_continue_as_new()

        return await self._artifacts()

    # ----------------------------------------------------------- the steps

    async def _resolve(self, design_dir: str) -> ProjectContext:
        return await self._activity(
            names.RESOLVE_PROJECT,
            ConfigRequest(design_dir=design_dir),
            result_type=ProjectContext,
            summary=f"resolve {design_dir}",
            **options.quick(),
        )

    async def _plan(self, write: bool = False) -> PlanResult:
        """The plan engine's checks; its message names file, problem and fix, and holds."""
        assert self.ctx
        return await self._activity(
            names.PLAN_DESIGN,
            PlanRequest(design_dir=self.ctx.design_dir, write=write),
            result_type=PlanResult,
            summary=f"plan {self.ctx.feature}" + (" (write)" if write else ""),
            **options.quick(),
        )

    async def _validate_and_split(self) -> PlanResult:
        """The plan engine's checks; a directory without subplans is split by the splitter."""
        assert self.ctx
        self.s.phase = "starting"
        self._details()
        plan = await self._plan()
        if not plan.subtasks:
            self.s.phase = "splitting"
            self._details("the splitter decomposes overview.md into subplans")
            await self._edit(
                "subplan-splitter",
                "split",
                1,
                focus=[self._rel("overview.md")],
                instructions=(
                    f"Decompose {self._rel('overview.md')} into subplans written as "
                    f"{self._rel('subplans')}/NN-name.md (NN = 01, 02, ...; names are lower-case "
                    "slugs). Each subplan: under 20K tokens, 1-2 days of work, explicit "
                    "**Dependencies**, **Files Modified**, **Estimated Hours**, **Complexity**, "
                    "an Acceptance Criteria checkbox list and Validation Gates."
                ),
                message=f"design({self.ctx.feature}): split overview into subplans",
            )
            plan = await self._plan()
            while not plan.subtasks:
                # Not a bug: a person can write the subplans, then retry.
                await self.holds.ask(
                    FailureInfo(
                        step="split overview.md into subplans",
                        scopes=["split"],
                        error=f"{self._rel('subplans')}: the splitter wrote no subplans. Fix: "
                        "write subplans/NN-name.md by hand or check the splitter role",
                        error_type="PlanError",
                        cause="PlanError:no-subplans",
                    ),
                    ("retry", "stop"),
                    self._on_hold,
                )
                plan = await self._plan()
        oversized = [s for s in plan.subtasks if self._warned(plan, s, "token")]
        for sub in oversized:
            await self._edit(
                "subplan-splitter",
                sub.name,
                0,
                focus=[self._rel(sub.path)],
                instructions=(
                    f"{self._rel(sub.path)} is over the 20K-token limit. Split it into smaller "
                    "subplans (new NN-name.md files next to it, dependencies updated in every "
                    "subplan that named it) and delete or shrink the original."
                ),
                message=f"design({self.ctx.feature}): split oversized {sub.name}",
            )
        missing_ac = [s for s in plan.subtasks if self._warned(plan, s, "acceptance")]
        for sub in missing_ac:
            await self._edit(
                "design-writer",
                sub.name,
                0,
                focus=[self._rel("overview.md"), self._rel(sub.path)],
                instructions=(
                    f"{self._rel(sub.path)} has no acceptance criteria. Add an "
                    "`## Acceptance Criteria` section of testable `- [ ]` items."
                ),
                message=f"design({self.ctx.feature}): acceptance criteria for {sub.name}",
            )
        if oversized or missing_ac:
            plan = await self._plan()
        return plan

    @staticmethod
    def _warned(plan: PlanResult, sub: SubplanSummary, what: str) -> bool:
        """Did the plan engine warn about this subplan (`token` limit, `acceptance` criteria)?"""
        marker = "-token limit" if what == "token" else "no acceptance criteria"
        return any(
            marker in w and (f"/{sub.name}.md" in w or w.startswith(f"{sub.name}.md"))
            for w in plan.plan.warnings
        )

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
                *(self._review(name, reviewer, sc.round) for reviewer in self.reviewers)
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
                sc.state = "stuck"
                choice = await self._ask(
                    PendingDecision(
                        scope=name,
                        prompt=(
                            f"Design scope {name} is stuck after round {sc.round} ({why}); "
                            f"lowest score {lowest:.2f}, bar {bar:.2f}. Continue, accept it as "
                            "it is, or review it together?"
                        ),
                        options=list(DESIGN_STUCK_OPTIONS),
                    )
                )
                if choice == "accept":
                    sc.threshold = lowest
                    sc.state = "accepted"
                    self._details()
                    return
                if choice == "review-together":
                    sc.state = "waiting"
                    choice = await self._ask(
                        PendingDecision(
                            scope=name,
                            kind="review-together",
                            prompt=(
                                f"Paused on {name} so you can review it together. Edit the "
                                "files if you like, then continue (re-review) or accept."
                            ),
                            options=["continue", "accept"],
                        )
                    )
                    if choice == "accept":
                        sc.threshold = lowest
                        sc.state = "accepted"
                        self._details()
                        return
                    sc.rounds_without_progress = 0
                    round_cap = sc.round + max_rounds
                    continue  # the person edited: re-review without a writer pass
                sc.rounds_without_progress = 0
                round_cap = sc.round + max_rounds
            sc.state = "revising"
            self._details()
            issues = [i for r in results if r.score < bar for i in r.issues]
            await self._edit(
                "design-writer",
                name,
                sc.round,
                focus=self._scope_files(name),
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

    async def _collect_questions(self, scope: str, results: list[ReviewResult]) -> None:
        """Track new reviewer questions; let the codebase answer what it can first."""
        new = design_state.track_questions(self.s, scope, results)
        if not new:
            return
        assert self.ctx
        result: AnswerResult = await self._agent(
            names.AGENT_ANSWER,
            AnswerRequest(
                **self._call(
                    "question-answerer",
                    scope,
                    1,
                    self._scope_files(scope),
                    "Answer each question from the codebase and the design documents when they "
                    "settle it; otherwise mark it unanswered so a person decides.",
                ).model_dump(),
                questions=[HumanQuestion(id=q.id, text=q.text, options=q.options) for q in new],
            ),
            AnswerResult,
            f"answer questions {', '.join(q.id for q in new)} · {scope}",
            "question-answerer",
            scope,
        )
        design_state.settle_from_codebase(new, result)
        self._details()

    async def _settle_questions(self) -> None:
        """Wait for the person's answers, then let the writer fold every answer in."""
        if any(q.status == "open" for q in self.s.questions):
            self.s.phase = "questions"
            self._details()
            await self._wait(lambda: all(q.status == "answered" for q in self.s.questions))
        assert self.ctx
        pending = [q for q in self.s.questions if q.id not in self.s.answers_applied]
        if not pending:
            return
        answers_path = await self._write_answers()
        await self._edit(
            "design-writer",
            "answers",
            len(self.s.answers_applied) + 1,
            focus=[answers_path, *self._scope_files(CONSISTENCY)],
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
        await self._edit(
            "design-writer",
            CONSISTENCY,
            self.s.scopes[CONSISTENCY].round,
            focus=self._scope_files(CONSISTENCY),
            instructions="A person requested changes to the design. Apply them.",
            issues=[ReviewIssue(severity=Severity.high, description=f) for f in feedback],
            message=f"design({self.ctx.feature}): apply requested changes",
            choices=("retry", "stop"),
        )
        self.s.applied_feedback += feedback
        self.s.reviews_cycle += 1
        for sc in self.s.scopes.values():
            sc.state = "pending"
            sc.best = 0.0
            sc.rounds_without_progress = 0
            sc.threshold = None

    async def _artifacts(self) -> DesignResult:
        """After approval: XML subtasks, plan files, one commit."""
        assert self.ctx
        self.s.phase = "artifacts"
        self._details()
        limit = asyncio.Semaphore(self.cfg.max_parallel_reviews)

        async def draft(sub: SubplanSummary) -> str:
            async with limit:
                xml = self._rel(f"subtasks/{sub.name}.xml")
                result: SubtaskDraftResult = await self._agent(
                    names.AGENT_DRAFT,
                    SubtaskDraftRequest(
                        **self._call(
                            "subtask-drafter",
                            sub.name,
                            1,
                            [self._rel(sub.path)],
                            f"Fill the subtask model for {sub.name} from its subplan: summary, "
                            "scope in/out, dependencies, files, steps, tests, gate commands, "
                            "acceptance criteria, safety notes.",
                        ).model_dump(),
                        subplan_path=self._rel(sub.path),
                        xml_path=xml,
                    ),
                    SubtaskDraftResult,
                    f"draft subtasks/{sub.name}.xml",
                    "subtask-drafter",
                    sub.name,
                )
                return result.xml_path

        xml_paths = await all_or_cancel(*(draft(s) for s in self.subplans))
        plan = await self._plan(write=True)
        answers = [await self._write_answers()] if self.s.questions else []
        commit: CommitResult = await self._activity(
            names.GIT_COMMIT_PATHS,
            CommitPathsRequest(
                repo_root=self.ctx.repo_root,
                paths=[self.ctx.design_rel],
                message=f"design({self.ctx.feature}): approved — subtasks, plan and reviews",
            ),
            result_type=CommitResult,
            summary=f"commit design artifacts · {self.ctx.feature}",
            **options.quick(),
        )
        self.s.artifacts = [*xml_paths, *plan.written, *answers]
        self.s.phase = "approved"
        self._details()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result(DESIGN_DOC_APPROVED, commit.commit)

    def _result(self, result: str, commit: str | None) -> DesignResult:
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

    # ------------------------------------------------------------ waiting

    async def _wait(self, condition) -> None:  # type: ignore[no-untyped-def]
        await workflow.wait_condition(condition)

    async def _ask(self, decision: PendingDecision) -> str:
        """Put a question to the person and wait; never decided on their behalf."""
        self.answers.pop(decision.scope, None)
        self.s.decisions.append(decision)
        self._details()
        await self._wait(lambda: decision.scope in self.answers)
        self.s.decisions = [d for d in self.s.decisions if d.scope != decision.scope]
        choice = self.answers.pop(decision.scope)
        self._details()
        return choice

    def _maybe_continue_as_new(self) -> None:
        if workflow.info().is_continue_as_new_suggested() and self.inp is not None:
            workflow.continue_as_new(self.inp.model_copy(update={"state": self.s}))

    # ----------------------------------------------------------- messages

    @workflow.signal(name="approved")
    def approved(self, note: str | None = None) -> None:
        # Only at the gate: an approval sent before the final reviews were seen is not one.
        if self.s.phase == "awaiting-approval":
            self.s.approved = True
        else:
            self._refuse(f"approved: the phase is {self.s.phase}, not the approval gate")

    @workflow.signal(name="request_changes")
    def request_changes(self, feedback: FeedbackInput | str) -> None:
        text = feedback.feedback if isinstance(feedback, FeedbackInput) else str(feedback)
        if len(text) > MAX_SIGNAL_TEXT:
            self._refuse(
                f"request_changes: {len(text)} characters, more than {MAX_SIGNAL_TEXT}; put the "
                "details in a file in the design directory and refer to it"
            )
            return
        if text.strip():
            self.s.feedback.append(text.strip())
            self.s.approved = False

    @workflow.signal(name="answer")
    def answer(self, answer: AnswerInput) -> None:
        try:
            self._validate_answer(answer)
        except ValueError as err:
            self._refuse(f"answer: {err}")
            return
        self._apply_answer(answer)

    @workflow.update(name="answer_question")
    def answer_question(self, answer: AnswerInput) -> str:
        q = self._apply_answer(answer)
        return f"{q.id}: {q.choice}) {q.answer_text()}"

    @answer_question.validator
    def _validate_answer(self, answer: AnswerInput) -> None:
        design_state.check_answer(self.s, answer)

    def _apply_answer(self, answer: AnswerInput) -> TrackedQuestion:
        q = design_state.apply_answer(self.s, answer)
        self._details()
        return q

    @workflow.signal(name="decide")
    def decide(self, decision: DecideInput) -> None:
        if self.holds.match(decision.scope) is not None:
            refused = self.holds.answer(decision.choice.strip().lower(), decision.scope)
            if refused:
                self._refuse(f"decide: {refused}")
            return
        pending = [
            d
            for d in self.s.decisions
            if decision.scope in (None, d.scope) and d.scope not in self.answers
        ]
        if not pending:
            self._refuse(f"decide: nothing waits for {decision.scope or 'a decision'}")
            return
        target = pending[0]
        choice = decision.choice.strip().lower()
        if choice not in target.options:
            self._refuse(f"decide {choice!r}: the options are {' / '.join(target.options)}")
            return
        self.answers[target.scope] = choice

    @workflow.signal(name="!pause")
    def pause(self) -> None:
        self.s.paused = True
        self._details()

    @workflow.signal(name="!resume")
    def resume(self) -> None:
        self.s.paused = False
        self._details()

    @workflow.signal(name="command")
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
            from datetime import datetime

            elapsed = (workflow.now() - datetime.fromisoformat(started)).total_seconds()
        return Metrics.of(self.s.ledger, elapsed)

    def _waiting_for(self) -> str:
        return design_state.waiting_for(self.s, self.holds.decisions())

    def _refuse(self, why: str) -> None:
        """A refused signal: in `status` (and the log), not only in the worker's log."""
        workflow.logger.warning("refused %s", why)
        self.s.notice = f"refused {why}"
        self._details()

    def _details(self, note: str = "") -> None:
        feature = self.ctx.feature if self.ctx else ""
        workflow.set_current_details(
            design_state.details(self.s, feature, self._waiting_for(), note)
        )
