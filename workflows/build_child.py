"""A child loop's side of its build: what it reports, what it asks, how an answer arrives.

The subtask and the integration loops both run as children of a build, which owns
the tracker and the status table. A child reports each change of state to its
build (`BuildWorkflow.subtask_progress`, declared here) and asks a person only through it: the
build shows the question in `status` and forwards the answer as `decide`.

A child outlives the build run that starts it (ABANDON, so the build may continue as new
among its children). A build that is terminated, fails or times out leaves it with nobody
to report to, so a child watches its build (`until_build_gone`): a report that finds no
open run of the build's id, or a look every `[build] orphan_check_s` that finds no run of
it that will take the child over, ends the child's work cleanly: its activities are
cancelled, its branch and worktree kept, and its result says how to pick it up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.child_workflows import build_gone
    from contracts.build import SubtaskInput, SubtaskProgress, SubtaskResult, SubtaskState
    from contracts.child_check import BuildProbe
    from contracts.human import DecideInput, PendingDecision
    from workflows import cancel_guard, options, subtask_state
    from workflows.inputs import checked_signal
    from workflows.loop_control import LoopControl, pause_messages
    from workflows.search_attrs import LoopAttributes


class _BuildSide:
    """Not a base class: the holder of the build's handler of its children's reports."""

    control: LoopControl
    if TYPE_CHECKING:

        def _child_progress(self, progress: SubtaskProgress) -> None: ...

    @checked_signal("subtask_progress", SubtaskProgress)
    def subtask_progress(self, progress: SubtaskProgress) -> None:
        self._child_progress(progress)


# `BuildWorkflow.subtask_progress` is this very handler (assigned in the build's class
# body), declared here so that a child names it by reference without importing the
# build's module, which imports the child's.
subtask_progress: Any = _BuildSide.subtask_progress

# What the SDK raises in workflow code when a signal's target has no open run (sdk-core's
# signal_external_state_machine.rs: an ApplicationError of this type, "Unable to signal
# external workflow because it was not found"): a closed workflow is not found, too.
NOT_FOUND = "ExternalWorkflowExecutionNotFound"


def not_found(err: BaseException) -> bool:
    """A signal sent from workflow code found no open run of its target."""
    return isinstance(err, ApplicationError) and err.type == NOT_FOUND


class BuildGone(Exception):
    """Raised in a child's main task: its build is gone, its work ends (`until_build_gone`)."""


# A person answers through the build; these are what the build sends its children.
CHILD_SIGNALS = (
    "decide",
    "!pause",
    "!resume",
    "budget_hold",
    "failure_hold",
    "outage_retried",
    "look_at_build",
)


class ChildMessages:
    """Not a base class: the handlers of what a build sends its children, declared once.
    `SubtaskWorkflow` and `IntegrationWorkflow` each assign them in their class body
    (`child_messages()`), so the build signals either child with the same reference
    (`SubtaskWorkflow.pause`)."""

    control: LoopControl
    child: BuildChild

    @checked_signal("decide", DecideInput | str)
    def decide(self, decision: DecideInput | str) -> None:
        self.child.decide(decision.choice if isinstance(decision, DecideInput) else decision)

    pause, resume = pause_messages()

    @checked_signal("budget_hold", bool)
    def set_budget_hold(self, hold: bool) -> None:
        self.control.hold_budget(hold)  # in the state: it holds across continue-as-new

    @checked_signal("failure_hold", bool)
    def set_failure_hold(self, hold: bool) -> None:
        self.control.hold_failure(hold)

    @checked_signal("outage_retried", str, optional=True)
    def outage_retried(self, cause: str | None = "") -> None:
        """A person answered `retry` for another subtask's failure with this cause: ours
        resumes too if it just failed the same way, or when it does while in flight."""
        self.control.holds.retried(cause or "")

    @checked_signal("look_at_build")
    def look_at_build(self) -> None:
        """A build that ignored this child's report (not its own): look whether it takes
        this child over, or whether the child's own build is gone."""
        self.child.look = True


