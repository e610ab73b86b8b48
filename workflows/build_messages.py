"""What a person (or the CLI) can say to a build, and what it shows them.

A mixin of `BuildWorkflow`: its signals and queries. Handlers record what was
asked (a decision, a change, a budget, a pause) or refuse it visibly in
`status`; the scheduling loop acts on it. Signals to children go through
`_tell`, which never fails the build when a child has just closed.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import BuildState, BuildStatus, SubtaskProgress
    from contracts.change import PendingChange
    from contracts.config import ProjectContext
    from contracts.human import MAX_SIGNAL_TEXT, ChangeInput, DecideInput, parse_decide
    from contracts.metrics import Ledger, Metrics
    from workflows import build_state
    from workflows.commands import run_command
    from workflows.failures import FailureHolds


class BuildMessages:
    """Uses the build's state, context, holds, running children and budget answer, and
    its `_tell`, `_signal_children` and `_failure_decisions`."""

    s: BuildState
    ctx: ProjectContext | None
    holds: FailureHolds
    running: dict[str, workflow.ChildWorkflowHandle]
    budget_answer: str | None
    changed: bool
    cancelled: bool

    @workflow.signal(name="subtask_progress")
    def subtask_progress(self, progress: SubtaskProgress) -> None:
        view = self.s.subtasks.get(progress.subtask)
        if self.cancelled or view is None:
            return
        if build_state.apply_progress(view, progress):
            self.changed = True

    @workflow.signal(name="decide")
    async def decide(self, decision: DecideInput) -> None:
        choice = decision.choice.strip().lower()
        if decision.scope == "budget" or (decision.scope is None and self.s.budget_hold):
            if choice in ("raise", "stop"):
                self.budget_answer = choice
            return
        if self.holds.match(decision.scope) is not None:
            refused = self.holds.answer(choice, decision.scope)
            if refused:
                self._refuse(f"decide: {refused}")
            return
        held = build_state.held_by_failure(self.s, self.running, decision.scope)
        if held:
            await self._decide_failure(held, choice)
            return
        waiting = [
            n
            for n, v in self.s.subtasks.items()
            if v.decision is not None and decision.scope in (None, n) and n in self.running
        ]
        if not waiting:
            self._refuse(f"decide: no subtask waits for a decision ({decision.scope or 'any'})")
            return
        await self._tell(waiting[0], "decide", decision.choice)

    async def _decide_failure(self, held: list[str], choice: str) -> None:
        """One answer for every subtask held by one cause; `stop` ends the whole build."""
        decision = self.s.subtasks[held[0]].decision
        assert decision is not None
        if choice not in decision.options:
            self._refuse(f"decide {choice!r}: the options are {' / '.join(decision.options)}")
            return
        if choice == "stop":
            failure = decision.failure
            what = f"{failure.step} failed: {failure.error}" if failure else decision.prompt
            self.s.stopped = True
            self.s.stop_reason = f"stopped by a person after {what}"
            self.changed = True
            return
        for name in held:
            await self._tell(name, "decide", choice)
        if choice == "retry":
            # A step another subtask had in flight during the outage may fail only now:
            # this `retry` covers it too, so nobody is asked twice about one outage.
            for name in [n for n in self.running if n not in held]:
                await self._tell(name, "outage_retried")

    @workflow.signal(name="!change")
    def request_change(self, change: ChangeInput | str) -> None:
        text = (change.description if isinstance(change, ChangeInput) else str(change)).strip()
        open_change = self.s.change is not None and self.s.change.state not in ("done", "cancelled")
        if not text or open_change or len(text) > MAX_SIGNAL_TEXT:
            self._refuse(
                "!change: "
                + (
                    f"change {self.s.change.id} is open; approve or cancel it first"
                    if open_change and self.s.change
                    else "empty"
                    if not text
                    else f"{len(text)} characters, more than {MAX_SIGNAL_TEXT}; put the "
                    "details in a file and refer to it"
                )
            )
            return
        self.s.changes += 1
        self.s.change = PendingChange(
            id=self.s.changes,
            description=text,
            state="analyzing",
            requested_at=workflow.now().isoformat(timespec="seconds"),
        )
        self.changed = True

    @workflow.signal(name="!change-approve")
    def approve_change(self) -> None:
        if self.s.change is not None and self.s.change.state == "awaiting-decision":
            self.s.change.state = "approved"
            self.changed = True

    @workflow.signal(name="!change-cancel")
    def cancel_change(self) -> None:
        if self.s.change is not None and self.s.change.state == "awaiting-decision":
            self.s.change.state = "cancelled"
            self.changed = True

    @workflow.signal(name="raise_budget")
    def raise_budget(self, limits: dict[str, float]) -> None:
        if "max_cost_usd" in limits:
            self.s.max_cost_usd = float(limits["max_cost_usd"])
        if "max_tokens" in limits:
            self.s.max_tokens = int(limits["max_tokens"])
        if self.s.budget_hold:
            self.budget_answer = "raise"
        self.changed = True

    @workflow.signal(name="!pause")
    async def pause(self) -> None:
        self.s.paused = True
        self.changed = True
        await self._signal_children("!pause")

    @workflow.signal(name="!resume")
    async def resume(self) -> None:
        self.s.paused = False
        self.changed = True
        await self._signal_children("!resume")

    @workflow.signal(name="command")
    async def command(self, line: str) -> None:
        await run_command(
            line,
            {
                "decide": lambda text: self.decide(parse_decide(text)),
                "!pause": lambda _: self.pause(),
                "!resume": lambda _: self.resume(),
                "!change": self.request_change,
                "!change-approve": lambda _: self.approve_change(),
                "!change-cancel": lambda _: self.cancel_change(),
            },
        )

    @workflow.query(name="status")
    def status(self) -> BuildStatus:
        total = self._ledger().total
        return BuildStatus(
            feature=self.ctx.feature if self.ctx else "",
            phase="paused" if self.s.paused else ("budget" if self.s.budget_hold else "building"),
            paused=self.s.paused,
            waiting_for=self._waiting_for(),
            subtasks=list(self.s.subtasks.values()),
            running=sorted(self.running),
            cost_usd=total.cost_usd,
            tokens=total.total_tokens,
            max_cost_usd=self.s.max_cost_usd,
            max_tokens=self.s.max_tokens,
            change=self.s.change,
            decisions=[*self.holds.decisions(), *self._failure_decisions()],
            stop_reason=self.s.stop_reason,
            notice=self.s.notice,
        )

    @workflow.query(name="metrics")
    def metrics(self) -> Metrics:
        return Metrics.of(self._ledger(), self._elapsed())

    def _ledger(self) -> Ledger:
        return build_state.ledger(self.s)

    def _elapsed(self) -> float:
        if not self.s.started_at:
            return 0.0
        return (workflow.now() - datetime.fromisoformat(self.s.started_at)).total_seconds()

    def _waiting_for(self) -> str:
        return build_state.waiting_for(self.s, self.running, self.holds.decisions())

    def _refuse(self, why: str) -> None:
        """A refused signal: in `status` (and the log), not only in the worker's log."""
        workflow.logger.warning("refused %s", why)
        self.s.notice = f"refused {why}"
        self.changed = True

    def _details(self) -> None:
        feature = self.ctx.feature if self.ctx else ""
        workflow.set_current_details(build_state.details(self.s, feature, self._waiting_for()))
