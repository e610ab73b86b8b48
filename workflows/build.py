"""BuildWorkflow: schedule every subtask on the DAG, one child workflow each.

No batch barrier: a subtask starts as soon as all of its own dependencies
have pull requests, up to `max_concurrent_subtasks`. The tracker is rebuilt
from this workflow's state after every change, so it cannot drift from it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ChildWorkflowError,
    FailureError,
    is_cancelled_exception,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from contracts.build import (
        ALL_SUBTASKS_PR_CREATED,
        SUBTASKS_INCOMPLETE,
        BuildInput,
        BuildReport,
        BuildResult,
        BuildState,
        BuildStatus,
        SubtaskInput,
        SubtaskProgress,
        SubtaskResult,
        SubtaskView,
    )
    from contracts.change import (
        PendingChange,
    )
    from contracts.config import ConfigRequest, ProjectContext
    from contracts.human import (
        MAX_SIGNAL_TEXT,
        ChangeInput,
        DecideInput,
        PendingDecision,
        parse_decide,
    )
    from contracts.metrics import Ledger, Metrics
    from contracts.plan import PlanRequest, PlanResult
    from contracts.subtask import SubtaskSpec
    from contracts.tracker import TrackerResult, TrackerRow, TrackerUpdate
    from workflows import build_state, names, options
    from workflows.build_changes import SpecChangeSteps
    from workflows.build_state import DONE
    from workflows.commands import run_command
    from workflows.failures import FailureHolds, StepAbandoned, innermost_message
    from workflows.subtask import SubtaskWorkflow

# Patch id: a subtask finishing as a spec change restarts it is restarted all the same.
RESTART_WINS = "restart-wins-over-late-result"


@workflow.defn(name="BuildWorkflow")
class BuildWorkflow(SpecChangeSteps):
    def __init__(self) -> None:
        self.s = BuildState()
        self.ctx: ProjectContext | None = None
        self.specs: dict[str, SubtaskSpec] = {}
        self.running: dict[str, workflow.ChildWorkflowHandle] = {}
        self.changed = False
        self.last_rows: list[TrackerRow] | None = None
        self.inp: BuildInput | None = None
        self.base_branch = ""
        self.budget_answer: str | None = None
        self.restarting: set[str] = set()
        self.cancelled = False
        self.tracker_revision = 0
        self.holds = FailureHolds()

    @workflow.run
    async def run(self, inp: BuildInput) -> BuildResult:
        self.inp = inp
        if inp.state is not None:
            self.s = inp.state
        if self.s.started_at is None:
            self.s.started_at = workflow.now().isoformat()
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            try:
                await self._prepare(inp)
                await self._schedule(inp, tasks)
            except StepAbandoned as abandoned:
                # A person answered a failed step with `stop`: end cleanly, with the report.
                self.s.stopped, self.s.stop_reason = True, abandoned.reason
        except (asyncio.CancelledError, ActivityError, ChildWorkflowError) as err:
            # A cancel that lands while an activity is awaited arrives as an ActivityError.
            if not is_cancelled_exception(err):
                raise
            # The cancel is delivered once: the cleanup below still runs its activities.
            self.cancelled = True
            await self._stop_children(tasks)
            for view in self.s.subtasks.values():
                if view.status not in DONE:
                    view.status, view.notes = "cancelled", "build cancelled; branch kept"
            if self.ctx is not None:
                try:
                    await self._write_tracker(force=True, hold=False)
                except ActivityError as failed:  # the cancel still wins; say why it is stale
                    workflow.logger.warning("tracker not updated on cancel: %s", failed.cause)
            raise
        if self.s.stopped:
            await self._stop_children(tasks)
            for view in self.s.subtasks.values():
                if view.status in ("pending", "stale"):
                    view.status, view.notes = "blocked", "not started: the build was stopped"
        if self.ctx is None:  # stopped before the project could even be read
            await workflow.wait_condition(workflow.all_handlers_finished)
            return BuildResult(
                result=SUBTASKS_INCOMPLETE,
                feature=inp.design_dir.rstrip("/").rsplit("/", 1)[-1],
                subtasks=[],
                stop_reason=self.s.stop_reason,
            )
        await self._write_tracker(force=True)
        return await self._finish()

    async def _prepare(self, inp: BuildInput) -> None:
        """The project, its budget and the plan; a view per subtask."""
        self.ctx = await self._resolve(inp.design_dir)
        cfg = self.ctx.config
        self.s.max_cost_usd = self.s.max_cost_usd or inp.max_cost_usd or cfg.budget.max_cost_usd
        self.s.max_tokens = self.s.max_tokens or inp.max_tokens or cfg.budget.max_tokens
        self.base_branch = inp.base_branch or cfg.forge.base_branch or self.ctx.branch
        plan = await self._validate()
        stage_of = plan.plan.stage_of()
        for name in plan.plan.order:
            spec = self.specs[name]
            self.s.subtasks.setdefault(
                name,
                SubtaskView(name=name, batch=stage_of.get(name, 1), dependencies=spec.dependencies),
            )

    async def _schedule(self, inp: BuildInput, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Start each subtask as soon as its dependencies have PRs, up to the limit."""
        assert self.ctx
        limit = inp.max_concurrent_subtasks or self.ctx.config.max_concurrent_subtasks
        while True:
            # Cleared before looking at the state, so a change that lands while this
            # iteration awaits something wakes the next wait instead of being lost.
            self.changed = False
            await self._handle_change()
            build_state.block_orphans(self.s)
            await self._write_tracker()
            await self._check_budget()
            await self._hold_children_on_failure()
            if self.s.stopped:
                return
            # Long builds: stop starting children, let the running ones finish, then
            # continue as new with the state (a child cannot outlive its parent's run).
            draining = (
                workflow.info().is_continue_as_new_suggested()
                and not build_state.all_wait_for_a_person(self.s, self.running)
            )
            if draining and not self.running and self._ready():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp.model_copy(update={"state": self.s}))
            for name in self._ready():
                held = self.s.paused or self.s.budget_hold or draining or self.s.failure_hold
                if len(self.running) >= limit or held:
                    break
                tasks[name] = asyncio.ensure_future(self._run_child(name))
                # Started, not "is running": a replay after a crash can start and
                # finish a child within one activation.
                await workflow.wait_condition(lambda n=name: n in self.running or tasks[n].done())
            self.s.max_running = max(self.s.max_running, len(self.running))
            if not self.running and not self._ready() and self.s.change is None:
                return
            self._details()
            await workflow.wait_condition(lambda: self.changed)

    async def _stop_children(self, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Cancel every running subtask and wait until each has cleaned up."""
        for name, handle in list(self.running.items()):
            handle.cancel()
            if self.s.stopped:
                self.s.subtasks[name].notes = self.s.stop_reason or "stopped"
        await asyncio.gather(*tasks.values(), return_exceptions=True)

    # ----------------------------------------------------------- the steps

    async def _resolve(self, design_dir: str) -> ProjectContext:
        return await self._activity(
            names.RESOLVE_PROJECT,
            ConfigRequest(design_dir=design_dir),
            result_type=ProjectContext,
            summary=f"resolve {design_dir}",
            **options.quick(),
        )

    async def _validate(self) -> PlanResult:
        """XML subtasks present, valid, consistent with the plan — else: run the design loop."""
        assert self.ctx
        specs: list[SubtaskSpec] = await self._activity(
            names.LOAD_SUBTASKS,
            self.ctx.design_dir,
            result_type=list[SubtaskSpec],
            summary=f"load subtasks {self.ctx.feature}",
            **options.quick(),
        )
        plan: PlanResult = await self._activity(
            names.PLAN_DESIGN,
            PlanRequest(design_dir=self.ctx.design_dir),
            result_type=PlanResult,
            summary=f"plan {self.ctx.feature}",
            **options.quick(),
        )
        self.specs = {s.id: s for s in specs}
        return plan

    def _ready(self) -> list[str]:
        return build_state.ready(self.s, self.running)

    async def _run_child(self, name: str) -> None:
        assert self.ctx
        view = self.s.subtasks[name]
        spec = self.specs[name]
        deps = sorted(view.dependencies)
        handle = await workflow.start_child_workflow(
            SubtaskWorkflow.run,
            SubtaskInput(
                ctx=self.ctx,
                subtask=name,
                title=spec.title,
                summary=spec.summary,
                files=spec.files,
                commands=spec.commands,
                batch=view.batch,
                base_branch=self.base_branch,
                dependency_branches=[f"feat/{d}" for d in deps],
                dependency_prs={d: self.s.subtasks[d].pr_url or "" for d in deps},
                threshold=(self.inp.threshold if self.inp else None) or self.ctx.config.threshold,
                parent_id=workflow.info().workflow_id,
                paused=self.s.paused,
                forge=self.inp.forge if self.inp else None,
                generation=view.generation,
                rebuild=self.s.rebuild.pop(name, None),
            ),
            id=f"{workflow.info().workflow_id}-{name}",
            static_summary=f"subtask {name}: {spec.title}",
            # Even a terminated build lets its subtasks clean up (tracker, agents stopped).
            parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        )
        self.running[name] = handle
        view.status, view.phase = "in_progress", "starting"
        self.changed = True
        try:
            result: SubtaskResult = await handle
            self._apply_result(result)
        except ChildWorkflowError as err:
            if name in self.restarting:
                # Cancelled by an approved spec change: start again on the revised spec.
                self.restarting.discard(name)
                view.status, view.phase = "stale", "restarting after a spec change"
            elif self.cancelled or self.s.stopped:
                view.status, view.phase = "cancelled", "cancelled"
                view.notes = self.s.stop_reason or "build cancelled; branch kept"
            else:
                view.status = "blocked"
                view.notes = f"failed: {innermost_message(err)}"
        finally:
            self.running.pop(name, None)
            self.changed = True

    def _apply_result(self, result: SubtaskResult) -> None:
        view = self.s.subtasks[result.subtask]
        if result.subtask in self.restarting:
            if not workflow.patched(RESTART_WINS):
                return  # as recorded before the fix: the subtask was left as it was
            # Finished just before the cancel reached it: the restart still wins, on the
            # same branch (its PR, if any, is updated by the rebuilt one).
            self.restarting.discard(result.subtask)
            view.status, view.phase = "stale", "restarting after a spec change"
            view.pr_url = result.pr_url or view.pr_url
            return
        build_state.apply_result(view, result)

    async def _write_tracker(self, force: bool = False, hold: bool = True) -> None:
        assert self.ctx
        rows = build_state.tracker_rows(self.s)
        if rows == self.last_rows and not force:
            return
        self.last_rows = rows
        # A write cut off by a cancel may still land after the cleanup's: ordered by revision.
        self.tracker_revision += 1
        await self._activity(
            names.TRACKER_WRITE,
            TrackerUpdate(
                repo_root=self.ctx.repo_root,
                feature=self.ctx.feature,
                rows=rows,
                tracker_path=self.ctx.config.tracker.path,
                writer=workflow.info().run_id,
                revision=self.tracker_revision,
            ),
            result_type=TrackerResult,
            summary="update pr_tracker.md",
            hold=hold,
            **options.quick(),
        )

    async def _check_budget(self) -> None:
        """One ledger across the build: at the limit, hold new agents and ask the person."""
        total = self._ledger().total
        over = (self.s.max_cost_usd is not None and total.cost_usd >= self.s.max_cost_usd) or (
            self.s.max_tokens is not None and total.total_tokens >= self.s.max_tokens
        )
        if not over or self.s.budget_hold:
            return
        # Reset the answer before the hold is visible: a person may answer at once.
        self.budget_answer = None
        self.s.budget_hold = True
        self._details()
        await self._signal_children("budget_hold", True)
        await workflow.wait_condition(lambda: self.budget_answer is not None)
        if self.budget_answer == "stop":
            self.s.stopped = True
        self.s.budget_hold = False
        self.budget_answer = None
        await self._signal_children("budget_hold", False)

    async def _finish(self) -> BuildResult:
        assert self.ctx
        results = [
            SubtaskResult(
                subtask=v.name,
                status=v.status,
                pr_url=v.pr_url,
                rounds=v.round,
                scores=v.scores,
                notes=v.notes,
                ledger=v.ledger,
            )
            for v in self.s.subtasks.values()
        ]
        ok = all(r.status == "pr_created" for r in results)
        self._details()  # the Web UI's last word on the build: every subtask's final state
        total = self._ledger().total
        report: str | None = None
        try:
            report = await self._activity(
                names.BUILD_WRITE_REPORT,
                BuildReport(
                    path=f"{self.ctx.design_dir}/build-reviews/REPORT.md",
                    feature=self.ctx.feature,
                    result=ALL_SUBTASKS_PR_CREATED if ok else SUBTASKS_INCOMPLETE,
                    subtasks=results,
                    metrics=Metrics.of(self._ledger(), self._elapsed()),
                    stop_reason=self.s.stop_reason,
                ),
                result_type=str,
                summary="write build-reviews/REPORT.md",
                **options.quick(),
            )
        except StepAbandoned as abandoned:  # `stop` while the report could not be written
            self.s.stop_reason = self.s.stop_reason or abandoned.reason
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BuildResult(
            result=ALL_SUBTASKS_PR_CREATED if ok else SUBTASKS_INCOMPLETE,
            feature=self.ctx.feature,
            subtasks=results,
            report_path=report,
            tokens=total.total_tokens,
            cost_usd=total.cost_usd,
            max_running=self.s.max_running,
            stop_reason=self.s.stop_reason,
        )

    # ----------------------------------------------------------- messages

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

    # ------------------------------------------------------------ failures

    async def _activity(
        self,
        name: str,
        arg: Any,
        *,
        result_type: Any,
        summary: str,
        hold: bool = True,
        **opts: Any,
    ) -> Any:
        """A step of the build itself; one that fails for good holds for a person."""

        def call() -> Any:
            return workflow.execute_activity(
                name, arg, result_type=result_type, summary=summary, **opts
            )

        if not hold:
            return await call()
        return await self.holds.run(
            "build", summary, call, options=("retry", "stop"), notify=self._on_hold
        )

    async def _on_hold(self) -> None:
        self.changed = True
        self._details()

    def _failure_decisions(self) -> list[PendingDecision]:
        return build_state.failure_decisions(self.s, self.running)

    async def _hold_children_on_failure(self) -> None:
        """While a failure holds, no subtask starts a new agent (and no new subtask starts)."""
        want = self.holds.holding or bool(self._failure_decisions())
        if want != self.s.failure_hold:
            self.s.failure_hold = want
            await self._signal_children("failure_hold", want)

    # ------------------------------------------------------------ helpers

    async def _signal_children(self, signal: str, arg: object = None) -> None:
        for name in list(self.running):
            await self._tell(name, signal, arg)

    async def _tell(self, name: str, signal: str, arg: object = None) -> None:
        """Signal a running child from a signal handler, where an error would fail the build."""
        handle = self.running.get(name)
        if handle is None:
            return
        try:
            await (handle.signal(signal) if arg is None else handle.signal(signal, arg))
        except FailureError as err:
            # A child that reported its PR may close before the signal reaches it:
            # nothing is left to tell it.
            workflow.logger.info("%s to %s not delivered: %s", signal, name, err)

    def _ledger(self) -> Ledger:
        return build_state.ledger(self.s)

    def _elapsed(self) -> float:
        from datetime import datetime

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