class BuildChild:
    """Bound to one child's state and input (read through callables: continue-as-new and
    a restored state replace them) and its loop control."""

    def __init__(
        self,
        state: Callable[[], SubtaskState],
        inp: Callable[[], SubtaskInput],
        control: LoopControl,
    ) -> None:
        self.state, self.inp, self.control = state, inp, control
        self.answer: str | None = None
        self.reported: SubtaskProgress | None = None
        self.main: asyncio.Task[Any] | None = None  # the run's task: where a cancel lands
        self.attrs = LoopAttributes(lambda: self.inp().ctx)
        self.watching = False  # this run ends its work when its build is gone
        self.gone: str | None = None  # why the build is gone, once it is
        self.look = False  # look at the build now (`look_at_build`)

    def phase(self, phase: str) -> None:
        s = self.state()
        s.phase = phase
        workflow.set_current_details(subtask_state.details(s, self.inp().subtask))
        self.attrs.show(s.status, subtask_state.waiting(s), s.ledger.total.cost_usd)

    def block(self, reason: str) -> None:
        s = self.state()
        s.status, s.phase, s.notes = "blocked", "blocked", reason

    async def next_round(self, phase: str) -> int:
        """A review round begins: numbered, shown and reported; its number."""
        s = self.state()
        s.round += 1
        self.phase(phase)
        await self.report()
        return s.round

    def result(self, subtask: str, **more: Any) -> SubtaskResult:
        """The loop's result (`more`: what only this loop returns); its state stays the
        Web UI's details after the end: status, scores, PR."""
        s = self.state()
        self.phase(s.phase)
        return SubtaskResult(
            subtask=subtask,
            status=s.status,
            pr_url=s.pr_url,
            pr_number=s.pr_number,
            rounds=len(s.rounds),
            scores=dict(s.scores),
            notes=s.notes,
            ledger=s.ledger,
            follow_rounds=list(s.follow.rounds) if s.follow else [],
            **more,
        )

    async def report(self) -> None:
        """Tell the parent build (it owns the tracker and the status table) what changed."""
        inp, s = self.inp(), self.state()
        self.phase(s.phase)
        if self.gone is not None and asyncio.current_task() is self.main:
            # Its cancel was swallowed where it landed (a signal being sent takes it): the
            # next report of the main task ends the work instead of going on to a PR.
            raise BuildGone(self.gone)
        if not inp.parent_id or self.gone is not None:
            return
        now = subtask_state.progress(s, inp.subtask, inp.generation)
        started_by = workflow.info().parent
        now.parent_run = started_by.run_id if started_by is not None else ""
        if inp.fork is not None:  # the build keeps an attempt's view apart from the subtask's
            now.attempt = inp.fork.attempt
        if not subtask_state.report_due(self.reported, now, inp.budgeted):
            return
        self.reported = now
        parent = workflow.get_external_workflow_handle(inp.parent_id)
        try:
            await cancel_guard.send(parent.signal(subtask_progress, now), self.main)
        except ApplicationError as err:
            if not (self.watching and not_found(err)):
                raise
            self._build_gone(f"build {inp.parent_id} is closed (no run of it is open)")
        if self.gone is not None and asyncio.current_task() is self.main:
            raise BuildGone(self.gone)

    # ------------------------------------------------- when the build is gone

    async def until_build_gone(self, steps: Awaitable[None]) -> None:
        """Run the loop's steps; when the build is gone, end them (their activities are
        cancelled) and say so in the state. Raised on: anything else."""
        started_by = workflow.info().parent  # None: started by hand, no build to watch
        if started_by is None or not self.inp().parent_id:
            await steps
            return
        self.watching = True
        watch = asyncio.ensure_future(self._watch(started_by.run_id))
        try:
            await steps
        except (BuildGone, asyncio.CancelledError, ActivityError) as err:
            if self.gone is None or not (isinstance(err, BuildGone) or is_cancelled_exception(err)):
                raise
            self._stopped(self.gone)
        finally:
            watch.cancel()

    async def _watch(self, run_id: str) -> None:
        """Look at the build every `[build] orphan_check_s`: a child that waits days on CI
        sends no report to find it gone."""
        inp = self.inp()
        while self.gone is None:
            every = inp.ctx.config.build.orphan_check_s
            with contextlib.suppress(TimeoutError):  # the look is due
                await workflow.wait_condition(lambda: self.look, timeout=every)
            self.look = False
            try:
                gone = await workflow.execute_activity(
                    build_gone,
                    BuildProbe(build_id=inp.parent_id or "", run_id=run_id),
                    summary=f"is build {inp.parent_id} still there?",
                    **options.quick(),
                )
            except ActivityError as err:  # a look that failed says nothing: look again later
                workflow.logger.warning("look at build %s failed: %s", inp.parent_id, err)
                continue
            if gone:
                self._build_gone(gone)

    def _build_gone(self, why: str) -> None:
        """Once: the loop's work ends (its main task, wherever it awaits, is cancelled)."""
        if self.gone is not None:
            return
        self.gone = why
        workflow.logger.warning("%s: %s; ending its work", self.inp().subtask, why)
        if self.main is not None and asyncio.current_task() is not self.main:
            self.main.cancel()

    def _stopped(self, why: str) -> None:
        """The clean end of a child whose build is gone: what is kept, how to pick it up."""
        inp, s = self.inp(), self.state()
        branch = s.branch or f"feat/{inp.subtask}"
        where = f" and worktree {s.worktree}" if s.worktree else ""
        s.decision = None
        s.status, s.phase = "cancelled", "stopped: its build is gone"
        s.notes = (
            f"stopped: {why}. Branch {branch}{where} kept, as it is. "
            f"To pick it up, run the build again (`orchestrator build {inp.ctx.design_dir}`): "
            f"it takes {inp.subtask} over from here, or replaces this run of it"
        )
        self.phase(s.phase)

    async def ask(self, decision: PendingDecision) -> str:
        """Put a question to the person (through the build) and wait for the answer."""
        s = self.state()
        self.answer = None
        s.decision = decision
        self.phase(f"waiting for a decision ({decision.kind})")
        await self.report()
        await workflow.wait_condition(lambda: self.answer is not None)
        choice = self.answer or ""
        s.decision, self.answer = None, None
        self.phase("resuming")
        await self.report()
        return choice

    def decide(self, choice: str) -> None:
        """A person's answer, forwarded by the build: a failure hold's, else the question's."""
        choice = choice.strip()
        if self.control.failure_answered(choice, None):
            return
        asked = self.state().decision
        if asked is None:
            self.control.refuse(
                f"decide {choice!r}: nothing is waiting. Fix: decide through the build "
                "(`orchestrator decide <dir> <subtask> <choice>`) what its `status` lists"
            )
            return
        if self.control.offered(choice.lower(), asked.options):
            self.answer = choice.lower()

    async def on_hold(self) -> None:
        """A failure hold opened or closed: show it (status, Web UI, the build's tracker)."""
        s = self.state()
        held = self.control.holds.decisions()
        if held:
            s.decision = held[0]
            self.phase("waiting for a decision (failure)")
        elif s.decision is not None and s.decision.kind == "failure":
            s.decision = None
            self.phase("resuming")
        await self.report()


def child_messages() -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    """`decide, pause, resume, set_budget_hold, set_failure_hold, outage_retried,
    look_at_build`."""
    m = ChildMessages
    return (
        m.decide,
        m.pause,
        m.resume,
        m.set_budget_hold,
        m.set_failure_hold,
        m.outage_retried,
        m.look_at_build,
    )
