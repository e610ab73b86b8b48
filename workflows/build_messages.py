"""What a person (or the CLI) can say to a build, and what it shows them.

A mixin of `BuildWorkflow`: its signals and queries. Handlers record what was
asked (a decision, a change, a budget, a pause) or refuse it visibly in
`status`; the scheduling loop acts on it. Signals to children go through
`_tell`, which never fails the build when a child has just closed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.build import BuildInput, BuildState, BuildStatus, SubtaskProgress
    from contracts.change import PendingChange
    from contracts.config import ProjectContext
    from contracts.human import (
        FAILURE_SCOPE,
        FILE_CONFLICTS,
        MAX_SIGNAL_TEXT,
        BudgetInput,
        ChangeInput,
        DecideInput,
        PendingDecision,
        parse_decide,
        signal_input,
    )
    from contracts.metrics import Ledger, Metrics
    from workflows import build_child, build_state
    from workflows.commands import run_command
    from workflows.failures import FailureHolds
    from workflows.inputs import checked_signal, unknown_names
    from workflows.loop_control import LoopControl
    from workflows.subtask import SubtaskWorkflow


class BuildMessages:
    """Uses the build's state, context, holds, running children and budget answer, and
    its `_tell`, `_signal_children` and `_failure_decisions`."""

    SIGNALS = (
        "decide",
        "!change",
        "!change-approve",
        "!change-cancel",
        "raise_budget",
        "!pause",
        "!resume",
        "command",
    )

    s: BuildState
    ctx: ProjectContext | None
    control: LoopControl
    holds: FailureHolds
    running: dict[str, workflow.ChildWorkflowHandle[Any, Any]]
    conflict_answer: str | None
    inp: BuildInput | None
    changed: bool
    cancelled: bool
    if TYPE_CHECKING:

        async def _tell(self, name: str, signal: Any, arg: object = None) -> None: ...
        async def _signal_children(self, signal: Any, arg: object = None) -> None: ...

    _failure_decisions: Callable[[], list[PendingDecision]]

    subtask_progress = build_child.subtask_progress

    def _child_progress(self, progress: SubtaskProgress) -> None:
        view = self.s.subtasks.get(progress.subtask)
        if self.cancelled or view is None:
            return
        if build_state.apply_progress(view, progress):
            self.changed = True

    @checked_signal("decide", DecideInput)
    async def decide(self, decision: DecideInput) -> None:
        choice = decision.choice.strip().lower()
        asked = self.s.conflict_decision
        if asked is not None and decision.scope in (None, FILE_CONFLICTS):
            if self.control.offered(choice, asked.options, "the file conflicts"):
                self.conflict_answer = choice
            return
        if decision.scope == "budget" or (decision.scope is None and self.s.budget_hold):
            if not self.s.budget_hold:
                self.control.refuse(
                    "decide budget: the budget is not reached, so nothing waits for it. Fix: "
                    "decide only what `status` lists"
                )
            elif choice not in ("raise", "stop"):
                self.control.refuse(
                    f"decide {choice!r}: not an option for the budget. Fix: choose raise / stop "
                    "(raise the limits first with the raise_budget signal)"
                )
            else:
                self.control.answer_budget(choice)
            return
        if self.control.failure_answered(choice, decision.scope):
            return
        held = build_state.held_by_failure(self.s, self.running, decision.scope)
        if held:
            await self._decide_failure(held, choice, whole=decision.scope in (None, FAILURE_SCOPE))
            return
        waiting = [
            n
            for n, v in self.s.subtasks.items()
            if v.decision is not None and decision.scope in (None, n) and n in self.running
        ]
        if not waiting:
            self.control.refuse(
                f"decide: no subtask waits for a decision ({decision.scope or 'any'}). Fix: "
                f"decide only what `status` lists (now waiting for: {self._waiting_for()})"
            )
            return
        asked = self.s.subtasks[waiting[0]].decision
        # Refused here, where `status` shows it: the subtask would only log it.
        if asked is not None and not self.control.offered(choice, asked.options, waiting[0]):
            return
        await self._tell(waiting[0], SubtaskWorkflow.decide, decision.choice)

    async def _decide_failure(self, held: list[str], choice: str, whole: bool) -> None:
        """One answer for every subtask held by one cause; `stop` ends the whole build."""
        decision = self.s.subtasks[held[0]].decision
        assert decision is not None
        offered = [o for o in decision.options if all(self._offers(n, o) for n in held)]
        if not self.control.offered(choice, offered, "the failure"):
            return
        if choice == "stop":
            failure = decision.failure
            what = f"{failure.step} failed: {failure.error}" if failure else decision.prompt
            self.s.stopped = True
            self.s.stop_reason = f"stopped by a person after {what}"
            self.changed = True
            return
        for name in held:
            await self._tell(name, SubtaskWorkflow.decide, choice)
        if choice == "retry" and whole:
            # A step another subtask had in flight during the outage may fail only now (or
            # just did, after this decision was read): this `retry` covers it too, so nobody
            # is asked twice about one outage.
            cause = decision.failure.cause if decision.failure else ""
            for name in [n for n in self.running if n not in held]:
                await self._tell(name, SubtaskWorkflow.outage_retried, cause)

    def _offers(self, name: str, option: str) -> bool:
        decision = self.s.subtasks[name].decision
        return decision is not None and option in decision.options

    @checked_signal("!change", ChangeInput | str)
    def request_change(self, change: ChangeInput | str) -> None:
        text = (change.description if isinstance(change, ChangeInput) else str(change)).strip()
        open_change = self.s.change is not None and self.s.change.state not in ("done", "cancelled")
        if not text or open_change or len(text) > MAX_SIGNAL_TEXT:
            self.control.refuse(
                "!change: "
                + (
                    f"change {self.s.change.id} is open. Fix: approve or cancel it first"
                    if open_change and self.s.change
                    else 'the change is empty. Fix: describe it, e.g. "rename b to c"'
                    if not text
                    else f"{len(text)} characters, more than {MAX_SIGNAL_TEXT}. Fix: put the "
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

    @checked_signal("!change-approve")
    def approve_change(self) -> None:
        self._decide_change("!change-approve", "approved")

    @checked_signal("!change-cancel")
    def cancel_change(self) -> None:
        self._decide_change("!change-cancel", "cancelled")

    def _decide_change(self, signal: str, state: str) -> None:
        change = self.s.change
        if change is not None and change.state == "awaiting-decision":
            change.state = state  # type: ignore[assignment]
            self.changed = True
            return
        open_change = change is not None and change.state not in ("done", "cancelled")
        self.control.refuse(
            f"{signal}: "
            + (
                f"change {change.id} is {change.state}, its report is not ready. Fix: wait "
                "until `status` shows it awaiting a decision"
                if open_change and change is not None
                else "no change is open. Fix: propose one with !change first"
            )
        )

    @checked_signal("raise_budget", Any)
    def raise_budget(self, limits: Any) -> None:
        try:
            budget = signal_input("raise_budget", (limits,), BudgetInput)
        except ValueError as err:
            self.control.refuse(str(err))
            return
        if budget.max_cost_usd is not None:
            self.s.max_cost_usd = budget.max_cost_usd
        if budget.max_tokens is not None:
            self.s.max_tokens = budget.max_tokens
        if self.s.budget_hold:
            self.control.answer_budget("raise")
        self.changed = True

    @checked_signal("!pause")
    async def pause(self) -> None:
        self.control.pause()
        await self._signal_children(SubtaskWorkflow.pause)

    @checked_signal("!resume")
    async def resume(self) -> None:
        self.control.resume()
        await self._signal_children(SubtaskWorkflow.resume)

    @checked_signal("command", str)
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
            self.control.refuse,
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
            budget_tokens=total.weighted_tokens,
            max_cost_usd=self.s.max_cost_usd,
            max_tokens=self.s.max_tokens,
            change=self.s.change,
            decisions=[*self._own_decisions(), *self._failure_decisions()],
            stop_reason=self.s.stop_reason,
            notice=self.s.notice,
            notes=self.inp.notes if self.inp else "",
            file_conflicts=self.s.file_conflicts,
            conflict_choice=self.s.conflict_choice,
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

    def _own_decisions(self) -> list[PendingDecision]:
        """What the build itself asks: its failure holds, the file conflicts."""
        asked = self.s.conflict_decision
        return [*self.holds.decisions(), *([asked] if asked is not None else [])]

    def _waiting_for(self) -> str:
        return build_state.waiting_for(self.s, self.running, self._own_decisions())

    unknown_signal, unknown_update = unknown_names()

    def _details(self) -> None:
        feature = self.ctx.feature if self.ctx else ""
        workflow.set_current_details(build_state.details(self.s, feature, self._waiting_for()))
