"""BuildWorkflow: schedule every subtask on the DAG, one child workflow each.

No batch barrier: a subtask starts as soon as all of its own dependencies
have pull requests, up to `max_concurrent_subtasks`. The tracker is rebuilt
from this workflow's state after every change, so it cannot drift from it.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ChildWorkflowError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from activities.cleanup import clean_worktrees
    from activities.design_files import write_build_report
    from activities.plan.activities import load_subtasks, plan_design
    from activities.tracker import write_tracker
    from contracts.agents import Usage
    from contracts.build import (
        PR_FINAL,
        SUBTASKS_INCOMPLETE,
        BuildInput,
        BuildReport,
        BuildResult,
        BuildState,
        BuildStatus,
        SubtaskProgress,
        SubtaskResult,
        SubtaskView,
    )
    from contracts.cleanup import CleanRequest, CleanResult
    from contracts.config import BuildChecks, OrchestratorConfig, ProjectContext
    from contracts.fork import ForkRequest
    from contracts.human import (
        FILE_CONFLICT_OPTIONS,
        FILE_CONFLICTS,
        RETRY_OR_STOP,
        BudgetInput,
        ChangeInput,
        DecideInput,
        PendingDecision,
        signal_input,
    )
    from contracts.integration import INTEGRATION, IntegrationOutcome
    from contracts.metrics import Ledger, Metrics, budget_summary
    from contracts.migration import MIGRATION_SIGNALS
    from contracts.plan import PlanRequest, PlanResult
    from contracts.subtask import SubtaskSpec
    from contracts.tracker import TrackerResult, TrackerRow, TrackerUpdate
    from workflows import build_child, build_state, options, project_steps
    from workflows.build_changes import SpecChanges
    from workflows.build_children import BuildChildren
    from workflows.build_fork import BuildFork
    from workflows.build_links import BuildLinks
    from workflows.build_patterns import BuildPatterns
    from workflows.build_replay import BuildReplay, note_finished
    from workflows.build_reset import BuildReset
    from workflows.build_state import DONE, stall_failure
    from workflows.commands import loop_commands
    from workflows.failures import StepAbandoned
    from workflows.inputs import (
        carried_state,
        checked_signal,
        unknown_names,
    )
    from workflows.loop_parts import loop_parts, loop_start
    from workflows.say import say_handler
    from workflows.subtask import SubtaskWorkflow
    from workflows.timestamps import elapsed


T = TypeVar("T")


@workflow.defn(name="BuildWorkflow")
class BuildWorkflow:
    SIGNALS = (
        "decide",
        "!change",
        "!change-approve",
        "!change-cancel",
        "!migration-approve",
        "!migration-cancel",
        "!reset",
        "!reset-confirm",
        "!replay",
        "!pattern-add",
        "!pattern-list",
        "!fork",
        "!merge",
        "raise_budget",
        "!pause",
        "!resume",
        "command",
        "say",
    )

    @workflow.init
    def __init__(self, *args: Any) -> None:
        self.s: BuildState = carried_state(args, BuildInput) or BuildState()
        self.ctx: ProjectContext | None = None
        self.specs: dict[str, SubtaskSpec] = {}
        self.changed = False
        self.last_rows: list[TrackerRow] | None = None
        self.inp: BuildInput | None = None
        self.base_branch = ""
        self.conflict_answer: str | None = None
        self.cancelled = False
        self.tracker_revision = 0
        # Its children hold it too (budget, failures); a change wakes its scheduling loop.
        self.control, self.gate_hints, self.attrs = loop_parts(
            self,
            "build",
            "build",
            self.SIGNALS,
            held_by=lambda: self.s,
            shown=self._changed,
            budget=lambda: budget_summary(self._ledger(), self.s.max_cost_usd, self.s.max_tokens),
        )
        self.holds = self.control.holds
        # Its children and its spec changes: composed, given what they share with the loop.
        self.children = BuildChildren(
            state=lambda: self.s,
            ctx=self._project,
            inp=lambda: self.inp,
            specs=lambda: self.specs,
            base_branch=lambda: self.base_branch,
            control=self.control,
            changed=self._changed,
            cancelled=lambda: self.cancelled,
        )
        links = BuildLinks(
            lambda: self.s, self._project, self.children, self.control, self._changed
        )
        self.reset, self.fork = BuildReset(links), BuildFork(links)
        self.replay = BuildReplay(self.reset)
        self.patterns = BuildPatterns(
            state=lambda: self.s,
            ctx=lambda: self.ctx,
            specs=lambda: self.specs,
            base_branch=lambda: self.base_branch,
            control=self.control,
        )
        self.changes = SpecChanges(
            state=lambda: self.s,
            ctx=self._project,
            specs=lambda: self.specs,
            reloaded=self._reloaded,
            children=self.children,
            control=self.control,
            agents=lambda: self._config().agents,
            shown=self._details,
            changed=self._changed,
        )

    @workflow.run
    async def run(self, *args: Any) -> BuildResult:
        self.children.main = asyncio.current_task()  # where a workflow cancel lands
        inp = self.inp = loop_start("BuildWorkflow", args, BuildInput, self.s)
        tasks: dict[str, asyncio.Task[None]] = {}
        self.children.begin(tasks)  # children an earlier run left running: followed on
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
            await self.children.stop(tasks)
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
            await self.children.stop(tasks)
            for view in self.s.subtasks.values():
                if view.status in ("pending", "stale"):
                    view.status, view.notes = "blocked", "not started: the build was stopped"
        if self.ctx is None:  # stopped before the project could even be read
            await self.control.drained()
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
        checks = BuildChecks(forge=inp.forge, base_branch=inp.base_branch)
        self.ctx = await project_steps.resolve(self.control.activity, inp.design_dir, checks)
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
        if cfg.integration.enabled:
            refused = build_state.add_integration(self.s)
            if refused:
                self.s.notice = refused
        await self._ask_about_conflicts(plan)

    async def _ask_about_conflicts(self, plan: PlanResult) -> None:
        """Seed 001: subtasks of one stage that change the same file are put to a person
        before anything starts (once per build: the choice is kept in its state)."""
        conflicts = plan.plan.conflicts
        if not conflicts or self.s.conflict_choice:
            return
        self.s.file_conflicts = conflicts
        self.conflict_answer = None
        self.s.conflict_decision = PendingDecision(
            scope=FILE_CONFLICTS,
            kind="conflict",
            prompt=build_state.conflicts_prompt(conflicts),
            options=list(FILE_CONFLICT_OPTIONS),
        )
        self._details()
        await workflow.wait_condition(lambda: self.conflict_answer is not None)
        self.s.conflict_choice, self.s.conflict_decision = self.conflict_answer, None
        if self.conflict_answer == "serialize":
            build_state.serialize(self.s, conflicts, plan.plan.order)
        elif self.conflict_answer == "stop":
            self.s.stopped = True
            self.s.stop_reason = "stopped by a person before it started: file conflicts"

    async def _schedule(self, inp: BuildInput, tasks: dict[str, asyncio.Task[None]]) -> None:
        """Start each subtask as soon as its dependencies have PRs, up to the limit."""
        assert self.ctx
        limit = self.children.limit()
        while True:
            # Cleared before looking at the state, so a change that lands while this
            # iteration awaits something wakes the next wait instead of being lost.
            self.changed = False
            await self.changes.handle()
            if self.s.reset is not None:
                await self.reset.handle()
            if self.s.replay is not None:
                await self.replay.handle()
            if self.s.forks:
                await self.fork.handle(tasks)
            build_state.integrate_again(self.s)
            build_state.block_orphans(self.s)
            if self.ctx.config.forge.merge == "auto":
                await self.children.merge_in_order()
            await self._write_tracker()
            await self._check_budget()
            await self.children.hold_on_failure()
            if self.s.stopped:
                return
            if self._continue_among_children():
                await self.control.continue_as_new(inp, self.s)
            for name in self._ready():
                if self._busy() >= limit or self.control.held or self.holds.holding:
                    break
                tasks[name] = asyncio.ensure_future(self.children.run(name))

                # Started, not "is running": a replay after a crash can start and
                # finish a child within one activation (or its start holds for a person).
                def started(n: str = name) -> bool:
                    return n in self.children.running or tasks[n].done() or self.holds.holding

                await workflow.wait_condition(started)
            self.s.max_running = max(self.s.max_running, len(self.children.running))
            # A change during this pass (a child that just ended) is looked at by the next
            # one first: until then the state is not settled, so it can show neither a
            # stall nor the end.
            if self.changed:
                continue
            found = self._stalled(tasks, bool(self.children.starting))
            if found:
                await self.holds.ask(stall_failure(found), RETRY_OR_STOP, self._on_hold)
                continue
            idle = not self.children.running and not self.children.starting and not self._ready()
            if idle and self.s.change is None:
                return
            self._details()
            await workflow.wait_condition(lambda: self.changed)

    # ------------------------------------------------------------ messages
    # A handler records what was asked (a decision, a change, a budget, a pause) or
    # refuses it visibly in `status`; the scheduling loop acts on it.

    subtask_progress = build_child.subtask_progress

    def _child_progress(self, progress: SubtaskProgress) -> None:
        if progress.attempt:  # a fork's attempt, not the subtask's own child
            self.fork.progress(progress)
            return
        self.children.progress(progress)

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
        await self.children.decide(decision, self._waiting_for)

    @checked_signal("!change", ChangeInput | str)
    def request_change(self, change: ChangeInput | str) -> None:
        self.changes.request(change)

    @checked_signal("!change-approve")
    def approve_change(self) -> None:
        self.changes.decide("!change-approve", "approved")

    @checked_signal("!change-cancel")
    def cancel_change(self) -> None:
        self.changes.decide("!change-cancel", "cancelled")

    @checked_signal("!migration-approve", str, optional=True)
    async def approve_migration(self, subtask: str | None = "") -> None:
        await self._answer_migration("!migration-approve", subtask or "")

    @checked_signal("!migration-cancel", str, optional=True)
    async def cancel_migration(self, subtask: str | None = "") -> None:
        await self._answer_migration("!migration-cancel", subtask or "")

    async def _answer_migration(self, name: str, subtask: str) -> None:
        """Seed 004: valid only while a Migration Risk Report waits; else refused visibly."""
        pending = sorted(
            n
            for n, v in self.s.subtasks.items()
            if v.decision is not None and v.decision.kind == "migration"
        )
        wanted = subtask.strip()
        if not pending or (wanted and wanted not in pending):
            self.control.refuse(
                f"{name}{' ' + wanted if wanted else ''}: no Migration Risk Report is pending"
                + (f" for {wanted} (pending: {', '.join(pending)})" if pending else "")
                + ". Fix: send it only while `status` shows a subtask waiting on its report "
                "(build-reviews/<subtask>/MIGRATION.md)"
            )
            return
        if not wanted and len(pending) > 1:
            self.control.refuse(
                f"{name}: reports are pending for {', '.join(pending)}. Fix: name one, "
                f"e.g. `{name} {pending[0]}`"
            )
            return
        choice = MIGRATION_SIGNALS[name]
        await self.children.decide(
            DecideInput(scope=wanted or pending[0], choice=choice), self._waiting_for
        )

    @checked_signal("!reset")
    def ask_reset(self) -> None:
        self.reset.ask()

    @checked_signal("!reset-confirm")
    def confirm_reset(self) -> None:
        self.reset.confirm()

    @checked_signal("!replay", str)
    def ask_replay(self, subtask: str) -> None:
        self.replay.ask(subtask)

    @checked_signal("!pattern-add", str)
    async def add_pattern(self, subtask: str) -> None:
        await self.patterns.add(subtask)

    @checked_signal("!pattern-list")
    async def list_patterns(self) -> None:
        await self.patterns.list()

    @checked_signal("!fork", ForkRequest | str)
    def fork_subtask(self, request: ForkRequest | str) -> None:
        self.fork.ask(request)

    @checked_signal("!merge", str)
    def merge_fork(self, winner: str) -> None:
        self.fork.merge(winner)

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
        await self.children.signal_all(SubtaskWorkflow.pause)

    @checked_signal("!resume")
    async def resume(self) -> None:
        self.control.resume()
        await self.children.signal_all(SubtaskWorkflow.resume)

    @checked_signal("command", str)
    async def command(self, line: str) -> None:
        await self.gate_hints.run(
            line,
            {
                **loop_commands(self.decide, self.pause, self.resume),
                "!change": self.request_change,
                "!change-approve": lambda _: self.approve_change(),
                "!change-cancel": lambda _: self.cancel_change(),
                "!migration-approve": self.approve_migration,
                "!migration-cancel": self.cancel_migration,
                "!reset": lambda _: self.ask_reset(),
                "!reset-confirm": lambda _: self.confirm_reset(),
                "!replay": self.ask_replay,
                "!pattern-add": self.add_pattern,
                "!pattern-list": lambda _: self.list_patterns(),
                "!fork": self.fork_subtask,
                "!merge": self.merge_fork,
            },
        )

    say = say_handler()

    @workflow.query(name="status")
    def status(self) -> BuildStatus:
        total = self._ledger().total
        waiting = self._waiting_for()
        return BuildStatus(
            feature=self.ctx.feature if self.ctx else "",
            phase=self._phase(),
            paused=self.s.paused,
            waiting_for=waiting,
            notice=self.s.notice,
            hint=self.gate_hints.standing(waiting),
            subtasks=list(self.s.subtasks.values()),
            running=sorted(self.children.running),
            cost_usd=total.cost_usd,
            tokens=total.total_tokens,
            budget_tokens=total.weighted_tokens,
            max_cost_usd=self.s.max_cost_usd,
            max_tokens=self.s.max_tokens,
            change=self.s.change,
            decisions=[*self._own_decisions(), *self.children.failure_decisions()],
            stop_reason=self.s.stop_reason,
            notes=self.inp.notes if self.inp else "",
            file_conflicts=self.s.file_conflicts,
            conflict_choice=self.s.conflict_choice,
            reset=self.s.reset,
            resets=self.s.resets,
            replay=self.s.replay,
            replays=self.s.replays,
            finished=self.s.finished,
            forks=list(self.s.forks.values()),
        )

    @workflow.query(name="metrics")
    def metrics(self) -> Metrics:
        return Metrics.of(self._ledger(), elapsed(self.s))

    def _ledger(self) -> Ledger:
        return build_state.ledger(self.s)

    def _own_decisions(self) -> list[PendingDecision]:
        """What the build itself asks: its failure holds, the file conflicts."""
        asked = self.s.conflict_decision
        return [*self.holds.decisions(), *([asked] if asked is not None else [])]

    def _waiting_for(self) -> str:
        return build_state.waiting_for(self.s, self.children.running, self._own_decisions())

    unknown_signal, unknown_update = unknown_names()

    def _details(self) -> None:
        feature = self.ctx.feature if self.ctx else ""
        who, waiting = build_state.waiting(self.s, self.children.running, self._own_decisions())
        workflow.set_current_details(build_state.details(self.s, feature, waiting))
        self.attrs.show(self._phase(), who, self._ledger().total.cost_usd)

    def _phase(self) -> str:
        return "paused" if self.s.paused else ("budget" if self.s.budget_hold else "building")

    # ----------------------------------------------------------- the steps

    async def _validate(self) -> PlanResult:
        """XML subtasks present, valid, consistent with the plan — else: run the design loop."""
        assert self.ctx
        specs: list[SubtaskSpec] = await self.control.activity(
            load_subtasks,
            self.ctx.design_dir,
            result_type=list[SubtaskSpec],
            summary=f"load subtasks {self.ctx.feature}",
            **options.quick(),
        )
        plan: PlanResult = await self.control.activity(
            plan_design,
            PlanRequest(design_dir=self.ctx.design_dir),
            result_type=PlanResult,
            summary=f"plan {self.ctx.feature}",
            **options.quick(),
        )
        self.specs = {s.id: s for s in specs}
        return plan

    def _continue_among_children(self) -> bool:
        """A long build continues as new with its children running (they outlive the run;
        the next one follows each on): the history stays short while a PR waits for days,
        and no start waits for a following child to end."""
        return (
            workflow.info().is_continue_as_new_suggested()
            and bool(self.children.running or self._ready())
            and self.children.may_continue_as_new()
            and not self.fork.attempts_running()
            and not self.holds.holding
        )

    def _busy(self) -> int:
        """Children holding a slot: one only following its PR holds none; a fork's
        attempts one each (workflows/build_fork.py)."""
        return self.fork.busy()

    def _ready(self) -> list[str]:
        return build_state.ready(self.s, {*self.children.running, *self.children.starting})

    def _stalled(self, tasks: dict[str, asyncio.Task[None]], held: bool) -> str:
        """Work left, nothing running and nothing awaited: what was found ("" when all is well)."""
        held = held or self.control.held or self.holds.holding
        found = build_state.stalled(self.s, self.children.running, held)
        if not found:
            return ""
        failed = [(n, t.exception()) for n, t in tasks.items() if t.done() and not t.cancelled()]
        return found + "".join(f"; starting {n} raised {e!r}" for n, e in failed if e)

    async def _write_tracker(self, force: bool = False, hold: bool = True) -> None:
        assert self.ctx
        rows = build_state.tracker_rows(self.s)
        if rows == self.last_rows and not force:
            return
        self.last_rows = rows
        # A write cut off by a cancel may still land after the cleanup's: ordered by revision.
        self.tracker_revision += 1
        await self.control.activity(
            write_tracker,
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
            self.s.max_tokens is not None and self._budget_tokens(total) >= self.s.max_tokens
        )
        if not over or self.s.budget_hold:
            return

        async def tell(hold: bool) -> None:
            if hold:
                self._details()
            await self.children.signal_all(SubtaskWorkflow.set_budget_hold, hold)

        def answered(choice: str) -> None:
            if choice == "stop":
                self.s.stopped = True

        await self.control.budget_gate(tell, answered)

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
                follow_rounds=v.follow_rounds,
            )
            for v in build_state.subtask_views(self.s)
        ]
        outcome = build_state.build_result(results, build_state.integration_view(self.s))
        integration = build_state.integration_outcome(self.s, self.ctx.feature)
        cleanup = await self._clean_worktrees(integration)
        self._details()  # the Web UI's last word on the build: every subtask's final state
        total = self._ledger().total
        report: str | None = None
        try:
            report = await self.control.activity(
                write_build_report,
                BuildReport(
                    path=f"{self.ctx.design_dir}/build-reviews/REPORT.md",
                    feature=self.ctx.feature,
                    result=outcome,
                    subtasks=results,
                    metrics=Metrics.of(self._ledger(), elapsed(self.s)),
                    stop_reason=self.s.stop_reason,
                    integration=integration,
                    notes=self.inp.notes if self.inp else "",
                    cleanup=cleanup,
                ),
                result_type=str,
                summary="write build-reviews/REPORT.md",
                **options.quick(),
            )
        except StepAbandoned as abandoned:  # `stop` while the report could not be written
            self.s.stop_reason = self.s.stop_reason or abandoned.reason
        # Kept after the end (a worker answers for a closed run): the result, PRs, report.
        workflow.set_current_details(
            build_state.final_details(self.s, self.ctx.feature, outcome, report)
        )
        self.attrs.show("ended", "nothing", total.cost_usd)
        await self.control.drained()
        return BuildResult(
            result=outcome,
            feature=self.ctx.feature,
            subtasks=results,
            report_path=report,
            tokens=total.total_tokens,
            cost_usd=total.cost_usd,
            max_running=self.s.max_running,
            stop_reason=self.s.stop_reason,
            integration=integration,
            cleanup=cleanup,
        )

    async def _clean_worktrees(self, integration: IntegrationOutcome | None) -> CleanResult | None:
        """Remove the worktrees nothing more will be done in: every one once integration
        passed (without integration: those whose subtask has its PR). The activity keeps,
        naming it, any with uncommitted or unpushed work; a later fix re-creates one from
        its branch. It only tidies up, so its failure is logged, never held."""
        assert self.ctx
        cfg = self.ctx.config
        if cfg.build.keep_worktrees or self.s.stopped:
            return None
        views = build_state.subtask_views(self.s)
        if integration is not None and integration.status != "passed":
            return None
        names = [v.name for v in views if v.status in PR_FINAL]
        if not names:
            return None
        try:
            return await self.control.activity(
                clean_worktrees,
                CleanRequest(
                    repo_root=self.ctx.repo_root,
                    names=[*names, *([INTEGRATION] if integration is not None else [])],
                    remote=cfg.forge.remote,
                    token_hosts=cfg.forge.git_token_hosts(),
                ),
                result_type=CleanResult,
                summary=f"remove the finished worktrees of {self.ctx.feature}",
                hold=False,
                **options.network(),
            )
        except ActivityError as err:
            if is_cancelled_exception(err):
                raise
            workflow.logger.warning("worktrees not removed: %s", err.cause)
            return None

    # ------------------------------------------------------------ failures

    def _budget_tokens(self, total: Usage) -> int:
        """Cache reads and writes weighed by their price, as every token cap counts them."""
        return total.weighted_tokens

    def _config(self) -> OrchestratorConfig:
        return self.ctx.config if self.ctx else OrchestratorConfig()

    def _project(self) -> ProjectContext:
        """The project, once the run has read it (every step runs after that)."""
        assert self.ctx is not None
        return self.ctx

    def _reloaded(self, specs: dict[str, SubtaskSpec]) -> None:
        self.specs = specs

    def _changed(self) -> None:
        self.changed = True
        note_finished(self.s)  # the order of the PRs, as it happens: !replay's checkpoints

    async def _on_hold(self) -> None:
        self.changed = True
        self._details()

    # ------------------------------------------------------------ helpers
