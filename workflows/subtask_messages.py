"""What the build (or a person through it) can say to a subtask, and what it asks.

A mixin of `SubtaskWorkflow`. A subtask asks a person only through its build,
which shows the question in `status` and forwards the answer as `decide`: when
it is stuck (skip / simplify / debug / continue), and on its failure holds.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import RoundVerdict, SubtaskState
    from contracts.human import BUILD_STUCK_OPTIONS, DecideInput, PendingDecision
    from workflows import subtask_state
    from workflows.failures import FailureHolds
    from workflows.inputs import UnknownNames, checked_signal
    from workflows.subtask_steps import SubtaskSteps


class SubtaskMessages(SubtaskSteps, UnknownNames):
    """Uses, besides `SubtaskSteps`'s, the subtask's `decision_answer`."""

    LOOP = "subtask"
    # A person answers through the build; these are what the build sends its subtasks.
    SIGNALS = ("decide", "!pause", "!resume", "budget_hold", "failure_hold", "outage_retried")

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

    async def _when_stuck(
        self, rnd: int, why: str, lowest: float, green: bool
    ) -> RoundVerdict | None:
        """Ask the person (skip / simplify / debug / continue); the round's verdict, or
        None to go on to the fixer (`continue`)."""
        inp = self._inp
        cfg = inp.ctx.config
        choice = await self._ask(
            PendingDecision(
                scope=inp.subtask,
                prompt=(
                    f"Subtask {inp.subtask} is stuck after round {rnd} ({why}); lowest "
                    f"score {lowest:.2f}, gates {'green' if green else 'red'}"
                    f"{subtask_state.failing_gates(self.s)}. "
                    "Skip it, simplify its scope, debug it together, or continue?"
                ),
                options=list(BUILD_STUCK_OPTIONS),
            )
        )
        self.s.rounds_without_progress = 0
        self.s.round_cap = rnd + cfg.max_rounds
        if choice == "skip":
            self._block(f"skipped by a person after {rnd} rounds ({why})")
            await self._report()
            return "stop"
        if choice == "simplify":
            await self._simplify(rnd)
            return "fix"
        if choice == "debug":
            self.s.status = "in_progress"
            await self._ask(
                PendingDecision(
                    scope=inp.subtask,
                    kind="debug",
                    prompt=(
                        f"Paused {inp.subtask} for debugging. Push commits to "
                        f"feat/{inp.subtask} (worktree {self.s.worktree}) if you like, "
                        "then continue to re-review."
                    ),
                    options=["continue"],
                )
            )
            return "fix"  # re-review what the person left, no fixer pass
        return None

    async def _simplify(self, rnd: int) -> None:
        inp = self._inp
        self._phase("simplifying")
        await self._report()
        await self._edit(
            "design-writer",
            rnd,
            instructions=(
                f"A person chose to simplify subtask {inp.subtask}. Reduce its scope in "
                f"{self._xml()} to what can pass review now: move the hardest items to "
                "<out> of scope, keep the XML valid, and note what was deferred."
            ),
            issues=[],
            review_paths=self.s.rounds[-1].review_paths if self.s.rounds else [],
            message=f"chore({inp.subtask}): simplify scope after round {rnd}",
        )

    @checked_signal("decide", DecideInput | str)
    def decide(self, decision: DecideInput | str) -> None:
        choice = (decision.choice if isinstance(decision, DecideInput) else decision).strip()
        if self.holds.holding:
            refused = self.holds.answer(choice.lower(), None)
            if refused:
                self._refuse(f"decide {choice!r}: {refused}")
            return
        if self.s.decision is None:
            self._refuse(
                f"decide {choice!r}: nothing is waiting. Fix: decide through the build "
                "(`orchestrator decide <dir> <subtask> <choice>`) what its `status` lists"
            )
            return
        if choice.lower() not in self.s.decision.options:
            self._refuse(
                f"decide {choice!r}: not an option. Fix: choose "
                f"{' / '.join(self.s.decision.options)}"
            )
            return
        self.decision_answer = choice.lower()

    @checked_signal("!pause")
    def pause(self) -> None:
        self.s.paused = True

    @checked_signal("!resume")
    def resume(self) -> None:
        self.s.paused = False

    @checked_signal("budget_hold", bool)
    def set_budget_hold(self, hold: bool) -> None:
        self.s.budget_hold = hold  # in the state: it holds across continue-as-new

    @checked_signal("failure_hold", bool)
    def set_failure_hold(self, hold: bool) -> None:
        self.s.failure_hold = hold

    @checked_signal("outage_retried", str, optional=True)
    def outage_retried(self, cause: str | None = "") -> None:
        """A person answered `retry` for another subtask's failure with this cause: ours
        resumes too if it just failed the same way, or when it does while in flight."""
        self.holds.retried(cause or "")

    def _refuse(self, why: str) -> None:
        """A refused signal: in this subtask's `status` (and the log)."""
        workflow.logger.warning("refused %s", why)
        self.s.notice = f"refused {why}"

    @workflow.query(name="status")
    def status(self) -> SubtaskState:
        return self.s
